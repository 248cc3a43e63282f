/**
 * One seed of the deterministic simulation (see simulation.test.ts for what it does and
 * checks), shared by the test (CI: 200 seeds and the regression corpus) and `npm run sim`
 * (any number of seeds, 3 to 10 clients, a progress bar, failing seeds written to the corpus).
 * Checks throw plain Errors, so it runs outside vitest too.
 */
import { type Cell, compareHlc, HLC_MAX_DRIFT_MS, Replica } from '@omnisync/core';
import { HEALED, type NetworkFaults } from './sim-network.js';
import { COUNTER_IDS, COUNTERS } from './sim-mutators.js';
import { seededRandom } from '@omnisync/core';
import { APP, COLLECTION, FIELDS, IDS, type SimClient, SimWorld } from './sim-world.js';

function faultsFor(r: () => number): NetworkFaults {
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(r() * xs.length)]!;
  return {
    dropRequest: pick([0, 0.05, 0.15, 0.3]),
    dropResponse: pick([0, 0.05, 0.15, 0.3]),
    duplicate: pick([0, 0.05, 0.2]),
    maxDelayMs: pick([5, 60, 400]),
  };
}

/** Counts of what one seed did (summed over seeds, they show the runs were hostile). */
export type SeedCounts = Record<(typeof COUNT_KEYS)[number], number>;
/** The keys of {@link SeedCounts}. */
export const COUNT_KEYS = [
  'ops',
  'acked',
  'clientRestarts',
  'serverRestarts',
  'dropped',
  'duplicated',
  'partitions',
  'liveChanges',
  'socketResets',
  'compactions',
  'snapshots',
  'reannounced',
  'crashedAfterCommit',
  'skewedClients',
  'namedMutations',
] as const;

/** How to run one seed. */
export interface SeedOptions {
  /** Number of clients (default 3). */
  readonly clients?: number;
  /** Log every step (for replaying one seed). */
  readonly verbose?: boolean;
  /** With verbose: trace every request and socket frame too. */
  readonly trace?: boolean;
  /** The server's storage (default sqlite). */
  readonly storage?: 'sqlite' | 'postgres';
  /** Server instances on one storage (2: postgres only; clients split between them). */
  readonly servers?: 1 | 2;
}

/** Fail a check of the simulation (a plain Error: the runner lists the seed and its replay command). */
function ensure(cond: boolean, message: string): asserts cond {
  if (!cond) throw new Error(message);
}

/** JSON with sorted keys: documents compare equal whatever their key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v)
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v);
}

/**
 * Run one seed: random writes, faults, crashes and compactions, then heal, quiesce and check
 * every invariant. Throws on the first violation; returns what the seed did.
 */
