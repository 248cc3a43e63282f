/**
 * The storage contract of the sync server. Every storage (SQLite embedded, Postgres) must
 * pass the shared suite in `test/storage-suite.ts`. The interface is async so a networked
 * database fits; the merge rules (LWW per cell, delete wins) live above it, in the engine,
 * so every storage applies them identically.
 *
 * A storage holds, per app:
 * - triples: (collection, id, field) → value, HLC, and the version of its last change;
 * - the change log: one entry per document change with a monotonic version (the cursor)
 *   and the prior values of the cells it changed (so a pull can tell whether a document
 *   matched a query *before* the changes it sends);
 * - applied mutations: (clientId, mutationId) → result, for idempotent push;
 * - device cursors (seed 004 `updateCursor`), and the compaction horizon.
 */
import type { Cell, CellValue, JsonValue, MutationResult } from '@omnisync/core';

/** A document's address. */
export interface DocKey {
  readonly collection: string;
  readonly id: string;
}

/** One stored cell. `value` undefined = unset (the HLC still counts). */
export interface StoredCell {
  readonly field: string;
  readonly value: CellValue;
  readonly hlc: string;
  /** Version of the change that last wrote this cell. */
  readonly version: number;
}

/** Every stored cell of one document (a tombstoned document holds only its `_deleted` cell). */
export interface StoredDoc extends DocKey {
  readonly cells: readonly StoredCell[];
}

/** A cell's value before a change: `[field]` = absent or unset, `[field, value]` = that value. */
export type PriorCell = readonly [field: string, value?: JsonValue];

/**
 * The values a document change replaced: each changed cell's prior value, or `null` when the
 * document had no cells at all before (an insert; the common case, kept small).
 */
export type Priors = readonly PriorCell[] | null;

/** One document change to write: upsert `cells` at `version`, log the priors. */
export interface DocWrite extends DocKey {
  readonly version: number;
  readonly cells: readonly Cell[];
  /** A tombstone: drop every cell of the document before writing `cells`. */
  readonly dropOthers: boolean;
  readonly prior: Priors;
  /**
   * The version each prior cell was written at (parallel to `prior`; 0 = it was absent). The
   * engine knows them from the loaded cells; when absent the storage reads them itself.
   */
  readonly priorVersions?: readonly number[];
}

/** One change-log entry. */
export interface ChangeEntry extends DocKey {
  readonly version: number;
}

/** A device's reported cursor. */
export interface DeviceCursor {
  readonly deviceId: string;
  readonly cursor: number;
  readonly updatedAt: number;
}

/** What a compaction did. */
export interface GcResult {
  /** The oldest cursor a pull still serves; older cursors get `reset`. */
  readonly horizon: number;
  readonly changesDropped: number;
  /** Tombstones dropped: always 0 unless `dropTombstones` was asked for. */
  readonly tombstonesDropped: number;
}

/** Options of a compaction. */
export interface GcOptions {
  /** Drop change-log entries (and their priors) with a version below this one. */
  readonly olderThanVersion: number;
  /**
   * Also drop tombstones below that version (default false: tombstones are kept, one small
   * row per deleted document). Dropped, a deletion is forgotten: a client offline past the
   * horizon that still holds writes to the document, or one that reuses its id, brings it
   * back, and replicas that saw the delete keep it deleted (they diverge). Only for
   * deployments that choose the horizon below every device's cursor (`deviceCursors()`).
   */
  readonly dropTombstones?: boolean;
}

/** Reads, all from one consistent snapshot. */
export interface StorageReader {
  /** Version of the latest committed change (0 = empty). */
  head(): Promise<number>;
  /** Oldest cursor still served (0 until the first compaction). */
  horizon(): Promise<number>;
  /** Change-log entries with version > cursor, oldest first, at most `limit`. */
  changesSince(cursor: number, limit: number): Promise<ChangeEntry[]>;
  /** Priors of the document's changes with version > cursor, newest first. */
  priorsSince(key: DocKey, cursor: number): Promise<Priors[]>;
  /**
   * {@link priorsSince} of many documents at once, in the order asked (optional: a networked
   * storage answers in a few round trips instead of one per document).
   */
  priorsSinceMany?(keys: readonly DocKey[], cursor: number): Promise<Priors[][]>;
  /** Stored cells of each document, in the order asked (no cells = unknown). */
  loadDocs(keys: readonly DocKey[]): Promise<StoredDoc[]>;
  /** Every document with cells (of one collection, or all), ordered by collection then id. */
  scan(collection?: string): AsyncIterable<StoredDoc>;
}

/** Reads and writes of one write transaction; its reads see its own writes. */
export interface StorageWriter extends StorageReader {
  /** Stored results of the given mutations of a client (absent = never applied). */
  findMutations(clientId: string, mutationIds: readonly string[]): Promise<Map<string, MutationResult>>;
  /** Write document changes; versions must be above head, increasing. Head becomes the last. */
  writeDocs(writes: readonly DocWrite[]): Promise<void>;
  /** Remember mutation results (applied or rejected) for idempotent retries. */
  recordMutations(clientId: string, results: readonly MutationResult[], version: number): Promise<void>;
}

/** One app's storage. */
export interface SyncStorage {
  /** Run `fn` on a consistent read snapshot (never sees uncommitted writes). */
  read<T>(fn: (reader: StorageReader) => Promise<T>): Promise<T>;
  /**
   * Run `fn` in one write transaction: everything it wrote commits atomically when it
   * resolves (durably, at the configured durability) or nothing does when it throws.
   * Write transactions are serialized.
   */
  write<T>(fn: (writer: StorageWriter) => Promise<T>): Promise<T>;
  /** Seed 004 `updateCursor`: remember how far a device synced (keeps the highest). */
  updateCursor(deviceId: string, cursor: number): Promise<void>;
  /** Every device's reported cursor. */
  deviceCursors(): Promise<DeviceCursor[]>;
  /**
   * Compaction (seed 004): drop change-log entries with version below `olderThanVersion`;
   * pulls from a cursor below the new horizon get `reset` (and snapshot). Tombstones stay
   * unless `dropTombstones` (see {@link GcOptions}): delete wins on every replica, whenever
   * a write to the deleted document arrives (the server answers it with the tombstone).
   */
  gc(options: GcOptions): Promise<GcResult>;
  /**
   * A storage that other server processes write too (Postgres) reports their commits: it
   * calls `listener` with a head the storage reached (any process's commit; once at the start,
   * and again after losing and regaining its notification channel, with the current head).
   * Returns a function that stops. Absent: this process is the only writer, and its own
   * commits are all there is to fan out.
   */
  watchCommits?(listener: (head: number) => void): () => void;
  /** Bytes the app's data takes (file and WAL, or the schema's tables); read by the metrics. */
  sizeBytes?(): Promise<number>;
  /** Finish in-flight transactions and release the database. */
  close(): Promise<void>;
}

/** Opens the storage of one app (called once per app, lazily). */
export type StorageFactory = (app: string) => SyncStorage | Promise<SyncStorage>;
