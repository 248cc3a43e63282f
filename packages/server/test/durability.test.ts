/**
 * kill -9 during a stream of pushes to the real CLI server, then a restart on the same data
 * directory: every acknowledged mutation is there, and retrying every mutation (acked and
 * not) with the same ids applies none of them twice. The `bump` mutator increments a
 * counter, so a double application would show.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { HttpClient } from './helpers/protocol-client.js';
import { startCli } from './helpers/cli-process.js';
import { tempDir } from './helpers/servers.js';
import { Replica, type Cell } from '@omnisync/core';

const data = tempDir('omnisync-kill-');
afterAll(() => data.remove());

const MUTATORS = 'packages/server/test/fixtures/counter-mutators.ts';
const APP = 'durable';
const BATCH = 5;
const PUSHERS = 3;

const state = async (http: HttpClient) => {
  const r = new Replica();
  r.apply((await http.snapshot()).cells.map((c) => ({ ...c, value: c.value }) as Cell));
  return { n: (r.get('counters', 'main')?.n as number | undefined) ?? 0, logged: new Set(r.ids('log')) };
};

describe('SIGKILL durability (real CLI process, default durability)', () => {
  it('loses no acknowledged write and applies none twice after kill -9 mid-stream', async () => {
    const first = await startCli(['--data', data.dir, '--mutators', MUTATORS]);
    const http = new HttpClient(first.url, APP);
    const sent: string[][] = [];
    const acked = new Set<string>();
    let seq = 0;
    let stop = false;
    const failures: string[] = [];
    const pusher = async (p: number) => {
      while (!stop) {
        const ids = Array.from({ length: BATCH }, () => `p${p}-${seq++}`);
        sent.push(ids);
        let res: { results: any[] };
        try {
          res = await http.push(
            `client-${p}`,
            ids.map((id) => ({ id, name: 'bump', args: { id }, changes: [] })),
          );
        } catch {
          return; // the server died under us
        }
        if (!res.results.every((r) => r.status === 'applied')) failures.push(JSON.stringify(res.results));
        for (const id of ids) acked.add(id);
      }
    };
    const running = Array.from({ length: PUSHERS }, (_, p) => pusher(p));
    // let a few hundred mutations through, then kill while requests are in flight
    while (acked.size < 300) await new Promise((r) => setTimeout(r, 5));
    first.child.kill('SIGKILL');
    stop = true;
    expect((await first.exited).signal).toBe('SIGKILL');
    await Promise.all(running);
    expect(failures).toEqual([]);
    const allIds = sent.flat();
    expect(allIds.length).toBeGreaterThan(acked.size); // some were in flight at the kill

    const second = await startCli(['--data', data.dir, '--mutators', MUTATORS]);
    try {
      const again = new HttpClient(second.url, APP);
      const afterRestart = await state(again);
      for (const id of acked) expect(afterRestart.logged.has(id)).toBe(true);
      expect(afterRestart.n).toBe(afterRestart.logged.size);

      // retry the acknowledged ones: stored results, nothing applied
      const head = await again.pull(0);
      for (const [p, ids] of sent.map((ids) => [ids[0]!.split('-')[0]!.slice(1), ids] as const)) {
        const mine = ids.filter((id) => acked.has(id));
        if (mine.length === 0) continue;
        const res = await again.push(
          `client-${p}`,
          mine.map((id) => ({ id, name: 'bump', args: { id }, changes: [] })),
        );
        expect(res.results.every((r: any) => r.status === 'applied')).toBe(true);
      }
      expect((await again.pull(0)).cursor).toBe(head.cursor);
      expect((await state(again)).n).toBe(afterRestart.n);

      // retry everything, acked or not: each mutation ends applied exactly once
      for (const ids of sent) {
        const p = ids[0]!.split('-')[0]!.slice(1);
        await again.push(
          `client-${p}`,
          ids.map((id) => ({ id, name: 'bump', args: { id }, changes: [] })),
        );
      }
      const final = await state(again);
      expect(final.logged.size).toBe(allIds.length);
      expect(final.n).toBe(allIds.length);
    } finally {
      second.child.kill('SIGTERM');
      const exit = await second.exited;
      expect(exit.code).toBe(0); // graceful shutdown on SIGTERM
    }
  });
});