export async function runSeed(seed: number, options: SeedOptions = {}): Promise<SeedCounts> {
  const VERBOSE = options.verbose ?? false;
  const n = options.clients ?? 3;
  // Half the seeds add the live WebSocket (sockets break on partitions and restarts); a
  // third compact the server now and then (clients behind the horizon reset and snapshot).
  // A quarter skew the client clocks, each up to ± 45 % of the drift limit (two clients then
  // stay within the limit of each other); a fifth crash the server now and then between a
  // push's commit and its answer. (Seeded apart from the other faults: older seeds replay.)
  const world = new SimWorld({
    seed,
    faults: HEALED,
    live: seed % 2 === 0,
    gc: seed % 3 === 1,
    clients: n,
    storage: options.storage ?? 'sqlite',
    servers: options.servers ?? 1,
    skewMs: seed % 4 === 3 ? Math.floor(HLC_MAX_DRIFT_MS * 0.45) : 0,
  });
  if (seed % 5 === 2) world.network.crashAfterPush = 0.05;
  const r = world.random;
  world.network.faults = faultsFor(r);
  const log = (...a: unknown[]) =>
    VERBOSE && console.log(`[${world.scheduler.now() - 1_700_000_000_000}ms]`, ...a);
  if (VERBOSE && options.trace && world.sockets)
    world.sockets.trace = (client, dir, text) => log(`  ws c${client} ${dir} ${text.slice(0, 3000)}`);
  if (VERBOSE && options.trace)
    world.network.trace = (client, url, body, status, answer, delivered) =>
      log(
        `  net c${client} ${url.split('/').pop()} ${body.slice(0, 3000)} → ${status} ${answer.slice(0, 6000)}${delivered ? '' : ' (LOST)'}`,
      );
  const counts = Object.fromEntries(COUNT_KEYS.map((k) => [k, 0])) as SeedCounts;
  const longPartitions: { client: number; incarnation: number; until: number }[] = [];
  const partitionEnd = Array.from({ length: n }, () => 0);
  try {
    await world.run(50);
    const rounds = 30 + Math.floor(r() * 40);
    // Named mutations, drawn apart from the other choices (older seeds replay as they did).
    const rm = seededRandom(seed ^ 0xb0b);
    for (let round = 0; round < rounds; round++) {
      if (rm() < 0.25) {
        const c = Math.floor(rm() * n);
        const id = COUNTER_IDS[Math.floor(rm() * COUNTER_IDS.length)]!;
        world.bump(c, id);
        counts.namedMutations++;
        log(`client ${c} bump ${id}`);
      }
      const roll = r();
      const c = Math.floor(r() * n);
      const who = world.clients[c]!;
      if (roll < 0.6) {
        if (op(world, who, r, log)) counts.ops++;
      } else if (roll < 0.72) {
        if (!world.network.partitioned[c]) {
          // Mostly short partitions; some past the 1-minute mark (seed 003's partition).
          // (A long one leaves 5 s for the client to notice: a poll plus a request timeout.)
          const ms = r() < 0.2 ? 65_000 + Math.floor(r() * 20_000) : 200 + Math.floor(r() * 8000);
          world.network.partitioned[c] = true;
          partitionEnd[c] = world.scheduler.now() + ms;
          if (ms > 61_000)
            longPartitions.push({ client: c, incarnation: who.incarnation, until: partitionEnd[c]! });
          counts.partitions++;
          log(`partition client ${c} for ${ms}ms`);
        }
      } else if (roll < 0.77) {
        world.restartClient(c);
        counts.clientRestarts++;
        log(`restart client ${c}`);
      } else if (roll < 0.8) {
        world.network.serverUp = false;
        await world.server.restart(round % world.server.servers.length);
        await world.run(Math.floor(r() * 1500));
        world.network.serverUp = true;
        counts.serverRestarts++;
        log('server restarted');
      } else if (world.gc && roll < 0.86) {
        const head = await world.server.head(APP);
        const upTo = head + 1; // everything so far: any horizon is safe while tombstones stay
        if (upTo > world.server.horizon + 1) {
          await world.server.gc(APP, upTo);
          log(`compacted below ${upTo} (horizon ${world.server.horizon})`);
        }
      }
      await world.run(Math.floor(r() * 1200));
      for (let i = 0; i < n; i++)
        if (world.network.partitioned[i] && world.scheduler.now() >= partitionEnd[i]!) {
          world.network.partitioned[i] = false;
          log(`heal client ${i}`);
        }
    }

    // A client cut off for over a minute must have said so in its status (seed 003).
    for (const p of longPartitions) {
      while (world.scheduler.now() < p.until && world.network.partitioned[p.client]) await world.run(1000);
      const cl = world.clients[p.client]!;
      if (cl.incarnation === p.incarnation)
        ensure(cl.sawPartitioned, `client ${p.client} partitioned for over 65 s never reported partitioned`);
    }

    // Heal everything and sync to quiescence.
    world.network.faults = HEALED;
    world.network.crashAfterPush = 0;
    world.network.serverUp = true;
    for (let i = 0; i < n; i++) world.network.partitioned[i] = false;
    await quiesce(world);
    counts.acked = world.acked.length;
    counts.dropped = world.network.stats.droppedRequests + world.network.stats.droppedResponses;
    counts.duplicated = world.network.stats.duplicated;
    counts.liveChanges = world.sockets?.stats.liveChanges ?? 0;
    if (VERBOSE) log('sockets', world.sockets?.stats, 'network', world.network.stats);
    counts.socketResets = world.sockets?.stats.resets ?? 0;
    counts.compactions = world.server.gcRuns;
    counts.snapshots = world.server.snapshots;
    counts.reannounced = world.server.ledger.reannounced;
    counts.crashedAfterCommit = world.network.stats.crashedAfterCommit;
    counts.skewedClients = world.skew.filter((x) => x !== 0).length;
    await check(world);
    return counts;
  } finally {
    await world.dispose();
  }
}

