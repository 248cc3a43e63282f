/**
 * One simulated world: a server, three client processes (each a real `createClient` with
 * the real server source, on memory persistence that outlives a crash), the network between
 * them, and the record of what each client was told is done.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Cell,
  createManualScheduler,
  DELETED_FIELD,
  type ManualScheduler,
  type Random,
  seededRandom,
} from '@omnisync/core';
import { type Client, createClient, createServerSource, type ServerSource } from '@omnisync/client';
import type { Collection } from '../../src/collection/collection.js';
import {
  createMemoryPersistence,
  createMemoryPersistenceStore,
  type MemoryPersistenceStore,
} from '../../src/persistence/memory.js';
import type { Persistence } from '../../src/persistence/types.js';
import type { Transaction } from '../../src/transactions/transaction.js';
import { type NetworkFaults, SimNetwork } from './sim-network.js';
import { dropSchemas, freshSchema, PG_URL } from '../../../server/test/helpers/pg-url.js';
import { SimCluster } from './sim-cluster.js';
import { COUNTERS, simMutators } from './sim-mutators.js';
import { SimSockets } from './sim-socket.js';

export const APP = 'sim';
export const COLLECTION = 'items';
export const FIELDS = ['a', 'b', 'c'] as const;
export const IDS = ['d0', 'd1', 'd2', 'd3', 'd4', 'd5', 'd6'];

/** A write the client reported `completed` (acknowledged by the server). */
export interface AckedWrite {
  readonly client: number;
  readonly tx: string;
  readonly cells: readonly Cell[];
}

/** One client process; replaced by a new one (same persistence) when it crashes. */
export interface SimClient {
  readonly index: number;
  incarnation: number;
  client: Client;
  source: ServerSource;
  items: Collection<{ id: string; [k: string]: unknown }>;
  counters: Collection<{ id: string; n?: number }>;
  alive: boolean;
  /** Seen `partitioned: true` in its status. */
  sawPartitioned: boolean;
}

/**
 * A persistence that dies with its process: after `kill`, nothing more is written (a commit
 * in flight simply never returns, as when the process is gone).
 */
function killable(inner: Persistence, isAlive: () => boolean): Persistence {
  return {
    name: inner.name,
    load: () => inner.load(),
    commit: (batch) => (isAlive() ? inner.commit(batch) : new Promise<void>(() => {})),
    clear: () => inner.clear(),
    close: () => (isAlive() ? inner.close() : Promise.resolve()),
  };
}

/** Simulation settings derived from the seed. */
export interface WorldOptions {
  readonly seed: number;
  readonly faults: NetworkFaults;
  /** Clients use the live WebSocket too (else HTTP polling only). */
  readonly live?: boolean;
  /** The server compacts its change log and tombstones now and then (clients behind get `reset`). */
  readonly gc?: boolean;
  /** Number of clients (default 3). */
  readonly clients?: number;
  /** Where the server keeps its data (default sqlite; postgres: a schema of its own per world). */
  readonly storage?: 'sqlite' | 'postgres';
  /** Server instances on the one storage (2 needs postgres); client i talks to instance i mod n. */
  readonly servers?: 1 | 2;
  /** Client wall clocks off by up to ± `skewMs` (each its own, fixed for the run). */
  readonly skewMs?: number;
}

export class SimWorld {
  readonly scheduler: ManualScheduler = createManualScheduler(1_700_000_000_000);
  readonly random: Random;
  readonly server: SimCluster;
  /** Each client's clock offset, ms. */
  readonly skew: number[];
  readonly network: SimNetwork;
  readonly clients: SimClient[] = [];
  readonly acked: AckedWrite[] = [];
  /** Named `bump` mutations: every transaction id issued, and those acknowledged, per counter. */
  readonly bumps = { issued: new Map<string, Set<string>>(), acked: new Map<string, Set<string>>() };
  /** Compaction on. */
  readonly gc: boolean;
  /** Errors nobody should see (anything but the network's own failures). */
  readonly unexpected: Error[] = [];
  readonly #stores: MemoryPersistenceStore[] = [];
  readonly #dir: string;
  readonly #pgPrefix: string | undefined;
  readonly #seed: number;
  readonly sockets: SimSockets | undefined;

