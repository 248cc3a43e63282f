/**
 * The HookBridge of seed 004 for Dexie 4: installs the capture middleware on a Dexie
 * database and gives the sync loop what it needs: the outbox, acknowledging pushed entries,
 * and applying remote cells into the app's tables without capturing them again.
 */
import {
  ClockDriftError,
  type Clock,
  isValidCollectionName,
  type Random,
  systemClock,
  systemRandom,
  ValidationError,
} from '@omnisync/core';
import type { Dexie } from 'dexie';
import { type CaptureState, ensureClock } from './capture-state.js';
import { type MergeResult, mergeRemote, revertRejected } from './merge.js';
import { createCaptureMiddleware } from './middleware.js';
import {
  type CursorState,
  META_STORE,
  type MetaRecord,
  OUTBOX_STORE,
  type OutboxCell,
  type OutboxEntry,
  STATE_STORE,
} from './stores.js';

/** Options of {@link createDexieBridge}. */
export interface DexieBridgeOptions {
  /** The tables to sync (each with primary key `id`, a string). */
  readonly tables: readonly string[];
  /** Physical time of the HLC (default the system clock). */
  readonly clock?: Clock;
  /** Randomness for a new replica's node id (default Math.random). */
  readonly random?: Random;
}

/** A Dexie database with OmniSync capture installed. */
export interface DexieBridge {
  readonly db: Dexie;
  readonly tables: readonly string[];
  /** Captured mutations not yet acknowledged by the server, oldest first (at most `limit`). */
  outbox(limit?: number): Promise<OutboxEntry[]>;
  /** Remove pushed entries from the outbox. */
  acknowledge(seqs: readonly number[]): Promise<void>;
  /**
   * Merge remote cells into the tables (field-level LWW by HLC, delete wins) and, when given,
   * store the pull cursor in the same transaction. Not captured; liveQuery sees the change.
   */
  applyRemote(cells: readonly OutboxCell[], cursor?: number): Promise<void>;
  /**
   * Roll back a mutation the server rejected: its fields (where no later local write replaced
   * them) take the values of `serverCells` (the server's cells of those documents), a
   * rejected delete is lifted. Not captured.
   */
  revert(entry: OutboxEntry, serverCells: readonly OutboxCell[]): Promise<void>;
  /** The stored pull cursor (0 before the first pull). */
  cursor(): Promise<number>;
  /** This replica's id (HLC node id), created on first use. */
  clientId(): Promise<string>;
  /** Call `listener` after every transaction that captured writes; returns the unsubscribe. */
  onCaptured(listener: () => void): () => void;
}

/**
 * Install OmniSync capture on `db` (before `db.open()`; declare the stores with
 * `...omnisyncStores`).
 * @example
 * const db = new Dexie('app');
 * db.version(1).stores({ todos: 'id, done', ...omnisyncStores });
 * const bridge = createDexieBridge(db, { tables: ['todos'] });
 */
