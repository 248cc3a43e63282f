/**
 * The simulated server: the real Fetch handler on a real SQLite file or a real Postgres schema,
 * restartable (a new handler over the same data), with its storage wrapped to count what each
 * *committed* write transaction applied — the evidence for "nothing applied twice".
 */
import { join } from 'node:path';
import type { Cell, MutationResult } from '@omnisync/core';
import { simMutators } from './sim-mutators.js';
import {
  createPostgresStorage,
  createSqliteStorage,
  createSyncHandler,
  type DocWrite,
  type StorageWriter,
  type SyncHandler,
  type SyncStorage,
} from '@omnisync/server';

/** What committed write transactions applied, across restarts. */
export interface ApplyLedger {
  /** (clientId, mutationId) → commits that recorded it as applied. */
  readonly mutations: Map<string, number>;
  /** (collection, id, field, hlc) → commits that wrote that exact cell. */
  readonly cells: Map<string, number>;
  /** Ids (collection/id) with a committed tombstone, ever (compaction cannot hide them). */
  readonly deleted: Set<string>;
  /**
   * Tombstones written again at a new version: the server's answer to a write that lost to
   * the delete (an announcement of the same cell, not a second application of it).
   */
  reannounced: number;
  commits: number;
}

const cellKey = (c: Cell) => `${c.collection}/${c.id}/${c.field}@${c.hlc}`;

function countingStorage(inner: SyncStorage, ledger: ApplyLedger): SyncStorage {
  return {
    read: (fn) => inner.read(fn),
    write: async (fn) => {
      let writes: DocWrite[] = [];
      let recorded: [string, MutationResult[]][] = [];
      const out = await inner.write(async (w) => {
        writes = [];
        recorded = [];
        const proxy = new Proxy(w, {
          get(target, prop) {
            if (prop === 'writeDocs')
              return (docs: readonly DocWrite[]) => {
                writes.push(...docs);
                return target.writeDocs(docs);
              };
            if (prop === 'recordMutations')
              return (clientId: string, results: readonly MutationResult[], version: number) => {
                recorded.push([clientId, [...results]]);
                return target.recordMutations(clientId, results, version);
              };
            const v = Reflect.get(target, prop) as unknown;
            return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
          },
        }) as StorageWriter;
        return fn(proxy);
      });
      // Counted only once committed: `inner.write` resolved.
      ledger.commits++;
      for (const d of writes)
        for (const c of d.cells) {
          const k = cellKey(c);
          if (c.field === '_deleted' && ledger.cells.has(k)) {
            ledger.reannounced++;
            continue;
          }
          ledger.cells.set(k, (ledger.cells.get(k) ?? 0) + 1);
          if (c.field === '_deleted') ledger.deleted.add(`${c.collection}/${c.id}`);
        }
      for (const [clientId, results] of recorded)
        for (const r of results)
          if (r.status === 'applied') {
            const k = `${clientId}/${r.id}`;
            ledger.mutations.set(k, (ledger.mutations.get(k) ?? 0) + 1);
          }
      return out;
    },
    ...(inner.watchCommits ? { watchCommits: (fn: (head: number) => void) => inner.watchCommits!(fn) } : {}),
    updateCursor: (d, c) => inner.updateCursor(d, c),
    deviceCursors: () => inner.deviceCursors(),
    gc: (o) => inner.gc(o),
    close: () => inner.close(),
  };
}

/** A new, empty ledger. */
export const emptyLedger = (): ApplyLedger => ({
  mutations: new Map(),
  cells: new Map(),
  deleted: new Set(),
  reannounced: 0,
  commits: 0,
});

/** Where a simulated server keeps its data. */
export type SimStorage =
  | { readonly kind: 'sqlite'; readonly dir: string }
  | { readonly kind: 'postgres'; readonly url: string; readonly schemaPrefix: string };

/** A restartable server over one SQLite file or Postgres schema (several may share one). */
export class SimServer {
  readonly ledger: ApplyLedger;
  /** The compaction horizon: pulls from below it get `reset`. */
  horizon = 0;
  /** Compactions run. */
  gcRuns = 0;
  readonly #storage: SimStorage;
  readonly #nodeId: string;
  #handler: SyncHandler;
  restarts = 0;
  /** The server's wall clock (the simulation's time), set before the first request. */
  clock: { now(): number } | undefined;
  /** Bumped on every restart (live sockets made before are dead). */
  generation = 0;

  constructor(storage: SimStorage, ledger: ApplyLedger = emptyLedger(), nodeId = 'srv') {
    this.#storage = storage;
    this.ledger = ledger;
    this.#nodeId = nodeId;
    this.#handler = this.#open();
  }

  #open(): SyncHandler {
    const st = this.#storage;
    return createSyncHandler({
      logLevel: 'silent',
      nodeId: this.#nodeId,
      mutators: simMutators,
      hlcClock: { now: () => (this.clock ?? Date).now() },
      storage:
        st.kind === 'sqlite'
          ? (app) =>
              countingStorage(
                createSqliteStorage({ file: join(st.dir, `${app}.sqlite`), durability: 'off' }),
                this.ledger,
              )
          : async (app) =>
              countingStorage(
                await createPostgresStorage({
                  connectionString: st.url,
                  schema: `${st.schemaPrefix}${app}`,
                  durability: 'off',
                  maxConnections: 3,
                }),
                this.ledger,
              ),
    });
  }

  /** Snapshot requests served (clients after `reset`). */
  snapshots = 0;

  fetch(request: Request): Promise<Response> {
    if (request.url.endsWith('/snapshot')) this.snapshots++;
    return this.#handler.fetch(request);
  }

  /** Stop the handler (in-flight commits finish) and open a new one on the same file. */
  async restart(): Promise<void> {
    this.generation++;
    await this.#handler.close();
    this.#handler = this.#open();
    this.restarts++;
  }

  /** Hand a simulated WebSocket to the live engine (as the Node server does after an upgrade). */
  accept(app: string, ws: unknown): void {
    this.#handler.engine.live.accept(app, ws as never);
  }

  async close(): Promise<void> {
    await this.#handler.close();
  }

  /** Compact (seed 004): drop change-log entries and tombstones below `olderThanVersion`. */
  async gc(app: string, olderThanVersion: number): Promise<void> {
    const res = await this.#handler.engine.gc(app, { olderThanVersion });
    if (res.horizon > this.horizon) {
      this.horizon = res.horizon;
      this.gcRuns++;
    }
  }

  /** Every live cell of the visible documents (a snapshot; tombstones are in the ledger). */
  async liveCells(app: string): Promise<Cell[]> {
    const res = await this.#handler.fetch(
      new Request(`http://sim/v1/apps/${app}/snapshot`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      }),
    );
    const snap = (await res.json()) as { cells: Cell[] };
    return snap.cells.map((c) => ({ ...c, value: c.value }));
  }

  /** Every stored cell (tombstones included), by paging a pull from cursor 0 (before any compaction). */
  async allCells(app: string): Promise<Cell[]> {
    const cells: Cell[] = [];
    let cursor = 0;
    for (;;) {
      const res = await this.#handler.fetch(
        new Request(`http://sim/v1/apps/${app}/pull`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ cursor, limit: 10_000 }),
        }),
      );
      const page = (await res.json()) as { changes: Cell[]; cursor: number; hasMore: boolean };
      for (const c of page.changes) cells.push({ ...c, value: c.value });
      cursor = page.cursor;
      if (!page.hasMore) return cells;
    }
  }

  /** The server's head cursor. */
  async head(app: string): Promise<number> {
    return this.#handler.engine.head(app);
  }
}
