/** `omnisync serve --rules ./rules.js`: the real CLI process enforces the module's rules; a module without rules exits 2. */
import { describe, expect, it } from 'vitest';
import { startCli } from './helpers/cli-process.js';
import { signToken } from './helpers/jwt.js';
import { CellWriter, HttpClient, LiveClient, mutation } from './helpers/protocol-client.js';
import { tempDir } from './helpers/servers.js';

const SECRET = 'rules-cli-test-secret-0123456789abcdef';
const APP = 'cli';

describe('omnisync serve --rules', () => {
  it('loads defineRules(...) from the module and enforces it on push and rooms', async () => {
    const dir = tempDir('omnisync-cli-rules-');
    const cli = await startCli([
      '--data',
      dir.dir,
      '--auth-secret',
      SECRET,
      '--rules',
      'packages/server/test/fixtures/rules-todos.ts',
    ]);
    try {
      expect(cli.output()).toContain('permission rules loaded');
      const token = await signToken(SECRET, { app: APP, sub: 'ann' });
      const http = new HttpClient(cli.url, APP, token);
      const w = new CellWriter('cli_w');
      const res = await http.push('c1', [
        mutation(w.doc('todos', 't1', { owner: 'ann' })),
        mutation(w.doc('todos', 't2', { owner: 'ben' })),
        mutation(w.doc('other', 'o1', { owner: 'ann' })),
      ]);
      expect(res.results.map((r) => r.status === 'applied' || r.error.code)).toEqual([
        true,
        'permission_denied',
        'permission_denied',
      ]);
      const c = await LiveClient.open(cli.url, APP);
      await c.hello({ token });
      c.send({ type: 'join', room: 'backstage' });
      const refused = await c.next((m) => m.type === 'error');
      expect(refused.error.code).toBe('permission_denied');
      c.send({ type: 'join', room: 'lobby' });
      await c.next((m) => m.type === 'room' && m.room === 'lobby');
      c.close();
    } finally {
      cli.child.kill('SIGTERM');
      await cli.exited;
      dir.remove();
    }
  });

  it('exits 2 naming the module when it exports no defineRules(...) result', async () => {
    await expect(startCli(['--rules', 'packages/server/test/fixtures/rules-not-rules.ts'])).rejects.toThrow(
      /CLI exited \(2\)[\s\S]*rules-not-rules\.ts exports no rules: export default defineRules/,
    );
  });
});
