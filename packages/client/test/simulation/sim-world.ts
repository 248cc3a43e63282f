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
import { SimServer } from './sim-server.js';
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
}

export class SimWorld {
  readonly scheduler: ManualScheduler = createManualScheduler(1_700_000_000_000);
  readonly random: Random;
  readonly server: SimServer;
  readonly network: SimNetwork;
  readonly clients: SimClient[] = [];
  readonly acked: AckedWrite[] = [];
  /** Compaction on. */
  readonly gc: boolean;
  /** Errors nobody should see (anything but the network's own failures). */
  readonly unexpected: Error[] = [];
  readonly #stores: MemoryPersistenceStore[] = [];
  readonly #dir: string;
  readonly #seed: number;
  readonly sockets: SimSockets | undefined;

  constructor(options: WorldOptions) {
    this.#seed = options.seed;
    this.gc = options.gc ?? false;
    this.random = seededRandom(options.seed);
    this.#dir = mkdtempSync(join(tmpdir(), `omni-sim-${options.seed}-`));
    this.server = new SimServer(this.#dir);
    this.network = new SimNetwork(
      this.scheduler,
      seededRandom(options.seed ^ 0x5eed),
      this.server,
      options.clients ?? 3,
      options.faults,
    );
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
    const client = createClient({
      persistence: killable(createMemoryPersistence({ store: this.#stores[index]! }), () => me.alive),
      scheduler: this.scheduler,
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
    const sim: SimClient = {
      index,
      incarnation,
      client,
      source,
      items,
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
  }
}

function cellsOf(tx: Transaction): Cell[] {
  const out: Cell[] = [];
  for (const m of tx.records as unknown as { cells: readonly Cell[] }[]) for (const c of m.cells) out.push(c);
  return out;
}

export { DELETED_FIELD };