  constructor(options: WorldOptions) {
    this.#seed = options.seed;
    this.gc = options.gc ?? false;
    this.random = seededRandom(options.seed);
    this.#dir = mkdtempSync(join(tmpdir(), `omni-sim-${options.seed}-`));
    this.#pgPrefix = options.storage === 'postgres' ? `${freshSchema(`sim${options.seed}`)}_` : undefined;
    this.server = new SimCluster(
      this.#pgPrefix !== undefined
        ? { kind: 'postgres', url: PG_URL, schemaPrefix: this.#pgPrefix }
        : { kind: 'sqlite', dir: this.#dir },
      options.servers ?? 1,
    );
    for (const s of this.server.servers) s.clock = this.scheduler;
    const skewRandom = seededRandom(options.seed ^ 0xc10c);
    this.skew = Array.from({ length: options.clients ?? 3 }, () =>
      options.skewMs ? Math.round((skewRandom() * 2 - 1) * options.skewMs) : 0,
    );
    this.network = new SimNetwork(
      this.scheduler,
      seededRandom(options.seed ^ 0x5eed),
      this.server,
      options.clients ?? 3,
      options.faults,
    );
    this.network.crash = (client) => this.server.restart(client % this.server.servers.length);
    this.network.crashRandom = seededRandom(options.seed ^ 0xc4a5);
    this.sockets = options.live
      ? new SimSockets(this.scheduler, this.network, this.server, seededRandom(options.seed ^ 0x50c7))
      : undefined;
    for (let i = 0; i < (options.clients ?? 3); i++) {
      this.#stores.push(createMemoryPersistenceStore());
      this.clients.push(this.#spawn(i, 0));
    }
  }

  #spawn(index: number, incarnation: number): SimClient {
    const me = { alive: true };
    const skew = this.skew[index]!;
    const sched = this.scheduler;
    // This process's wall clock, off by its skew; timers run on the one simulated time.
    const scheduler =
      skew === 0
        ? sched
        : {
            now: () => sched.now() + skew,
            setTimeout: (fn: () => void, ms: number) => sched.setTimeout(fn, ms),
          };
    const client = createClient({
      persistence: killable(createMemoryPersistence({ store: this.#stores[index]! }), () => me.alive),
      scheduler,
      mutators: simMutators,
      random: seededRandom(this.#seed * 31 + index * 7 + incarnation * 1009 + 1),
      onError: (e) => {
        if (me.alive) this.#expectError(e);
      },
    });
    const source = createServerSource({
      app: APP,
      server: 'http://sim.local',
      fetch: this.network.fetchFor(index, () => me.alive),
      WebSocket: this.sockets?.constructorFor(index, () => me.alive) ?? null,
      heartbeatMs: 5000,
      pollIntervalMs: 1000,
      requestTimeoutMs: 2000,
      backoff: { baseDelayMs: 100, maxDelayMs: 3000 },
      random: seededRandom(this.#seed * 131 + index * 17 + incarnation),
    });
    const items = client.collection<{ id: string; [k: string]: unknown }>({ id: COLLECTION, source });
    const counters = client.collection<{ id: string; n?: number }>({ id: COUNTERS, source });
    const sim: SimClient = {
      index,
      incarnation,
      client,
      source,
      items,
      counters,
      get alive() {
        return me.alive;
      },
      set alive(v: boolean) {
        me.alive = v;
      },
      sawPartitioned: false,
    };
    client.events.on('transaction:stateChange', (e) => {
      if (!me.alive || e.to !== 'completed') return;
      const named = e.transaction.mutator as { name: string; args: { id: string } } | undefined;
      if (named?.name === 'bump') {
        const set = this.bumps.acked.get(named.args.id) ?? new Set<string>();
        this.bumps.acked.set(named.args.id, set.add(e.transaction.id));
        return;
      }
      this.acked.push({ client: index, tx: e.transaction.id, cells: cellsOf(e.transaction) });
    });
    client.events.on('sync.error:action', (e) => {
      if (me.alive && e.transaction && !e.retryable) this.#expectError(e.error);
    });
    return sim;
  }

  /** Failures of the network are the point of the run; anything else is a finding. */
  #expectError(e: Error): void {
    const code = (e as { code?: string }).code;
    if (code === 'network' || code === 'closed' || code === 'offline') return;
    this.unexpected.push(e);
  }

  /** A named mutation on client `index`: bump counter `id` (optimistic here, re-run by the server). */
  bump(index: number, id: string): void {
    const tx = this.clients[index]!.client.mutate('bump', { id });
    tx.promise.catch(() => {}); // a refusal shows in the checks (an acked count short)
    const set = this.bumps.issued.get(id) ?? new Set<string>();
    this.bumps.issued.set(id, set.add(tx.id));
  }

  /** Crash a client process and start a new one on the same persistence. */
  restartClient(index: number): void {
    const old = this.clients[index]!;
    old.alive = false;
    // Stop its timers; its persistence and network are already dead, so this changes nothing.
    void old.client.close().catch(() => {});
    this.clients[index] = this.#spawn(index, old.incarnation + 1);
  }

  /** Move time by `ms`, in steps, letting every request and promise finish at each step. */
  async run(ms: number, stepMs = 20): Promise<void> {
    const end = this.scheduler.now() + ms;
    while (this.scheduler.now() < end) {
      this.scheduler.advance(Math.min(stepMs, end - this.scheduler.now()));
      await this.network.settle();
      for (const c of this.clients) if (c.source.status.get().partitioned) c.sawPartitioned = true;
    }
  }

  /** Drive time until `p` settles (or `maxMs` of simulated time pass). */
  async until<T>(
    p: Promise<T>,
    maxMs = 120_000,
  ): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
    let result: { ok: true; value: T } | { ok: false; error: unknown } | undefined;
    p.then(
      (value) => (result = { ok: true, value }),
      (error: unknown) => (result = { ok: false, error }),
    );
    const end = this.scheduler.now() + maxMs;
    await this.network.settle();
    while (result === undefined && this.scheduler.now() < end) await this.run(20);
    return result ?? { ok: false, error: new Error(`did not settle within ${maxMs} ms of simulated time`) };
  }

  async dispose(): Promise<void> {
    for (const c of this.clients) {
      c.alive = false;
      void c.client.close().catch(() => {});
    }
    await this.server.close();
    rmSync(this.#dir, { recursive: true, force: true });
    if (this.#pgPrefix !== undefined) await dropSchemas(this.#pgPrefix);
  }
}

function cellsOf(tx: Transaction): Cell[] {
  const out: Cell[] = [];
  for (const m of tx.records as unknown as { cells: readonly Cell[] }[]) for (const c of m.cells) out.push(c);
  return out;
}

export { DELETED_FIELD };