/** One random write on one client; false when there was nothing sensible to do. */
function op(world: SimWorld, who: SimClient, r: () => number, log: (...a: unknown[]) => void): boolean {
  const items = who.items;
  const visible = items.all();
  const kind = r();
  const value = () => Math.floor(r() * 1000);
  try {
    if (kind < 0.3 || visible.length === 0) {
      const id = IDS[Math.floor(r() * IDS.length)]!;
      if (items.has(id)) return false;
      items.insert({ id, a: value(), b: value(), c: value() });
      log(`client ${who.index} insert ${id}`);
    } else if (kind < 0.85) {
      const doc = visible[Math.floor(r() * visible.length)]!;
      const patch: Record<string, number> = {};
      for (const f of FIELDS) if (r() < 0.5) patch[f] = value();
      if (Object.keys(patch).length === 0) patch.a = value();
      items.update(doc.id, patch);
      log(`client ${who.index} update ${doc.id}`, patch);
    } else {
      const doc = visible[Math.floor(r() * visible.length)]!;
      items.delete(doc.id);
      log(`client ${who.index} delete ${doc.id}`);
    }
    return true;
  } catch (err) {
    // An insert of an id the client knows as deleted (ids are never reused): refused, fine.
    if ((err as { code?: string }).code === 'duplicate_key') return false;
    throw err;
  }
}

/** Sync every client until no transaction is pending and everyone holds the server's head. */
async function quiesce(world: SimWorld): Promise<void> {
  for (let round = 0; round < 20; round++) {
    const head = await world.server.head(APP);
    for (const c of world.clients) {
      const res = await world.until(c.source.sync());
      if (!res.ok)
        throw new Error(`client ${c.index} could not sync on a healed network: ${String(res.error)}`);
    }
    await world.run(200);
    const busy = world.clients.some((c) => c.client.transactions.get().some((t) => !t.finished));
    const same = (await world.server.head(APP)) === head;
    const caughtUp = world.clients.every((c) => c.source.status.get().cursor === head);
    if (!busy && same && caughtUp) return;
  }
  const states = world.clients.map((c) => ({
    status: c.source.status.get(),
    active: c.client.transactions
      .get()
      .filter((t) => !t.finished)
      .map((t) => `${t.id}:${t.state}`),
  }));
  throw new Error(`no quiescence after 20 rounds on a healed network: ${JSON.stringify(states)}`);
}

