/**
 * Seeded deterministic simulation (seed 003): client and server code in one process over an
 * in-memory network that drops, duplicates, delays, reorders and partitions (both ways:
 * requests lost before the server, answers lost after it committed), with client crashes
 * (a new client on the same persistence) and server restarts (a new handler on the same
 * SQLite file). Random inserts, updates of the same and of different fields, and deletes on
 * three clients. Then the network heals, everyone syncs to quiescence, and:
 *
 * - every replica's visible documents equal the server's;
 * - no acknowledged write is lost (each `completed` transaction's cells are on the server,
 *   unless a later write to the same field or a delete of the document superseded them);
 * - nothing is applied twice (per (clientId, mutationId) and per exact cell, over every
 *   committed server write);
 * - no deleted document comes back anywhere.
 *
 * A third of the seeds compact the server's change log now and then, up to its head (the
 * default gc: tombstones stay): clients behind it get `reset`, snapshot, and must forget
 * what vanished (seed 002: a snapshot replaces the base). Nothing holds the horizon back:
 * clients behind it keep writing, offline edits of documents deleted meanwhile and inserts
 * reusing a deleted id lose to the delete (the server answers them with the tombstone).
 * Deletions are checked against the ledger of committed writes.
 *
 * OMNISYNC_SIM_SEEDS runs that many seeds (default 200); OMNISYNC_SIM_SEED=<n> replays one
 * (OMNISYNC_SIM_CLIENTS sets the client count, OMNISYNC_SIM_TRACE traces the network). Every
 * seed of the regression corpus (regressions.json, written by `npm run sim` when a seed
 * fails) is replayed too. The seed itself runs in sim-run.ts.
 *
 * The second test replays a few seeds on the local Postgres with two server instances on one
 * schema (clients split between them, each instance hearing the other's commits through
 * LISTEN/NOTIFY), plus the corpus entries found on Postgres; it skips, saying why, only when
 * no Postgres answers. (On Postgres a seed is not bit-exact: notifications take real time.)
 */
import { expect, test } from 'vitest';
import { pgUnreachable } from '../../../server/test/helpers/pg-url.js';
import { readCorpus } from './corpus.js';
import { COUNT_KEYS, runSeed, type SeedCounts } from './sim-run.js';

const ONE = process.env.OMNISYNC_SIM_SEED;
const CORPUS = ONE !== undefined ? [] : readCorpus();
const SEEDS = ONE !== undefined ? [Number(ONE)] : range(Number(process.env.OMNISYNC_SIM_SEEDS ?? 200));
const VERBOSE = ONE !== undefined;
const CLIENTS = Number(process.env.OMNISYNC_SIM_CLIENTS ?? 3);
const TRACE = process.env.OMNISYNC_SIM_TRACE !== undefined;

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i + 1);
}

test(
  `simulation: ${SEEDS.length} seeds and ${CORPUS.length} regression seeds converge with nothing lost, doubled or resurrected`,
  { timeout: 600_000 },
  async () => {
    const totals = Object.fromEntries(COUNT_KEYS.map((k) => [k, 0])) as SeedCounts;
    const failures: string[] = [];
    const runs = [
      ...SEEDS.map((seed) => ({ seed, clients: CLIENTS })),
      ...CORPUS.filter((e) => (e.storage ?? 'sqlite') === 'sqlite').map((e) => ({
        seed: e.seed,
        clients: e.clients,
      })),
    ];
    for (const { seed, clients } of runs) {
      try {
        const t = await runSeed(seed, { clients, verbose: VERBOSE, trace: TRACE });
        for (const k of COUNT_KEYS) totals[k] += t[k];
      } catch (err) {
        if (VERBOSE) throw err;
        // Keep going: every failing seed is listed, each with its replay command.
        failures.push(
          `seed ${seed}, ${clients} clients (replay: npm run sim -- --seed ${seed} --clients ${clients}): ${(err as Error).message.split('\n')[0]}`,
        );
      }
    }
    expect(failures, `${failures.length} of ${runs.length} seeds failed`).toEqual([]);
    if (VERBOSE) console.log(totals);
    // The runs must actually have been hostile, or they prove nothing.
    if (SEEDS.length >= 20) {
      expect(totals.dropped).toBeGreaterThan(0);
      expect(totals.duplicated).toBeGreaterThan(0);
      expect(totals.partitions).toBeGreaterThan(0);
      expect(totals.clientRestarts).toBeGreaterThan(0);
      expect(totals.serverRestarts).toBeGreaterThan(0);
      expect(totals.acked).toBeGreaterThan(SEEDS.length);
      expect(totals.liveChanges).toBeGreaterThan(0);
      expect(totals.socketResets).toBeGreaterThan(0);
      expect(totals.compactions).toBeGreaterThan(0);
      expect(totals.snapshots).toBeGreaterThan(0); // clients went through reset → snapshot
      expect(totals.reannounced).toBeGreaterThan(0); // writes lost to a delete were answered
      expect(totals.crashedAfterCommit).toBeGreaterThan(0); // server died between commit and answer
      expect(totals.skewedClients).toBeGreaterThan(0); // client clocks off within the drift limit
    }
  },
);

const PG_SEEDS = Number(process.env.OMNISYNC_SIM_PG_SEEDS ?? 6);
const pgDown = ONE !== undefined ? 'one seed replayed' : await pgUnreachable('simulation on Postgres');

test.skipIf(pgDown !== undefined)(
  `simulation on Postgres with two servers: ${PG_SEEDS} seeds and the Postgres regression seeds`,
  { timeout: 600_000 },
  async () => {
    const runs = [
      ...range(PG_SEEDS).map((seed) => ({ seed, clients: 3 + (seed % 4), servers: 2 as const })),
      ...readCorpus()
        .filter((e) => e.storage === 'postgres')
        .map((e) => ({ seed: e.seed, clients: e.clients, servers: e.servers ?? 1 })),
    ];
    const failures: string[] = [];
    let crossed = 0;
    for (const { seed, clients, servers } of runs) {
      try {
        const t = await runSeed(seed, { clients, storage: 'postgres', servers });
        crossed += t.acked;
      } catch (err) {
        failures.push(
          `seed ${seed}, ${clients} clients, ${servers} servers (replay: npm run sim -- --seed ${seed} --clients ${clients} --storage postgres --servers ${servers}): ${(err as Error).message.split('\n')[0]}`,
        );
      }
    }
    expect(failures, `${failures.length} of ${runs.length} seeds failed`).toEqual([]);
    expect(crossed).toBeGreaterThan(runs.length);
  },
);
