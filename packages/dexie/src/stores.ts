/**
 * The object stores the bridge keeps beside the app's tables, and their Dexie schema spec.
 * The app spreads {@link omnisyncStores} into every `db.version(n).stores({...})` it declares.
 */

/** The outbox: one entry per captured mutation, in commit order (`seq`). */
export const OUTBOX_STORE = '_omnisync_outbox';
/** Per-document sync metadata: the HLC of every field, and the tombstone. */
export const META_STORE = '_omnisync_meta';
/** Bridge state: the HLC high-water mark and node id, the pull cursor. */
export const STATE_STORE = '_omnisync_state';

/** The bridge's own stores, always in a synced write transaction's scope. */
export const BRIDGE_STORES: readonly string[] = [OUTBOX_STORE, META_STORE, STATE_STORE];

/**
 * Dexie schema for the bridge's stores; spread it into your `stores()` call.
 * @example
 * db.version(1).stores({ todos: 'id, done', ...omnisyncStores });
 */
export const omnisyncStores: Readonly<Record<string, string>> = {
  [OUTBOX_STORE]: '++seq',
  [META_STORE]: '[table+id]',
  [STATE_STORE]: 'key',
};

/** A wire cell as the outbox stores it (`value` absent = the field was unset). */
export interface OutboxCell {
  readonly collection: string;
  readonly id: string;
  readonly field: string;
  readonly value?: unknown;
  readonly hlc: string;
}

/** One captured mutation, waiting to be pushed. */
export interface OutboxEntry {
  /** Commit order (auto-increment). */
  readonly seq?: number;
  /** The push idempotency key together with `clientId`. */
  readonly mutationId: string;
  /** The replica that captured it (the HLC node id): pushed as the push's `clientId`. */
  readonly clientId: string;
  readonly cells: readonly OutboxCell[];
}

/** Sync metadata of one document. */
export interface MetaRecord {
  readonly table: string;
  readonly id: string;
  /** HLC of the last write of each field path (unset fields keep theirs). */
  readonly hlcs: Readonly<Record<string, string>>;
  /** HLC of the delete: the document is a tombstone forever (delete wins). */
  readonly deleted?: string;
}

/** The clock row of the state store. */
export interface ClockState {
  readonly key: 'clock';
  readonly nodeId: string;
  readonly last: string;
}

/** The cursor row of the state store. */
export interface CursorState {
  readonly key: 'cursor';
  readonly cursor: number;
}