async function check(world: SimWorld): Promise<void> {
  // Visible documents from a snapshot; deletions from the ledger of committed writes (a
  // compaction drops tombstones, but never what was deleted).
  const cells = await world.server.liveCells(APP);
  const server = new Replica();
  server.apply(cells);
  const serverDocs = new Map<string, unknown>();
  const deletedOnServer = new Set<string>();
  for (const key of world.server.ledger.deleted) deletedOnServer.add(key.slice(COLLECTION.length + 1));
  for (const id of new Set(cells.map((c) => c.id))) {
    const d = server.get(COLLECTION, id);
    if (d !== undefined) serverDocs.set(id, d);
  }
  if (world.server.horizon === 0) {
    // Nothing compacted: the change log from 0 holds every tombstone; it agrees with the ledger.
    const all = new Replica();
    all.apply(await world.server.allCells(APP));
    for (const id of IDS)
      ensure(
        all.isDeleted(COLLECTION, id) === deletedOnServer.has(id),
        `tombstone of ${id}: the change log says ${all.isDeleted(COLLECTION, id)}, the ledger ${deletedOnServer.has(id)}`,
      );
  }

  // 1. Every replica shows exactly the server's documents.
  const expected = [...serverDocs.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, d]) => d);
  for (const c of world.clients) {
    const shown = [...c.items.all()].sort((a, b) => a.id.localeCompare(b.id));
    const [got, want] = [shown.map(canonical), expected.map(canonical)];
    const at = Array.from({ length: Math.max(got.length, want.length) }, (_, i) => i).find(
      (i) => got[i] !== want[i],
    );
    ensure(
      at === undefined,
      `client ${c.index} differs from the server (divergence): shows ${got[at ?? 0] ?? 'nothing'} where the server has ${want[at ?? 0] ?? 'nothing'}`,
    );
  }

  // 2. No acknowledged write lost.
  const winner = new Map<string, Cell>();
  for (const c of cells) winner.set(`${c.id}/${c.field}`, c);
  for (const w of world.acked)
    for (const c of w.cells) {
      if (deletedOnServer.has(c.id)) continue; // a delete wins over every write
      if (c.field === '_deleted')
        throw new Error(`acknowledged delete of ${c.id} (tx ${w.tx}) is not on the server`);
      const onServer = winner.get(`${c.id}/${c.field}`);
      if (!onServer || compareHlc(onServer.hlc, c.hlc) < 0)
        throw new Error(
          `acknowledged write lost: client ${w.client} tx ${w.tx} set ${c.id}.${c.field}@${c.hlc}, server has ${onServer ? `@${onServer.hlc}` : 'nothing'}`,
        );
    }

  // 3. Nothing applied twice.
  for (const [k, n] of world.server.ledger.mutations)
    if (n > 1) throw new Error(`mutation ${k} applied ${n} times`);
  for (const [k, n] of world.server.ledger.cells)
    if (n > 1) throw new Error(`cell ${k} written by ${n} commits`);

  // 4. No resurrected delete: a deleted document is visible nowhere, on the server included
  // (after compaction too: a snapshot that no longer has it made every client forget it).
  for (const id of deletedOnServer) {
    ensure(!serverDocs.has(id), `deleted ${id} is back on the server (resurrected)`);
    for (const c of world.clients)
      ensure(!c.items.has(id), `deleted ${id} is back on client ${c.index} (resurrected)`);
  }

  // 5. Named mutations exactly once: each counter ≥ its acked bumps, ≤ its issued ones, and
  // every client shows the server's value.
  const counters = new Replica();
  counters.apply(cells);
  for (const id of COUNTER_IDS) {
    const value = ((counters.get(COUNTERS, id) as { n?: number } | undefined)?.n ?? 0) as number;
    const acked = world.bumps.acked.get(id)?.size ?? 0;
    const issued = world.bumps.issued.get(id)?.size ?? 0;
    ensure(
      value >= acked,
      `counter ${id} is ${value} after ${acked} acknowledged bumps (a named mutation lost)`,
    );
    ensure(
      value <= issued,
      `counter ${id} is ${value} after ${issued} bumps issued (a named mutation applied twice)`,
    );
    for (const c of world.clients) {
      const shown = c.counters.get(id)?.n ?? 0;
      ensure(
        shown === value,
        `client ${c.index} shows counter ${id} = ${shown}, the server ${value} (divergence)`,
      );
    }
  }

  // 6. Nothing the network did may surface as another kind of error.
  const unexpected = world.unexpected.map((e) => `${(e as { code?: string }).code}: ${e.message}`);
  ensure(unexpected.length === 0, `unexpected errors: ${unexpected.join('; ')}`);
}
