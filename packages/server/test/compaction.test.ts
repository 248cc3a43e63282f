/**
 * Automatic compaction (seed 004 GcManager) on a real server: each open app's change log is
 * cut to its newest `keepChanges` entries on a timer; pulls from older cursors get `reset`,
 * newer ones are served; tombstones stay. Bad options are refused by createServer and by
 * the CLI (a real `omnisync serve` process), which exits 2 saying what is wrong.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Cell } from '@omnisync/core';
import { createServer } from '@omnisync/server';
import { CellWriter, HttpClient, mutation } from './helpers/protocol-client.js';
import { startServer, type TestServer } from './helpers/servers.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('automatic compaction', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ compaction: { keepChanges: 3, everyMs: 20 } });
  });
  afterAll(() => t.close());

  it('keeps the newest keepChanges change-log entries of each open app; older cursors reset', async () => {
    const api = new HttpClient(t.url, 'compact');
    const w = new CellWriter('compact_1');
    for (let i = 0; i < 8; i++) await api.push('c', [mutation(w.doc('t', `d${i}`, { n: i }))]);
    const del = w.remove('t', 'd0');
    await api.push('c', [mutation(del)]);
    const head = await t.server.engine.head('compact');
    expect(head).toBe(9);
    // Compacted to the newest 3 entries (a tick may first have cut at a lower head): a cursor
    // below head - 3 resets, one at it is served.
    await until(async () => 'reset' in (await api.pull(head - 4)), 'horizon at head - 3');
    expect(await api.pull(0)).toEqual({ reset: true, cursor: head });
    const served = await api.pull(head - 3);
    expect('changes' in served && served.changes.map((c: Cell) => c.id)).toEqual([
      'd6',
      'd6',
      'd7',
      'd7',
      'd0',
    ]);
    // Tombstones stay: d0 is still deleted, and a write to it still loses.
    await api.push('late', [mutation(new CellWriter('late_1').update('t', 'd0', { n: 99 }))]);
    const snap = (await api.snapshot()).cells;
    expect(snap.filter((c) => c.id === 'd0')).toEqual([]);
    expect(new Set(snap.map((c) => c.id))).toEqual(new Set(['d1', 'd2', 'd3', 'd4', 'd5', 'd6', 'd7']));
  });
});

describe('compaction options', () => {
  it.each([
    [{ keepChanges: 0 }, /keepChanges must be a positive integer/],
    [{ keepChanges: 2.5 }, /keepChanges must be a positive integer/],
    [{ keepChanges: 10, everyMs: 1 }, /everyMs must be an integer of at least 10/],
    ['often' as never, /compaction must be/],
  ])('createServer refuses %j with invalid_input', (compaction, message) => {
    expect(() => createServer({ compaction, logLevel: 'silent' })).toThrow(
      expect.objectContaining({ code: 'invalid_input', message: expect.stringMatching(message) }),
    );
  });

  it('the CLI refuses bad compaction flags with exit code 2 and a message', () => {
    const run = (...flags: string[]) =>
      spawnSync(
        process.execPath,
        ['--import', 'tsx', 'packages/server/src/cli.ts', 'serve', '--port', '0', ...flags],
        {
          cwd: ROOT,
          encoding: 'utf8',
          timeout: 30_000,
        },
      );
    const zero = run('--compact-keep', '0');
    expect(zero.status).toBe(2);
    expect(zero.stderr).toMatch(/keepChanges must be a positive integer/);
    const alone = run('--compact-every-ms', '100');
    expect(alone.status).toBe(2);
    expect(alone.stderr).toMatch(/needs --compact-keep/);
  });
});
