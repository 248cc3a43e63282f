import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { providerConformanceSuite } from '@omnisync/client/testing';
import type { WebSocketConstructor } from '@omnisync/client';
import { HttpSyncProvider } from '../http-sync-provider.js';
import { startProviderServer, type OpRule } from '../server.js';

const dir = mkdtempSync(join(tmpdir(), 'omnisync-provider-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const rule: OpRule = (op) =>
  op.payload?.mustReject === true ? 'mustReject is refused by this server' : undefined;

// The worked provider: a real HTTP + WebSocket server on a real SQLite file, per case.
providerConformanceSuite(
  'worked provider (HTTP + WebSocket + SQLite)',
  async () => {
    const server = await startProviderServer({ file: join(dir, `case-${++n}.db`), rule });
    return {
      provider: () =>
        new HttpSyncProvider({ url: server.url, WebSocket: WebSocket as unknown as WebSocketConstructor }),
      cursorOf: (scope, device) =>
        (
          server.db
            .prepare('SELECT version FROM cursors WHERE scope = ? AND device_id = ?')
            .get(scope.workspaceId, device) as { version: number } | undefined
        )?.version,
      close: () => server.close(),
    };
  },
  { describe, it },
);

describe('worked provider server: bad input', () => {
  const post = (url: string, path: string, body: string) =>
    fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

  it('refuses malformed requests with a typed code and applies nothing', async () => {
    const server = await startProviderServer({ file: join(dir, 'bad.db') });
    const count = () => (server.db.prepare('SELECT count(*) AS n FROM changes').get() as { n: number }).n;
    const goodOp = {
      id: 'o1',
      tableName: 'items',
      pk: 'a',
      op: 'put',
      payload: { id: 'a' },
      stamp: { hlc: 'bad-hlc', deviceId: 'd', opId: 'o1' },
      createdAt: 0,
    };
    const cases: [string, string, string][] = [
      ['/push', 'not json', 'invalid_input'],
      ['/push', '{}', 'invalid_input'],
      [
        '/push',
        JSON.stringify({ scope: { workspaceId: 'w' }, deviceId: 'd', ops: [goodOp] }),
        'invalid_input',
      ],
      [
        '/pull',
        JSON.stringify({ scope: { workspaceId: 'w' }, cursor: -1, limit: 1, tables: [] }),
        'invalid_input',
      ],
      ['/nope', '{}', 'not_found'],
    ];
    for (const [path, body, code] of cases) {
      const res = await post(server.url, path, body);
      const json = (await res.json()) as { error: { code: string; message: string } };
      expect(res.status, `${path} ${body}`).toBe(code === 'not_found' ? 404 : 400);
      expect(json.error.code).toBe(code);
      expect(json.error.message.length).toBeGreaterThan(10);
    }
    expect(count()).toBe(0);
    await server.close();
  });

  it('a server error reaches the provider as the typed error', async () => {
    const server = await startProviderServer({ file: join(dir, 'typed.db') });
    const p = new HttpSyncProvider({ url: server.url });
    await expect(
      p.pull({ scope: { workspaceId: 'w' }, cursor: 0, limit: 0, tables: ['items'] }),
    ).rejects.toMatchObject({ name: 'ValidationError', code: 'invalid_input' });
    await server.close();
    await expect(
      p.pull({ scope: { workspaceId: 'w' }, cursor: 0, limit: 1, tables: ['items'] }),
    ).rejects.toMatchObject({ code: 'network' });
  });
});
