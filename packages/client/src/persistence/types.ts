/**
 * The persistence contract (seed 002's Persistence, with seed 004's outbox rule): a client
 * keeps its synced cells, its outbox of transactions and a little metadata (cursor, HLC
 * high-water mark, client id). One `commit` writes any mix of the three atomically: the
 * optimistic change and its outbox entry land together or not at all.
 *
 * Implementations: memory, IndexedDB (browser), file (Node), OPFS (@omnisync/opfs, on
 * createJournaledPersistence). All pass one shared suite.
 */
import type { Cell, JsonValue } from '@omnisync/core';

/** A transaction as the outbox stores it: opaque JSON to persistence, keyed by `id`. */
export interface PersistedTransaction {
  readonly id: string;
  readonly [key: string]: JsonValue | undefined;
}

/** Everything a persistence holds, as `load` returns it. */
export interface PersistedState {
  /** The synced base: the winning cell per (collection, id, field). */
  cells: Cell[];
  /** Outbox and kept history, in the order they were first put. */
  transactions: PersistedTransaction[];
  /** Small named values (cursor, hlc, clientId…). */
  meta: Record<string, JsonValue>;
}

/** A document by its key: what {@link PersistenceBatch.forgetDocuments} names. */
export interface DocumentRef {
  readonly collection: string;
  readonly id: string;
}

/**
 * One atomic write. Every part is optional; an empty batch is a no-op.
 *
 * Applied as: forgotten documents first; then cells in array order; then the transaction deletes and puts (an id both put
 * and deleted in one batch ends up deleted; an id put twice keeps its first position and
 * its last value); then meta. Values are stored in their JSON form (object keys holding
 * `undefined` are dropped), except that a cell's own `value: undefined` is kept. A batch
 * that fails validation is refused whole with a typed error.
 */
export interface PersistenceBatch {
  /**
   * Drop every stored cell of these documents, tombstones included, before `cells` are
   * applied (a snapshot replaced the base and they are gone from it).
   */
  forgetDocuments?: readonly DocumentRef[];
  /** Upsert base cells by (collection, id, field). A `_deleted` cell drops that document's other cells. */
  cells?: readonly Cell[];
  /** Upsert transactions by id (first put decides the order). */
  putTransactions?: readonly PersistedTransaction[];
  /** Remove transactions by id (unknown ids are ignored). */
  deleteTransactions?: readonly string[];
  /** Set meta keys; a value of `null` removes the key. */
  meta?: Record<string, JsonValue>;
}

export interface Persistence {
  /** A label for logs and errors ("memory", "indexeddb:todo-app", "file:/path"). */
  readonly name: string;
  /**
   * Read everything back. Throws `PersistenceCorruptError` when stored data cannot be
   * read — never returns an empty state in place of unreadable data.
   */
  load(): Promise<PersistedState>;
  /** Write a batch atomically and durably; resolves only once it is stored. */
  commit(batch: PersistenceBatch): Promise<void>;
  /** Erase everything this persistence holds. */
  clear(): Promise<void>;
  /** Release handles. Further calls throw `InvalidStateError`. */
  close(): Promise<void>;
}
