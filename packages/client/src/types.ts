/**
 * Public types of the client kernel. Names and fields of the transaction types are seed
 * 001's, kept exactly (snake_case included): apps and tools written against that spec read
 * them as they are. OmniSync adds a few fields (`type`, `collection`, `key`, `hlc`), never
 * renames one.
 */

/** A document as apps see it: a plain object with a string `id`. */
export type Doc = { readonly id: string } & Record<string, unknown>;

/** Seed 001's six transaction states. */
export type TransactionState =
  | 'queued' // waiting for another transaction to complete
  | 'pending' // created but not yet persisting
  | 'persisting' // currently running the source's persist (retries included)
  | 'persisted_awaiting_sync' // persist succeeded, waiting for sync
  | 'completed' // fully completed
  | 'failed'; // failed (includes dependency cancellations)

/** The states a transaction never leaves. */
export const FINISHED_STATES: ReadonlySet<TransactionState> = new Set<TransactionState>([
  'completed',
  'failed',
]);

/** One try at persisting a transaction (seed 001). */
export interface Attempt {
  readonly id: string;
  readonly started_at: Date;
  readonly completed_at?: Date;
  readonly error?: Error;
  /** When the next attempt is due, if this one failed and a retry was scheduled. */
  readonly retry_scheduled_for?: Date;
}

/** What a transaction's error says (seed 001). */
export interface TransactionError {
  /** For dependency failures: the transaction this one was queued behind, which failed. */
  readonly transaction_id?: string;
  readonly message: string;
  readonly error: Error;
}

/** The kind of one write. */
export type MutationType = 'insert' | 'update' | 'delete';

/** The state of one mutation, following its transaction's (seed 001). */
export type MutationState = 'created' | 'persisting' | 'synced';

/**
 * One write to one document (seed 001's PendingMutation, plus where it goes).
 * `original` is the visible document before the write (`{}` for an insert), `modified`
 * the document after it (for a delete: the document deleted), `changes` the top-level
 * fields the write set (the whole document for an insert, `{}` for a delete).
 */
export interface PendingMutation<T extends object = Record<string, any>> {
  readonly mutationId: string;
  readonly original: Partial<T> & Record<string, any>;
  readonly modified: T & Record<string, any>;
  readonly changes: Partial<T> & Record<string, any>;
  readonly metadata: unknown;
  readonly created_at: Date;
  readonly updated_at: Date;
  readonly state: MutationState;
  /** OmniSync: insert, update or delete. */
  readonly type: MutationType;
  /** OmniSync: the collection written. */
  readonly collection: string;
  /** OmniSync: the document id written. */
  readonly key: string;
  /** OmniSync: the HLC stamped on every cell of this write. */
  readonly hlc: string;
}

/**
 * How a collection's writes are sent (seed 001). `ordered` (default): writes to the same
 * document queue behind each other, and a failure rolls back the writes queued behind it.
 * `parallel`: every write persists at once; `merge` decides what is visible while writes
 * are pending, and is re-run on every sync.
 */
export interface MutationStrategy {
  readonly type: 'ordered' | 'parallel';
  /**
   * Visible document from the synced one and the pending writes to it, in order. Return
   * `undefined` for "not visible". Default: apply the pending writes in order.
   */
  readonly merge?: (
    syncedData: Doc | undefined,
    pendingMutations: readonly PendingMutation[],
  ) => Doc | undefined;
}

/** Retry policy of failed persists: exponential backoff with jitter. */
export interface RetryOptions {
  /** Retries after the first attempt (default 4: five attempts in all, seed 001). */
  readonly retries?: number;
  /** Delay before the first retry, in ms (default 1000). */
  readonly baseDelay?: number;
  /** Largest delay, in ms (default 30000). */
  readonly maxDelay?: number;
  /** Growth per retry (default 2). */
  readonly factor?: number;
  /**
   * Fraction of each delay that is random, 0..1 (default 0.5): the delay is
   * `raw × (1 − jitter + jitter × random())`, so retries of many clients spread out.
   */
  readonly jitter?: number;
  /** Random source of the jitter (default: the client's `random`). Pass `seededRandom(n)` for exact schedules. */
  readonly random?: () => number;
}

/** Key of a document across collections: `collection/id` (collection names have no `/`). */
export function entityKey(collection: string, id: string): string {
  return collection + '/' + id;
}
