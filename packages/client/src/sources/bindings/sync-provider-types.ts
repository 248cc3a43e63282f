/**
 * Seed 004's SyncProvider protocol: the contract a backend adapter implements so that
 * {@link createSyncProviderSource} can sync a client with it (catch-up by cursor, live
 * changes, an idempotent outbox flush, cursor checkpoints). Names follow seed 004.
 *
 * Payloads are OmniSync field paths: a flat document's fields are its top-level names; a
 * nested field is a dotted path (`meta.n`) and a refMany member `tags[t1]`. Values are JSON.
 */
import type { JsonValue } from '@omnisync/core';

/** What a sync is about: seed 004's workspace (a tenant, a project, a user's data…). */
export interface SyncScope {
  readonly workspaceId: string;
}

/** Who wrote a change and when (seed 004). `hlc` decides last-write-wins per field. */
export interface SyncStamp {
  /** The writer's hybrid logical clock stamp of this write (an OmniSync HLC string). */
  readonly hlc: string;
  /** The device (client) that wrote it. */
  readonly deviceId: string;
  /** The stable id of the op that wrote it: the same on every re-send. */
  readonly opId: string;
  /** Seed 004's per-record counter; informational (ordering is by `hlc`). */
  readonly clock?: number;
}

/** One change of the backend's ordered change log (seed 004). */
export interface SyncChange {
  readonly tableName: string;
  /** The document id. */
  readonly pk: string;
  /** `put` sets the payload's fields; `delete` deletes the document (delete wins). */
  readonly op: 'put' | 'delete';
  /** Field path → value, for `put`. */
  readonly payload?: Readonly<Record<string, JsonValue>>;
  /** Field paths unset by this `put` (they win over older writes like any value). */
  readonly unset?: readonly string[];
  /** Position in the scope's change log: strictly increasing, the cursor a pull resumes from. */
  readonly serverVersion: number;
  readonly stamp: SyncStamp;
}

/** A pull: the changes after `cursor`, at most `limit`. */
export interface PullRequest {
  readonly scope: SyncScope;
  /** The last `serverVersion` the client holds (0: from the start). */
  readonly cursor: number;
  readonly limit: number;
  /** The tables the client syncs (a provider may return only these). */
  readonly tables: readonly string[];
}

/** A page of the change log. */
export interface PullResponse {
  /** In `serverVersion` order, all after the request's cursor. */
  readonly changes: readonly SyncChange[];
  /** Where the next pull resumes: the last change's `serverVersion` (or the cursor when none). */
  readonly nextCursor: number;
  /** More changes after `nextCursor`: pull again. */
  readonly hasMore: boolean;
}

/** One queued local write, as sent to the backend (seed 004's `pending_ops` entry). */
export interface PendingOp {
  /** Stable across re-sends and restarts (the client's mutation id): the backend dedupes by it. */
  readonly id: string;
  readonly tableName: string;
  readonly pk: string;
  readonly op: 'put' | 'delete';
  /** Field path → value, for `put`. */
  readonly payload?: Readonly<Record<string, JsonValue>>;
  /** Field paths this `put` unsets. */
  readonly unset?: readonly string[];
  readonly stamp: SyncStamp;
  /** Client time the write was made (ms since epoch). */
  readonly createdAt: number;
}

/** An outbox flush: one transaction's writes, applied all or nothing. */
export interface PushBatch {
  readonly scope: SyncScope;
  readonly deviceId: string;
  readonly ops: readonly PendingOp[];
}

/** The backend's answer for one op. A repeated op id answers `success: true` again. */
export interface PushOpResult {
  readonly opId: string;
  readonly success: boolean;
  /** Why it failed (shown to the app). */
  readonly error?: string;
  /** Failed ops: `false` when trying again cannot help (the transaction rolls back). Default true. */
  readonly retryable?: boolean;
  /** A machine-readable reason (e.g. `forbidden`). */
  readonly code?: string;
}

/** What a push answers: one result per op of the batch. */
export interface PushResult {
  readonly results: readonly PushOpResult[];
  /** The log position after the push, if the backend tells. */
  readonly serverVersion?: number;
}

/** Seed 004's provider interface. */
export interface SyncProvider {
  /** Unique identifier (e.g. `convex`, `http-sqlite`). */
  readonly id: string;
  /** `direct`: the client talks to the backend; `gateway`: through an SSR proxy. */
  readonly mode: 'direct' | 'gateway';
  /** Live changes of `tables` in `scope` from now on; resolves with the unsubscribe. */
  subscribe(
    scope: SyncScope,
    tables: readonly string[],
    onChanges: (changes: readonly SyncChange[]) => void,
  ): Promise<() => void>;
  /** Catch-up: a page of the change log after a cursor. */
  pull(request: PullRequest): Promise<PullResponse>;
  /** Outbox flush: apply the ops atomically and idempotently (by op id). */
  push(batch: PushBatch): Promise<PushResult>;
  /** Checkpoint: this device holds every change up to `version` (for the backend's GC). */
  updateCursor(scope: SyncScope, deviceId: string, version: number): Promise<void>;
}

/** Options of {@link createSyncProviderSource}. */
export interface SyncProviderSourceOptions {
  /** The scope synced (default `{ workspaceId: 'default' }`). */
  readonly scope?: SyncScope;
  /** The tables synced (default: the collections the source serves when it starts). */
  readonly tables?: readonly string[];
  /** This device's id (default: the client's HLC node id). */
  readonly deviceId?: string;
  /** Changes per pull (default {@link SYNC_PROVIDER_PAGE_SIZE}). */
  readonly pageSize?: number;
  /** Source id, naming its persisted cursor (default `provider:<provider.id>:<workspaceId>`). */
  readonly id?: string;
  /** Backoff of a failed catch-up or subscribe, in ms (default 500, doubling, up to 30 000). */
  readonly retryBaseDelayMs?: number;
  readonly retryMaxDelayMs?: number;
}

/** Default number of changes asked for per pull. */
export const SYNC_PROVIDER_PAGE_SIZE = 500;