export function createDexieBridge(db: Dexie, options: DexieBridgeOptions): DexieBridge {
  for (const t of options.tables)
    if (!isValidCollectionName(t) || t.startsWith('_omnisync'))
      throw new ValidationError(
        `${JSON.stringify(t)} cannot be a synced table: use a plain collection name.`,
      );
  if (db.isOpen())
    throw new ValidationError(
      'createDexieBridge must be called before db.open() so every write is captured.',
    );
  const listeners = new Set<() => void>();
  const state: CaptureState = {
    tables: new Set(options.tables),
    remote: new WeakSet(),
    wallClock: options.clock ?? systemClock,
    random: options.random ?? systemRandom,
    clock: undefined,
    onCaptured: () => {
      for (const l of listeners) l();
    },
  };
  db.use(createCaptureMiddleware(state));

  const loadClock = () =>
    db.transaction('r', STATE_STORE, (tx) => ensureClock(db.core, tx.idbtrans as never, state));

  /** Cells of the synced tables by table, then document id. */
  function groupCells(cells: readonly OutboxCell[]): Map<string, Map<string, OutboxCell[]>> {
    const byDoc = new Map<string, Map<string, OutboxCell[]>>();
    for (const c of cells) {
      if (!state.tables.has(c.collection)) continue;
      let docs = byDoc.get(c.collection);
      if (!docs) byDoc.set(c.collection, (docs = new Map()));
      let list = docs.get(c.id);
      if (!list) docs.set(c.id, (list = []));
      list.push(c);
    }
    return byDoc;
  }

  /**
   * In one remote transaction (not captured), compute each document's new row and metadata
   * with `decide` and store them; optionally store the clock and the cursor.
   */
  async function writeDocs(
    byDoc: Map<string, Map<string, OutboxCell[]>>,
    decide: (
      table: string,
      id: string,
      row: unknown,
      meta: MetaRecord | undefined,
      cells: OutboxCell[],
    ) => MergeResult,
    after?: { nodeId: string; last: string; cursor?: number },
  ): Promise<void> {
    const stores = [...byDoc.keys(), META_STORE, STATE_STORE];
    await db.transaction('rw', stores, async (tx) => {
      state.remote.add(tx.idbtrans as never);
      const metaTable = tx.table<MetaRecord>(META_STORE);
      for (const [table, docs] of byDoc) {
        const ids = [...docs.keys()];
        const [rows, metas] = await Promise.all([
          tx.table(table).bulkGet(ids),
          metaTable.bulkGet(ids.map((id) => [table, id])),
        ]);
        const puts: Record<string, unknown>[] = [];
        const deletes: string[] = [];
        const metaPuts: MetaRecord[] = [];
        ids.forEach((id, i) => {
          const r = decide(table, id, rows[i], metas[i], docs.get(id)!);
          if (r.meta) metaPuts.push(r.meta);
          if (r.action === 'put') puts.push(r.row!);
          else if (r.action === 'delete') deletes.push(id);
        });
        if (puts.length) await tx.table(table).bulkPut(puts);
        if (deletes.length) await tx.table(table).bulkDelete(deletes);
        if (metaPuts.length) await metaTable.bulkPut(metaPuts);
      }
      if (after) {
        const s = tx.table(STATE_STORE);
        await s.put({ key: 'clock', nodeId: after.nodeId, last: after.last });
        if (after.cursor !== undefined)
          await s.put({ key: 'cursor', cursor: after.cursor } satisfies CursorState);
      }
    });
  }

  return {
    db,
    tables: options.tables,
    async outbox(limit = Infinity) {
      const all = db.table<OutboxEntry, number>(OUTBOX_STORE).orderBy(':id');
      return Number.isFinite(limit) ? all.limit(limit).toArray() : all.toArray();
    },
    async acknowledge(seqs) {
      await db.table(OUTBOX_STORE).bulkDelete([...seqs]);
    },
    async applyRemote(cells, cursor) {
      const clock = await loadClock();
      for (const c of cells) {
        try {
          clock.receive(c.hlc);
        } catch (err) {
          // The server accepted it; our clock just does not jump that far ahead.
          if (!(err instanceof ClockDriftError)) throw err;
        }
      }
      const byDoc = groupCells(cells);
      await writeDocs(
        byDoc,
        (table, id, row, meta, docCells) => mergeRemote(table, id, row, meta, docCells),
        {
          nodeId: clock.nodeId,
          last: clock.last,
          ...(cursor !== undefined ? { cursor } : {}),
        },
      );
    },
    async revert(entry, serverCells) {
      const rejected = groupCells(entry.cells);
      const server = groupCells(serverCells);
      await writeDocs(rejected, (table, id, row, meta, docCells) =>
        revertRejected(table, id, row, meta, docCells, server.get(table)?.get(id) ?? []),
      );
    },
    async cursor() {
      const row = (await db.table(STATE_STORE).get('cursor')) as CursorState | undefined;
      return row?.cursor ?? 0;
    },
    async clientId() {
      return (await loadClock()).nodeId;
    },
    onCaptured(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
