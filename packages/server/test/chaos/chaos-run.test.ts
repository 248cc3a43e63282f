/**
 * Real-process chaos in CI (issue 16 part 2): three short runs of bench/chaos/run.ts side by
 * side: SQLite (one server process, killed and restarted), Postgres with two server
 * processes and Postgres with three, each behind the TCP proxy, with client processes on file
 * persistence, under kill -9, SIGSTOP/SIGCONT and cut/blackholed/delayed connections. Each run
 * must inject faults, get writes acked, and pass the history checker with no stall. The long
 * mode is `npm run chaos -- --runs 50`.
 */
import { describe, expect, it } from 'vitest';
import { type ChaosOptions, type ChaosResult, runChaos } from '../../../../bench/chaos/run.ts';
import { pgUnreachable } from '../helpers/pg-url.js';

const SMALL = { seconds: 8, clients: 3, rate: 10, drainTimeoutMs: 60_000 } as const;

function expectClean(r: ChaosResult) {
  const faults = Object.values(r.faults).reduce((a, b) => a + b, 0);
  console.log(
    `chaos ${r.storage} servers=${r.servers} seed=${r.seed}: writes ${r.ops.writes}, acks ${r.ops.acks}, reads ${r.ops.reads}, faults ${JSON.stringify(r.faults)}, ${Math.round(r.wallMs / 1000)} s${r.ok ? '' : `, history in ${r.dir}`}`,
  );
  expect({ violations: r.violations, stalls: r.stalls }).toEqual({ violations: [], stalls: [] });
  expect(faults).toBeGreaterThan(0);
  expect(r.ops.writes).toBeGreaterThan(0);
  expect(r.ops.acks).toBeGreaterThan(0);
  expect(r.ops.fails).toBe(0);
}

describe('real-process chaos', () => {
  it('three short runs (SQLite; Postgres with 2 and 3 servers) pass the history checker', async () => {
    const seed = 1 + (Date.now() % 100_000);
    const pgDown = await pgUnreachable('the Postgres chaos runs');
    const runs: ChaosOptions[] = [{ ...SMALL, seed, storage: 'sqlite' }];
    if (!pgDown) {
      runs.push({ ...SMALL, seed: seed + 1, storage: 'postgres', servers: 2 });
      runs.push({ ...SMALL, seed: seed + 2, storage: 'postgres', servers: 3 });
    }
    const results = await Promise.all(runs.map((o) => runChaos(o)));
    for (const r of results) expectClean(r);
  }, 180_000);
});
