/**
 * The one internal interface every backend adapter implements (DESIGN.md "Sources"). A
 * source brings authoritative data in (through the {@link SourceContext} it is started
 * with) and sends transactions out ({@link Source.persist}). See ARCHITECTURE.md beside
 * this file for how seed 001's sync + mutationFn, seed 004's SyncProvider and the OmniSync
 * server map onto it.
 */
import type { Cell, HlcClock, JsonValue, QueryAst, Scheduler } from '@omnisync/core';
import type { PendingMutation } from '../types.js';
import type { Transaction } from '../transactions/transaction.js';

/** Connection status of a source (seed 004's subscription statuses, plus `ready`). */
export type SubscriptionStatus =
  'idle' | 'connecting' | 'connected' | 'syncing' | 'ready' | 'disconnected' | 'error';

/**
 * A plain authoritative document from a document-shaped backend. It replaces the synced
 * document of its id (fields it lacks are unset). `null` (in a record) or `_deleted: true`
 * deletes the document.
 */
export type RemoteDocument = Record<string, unknown>;

/** Authoritative documents: an array of documents, or a record of id → document | null. */
export type RemoteDocuments = readonly RemoteDocument[] | Readonly<Record<string, RemoteDocument | null>>;

/** What the client gives a source when it starts it. */
export interface SourceContext {
  /** The collections this source serves. */
  readonly collections: readonly string[];
  /** This client's hybrid logical clock. */
  readonly hlc: HlcClock;
  /** Time, for retries and polling. */
  readonly scheduler: Scheduler;
  /**
   * Apply authoritative documents to one collection's synced base (seed 001's `onUpdate`).
   * They are stamped with a fresh HLC on arrival: the backend's order is the order of truth.
   * Updates to a document locked by an ordered write are held until the lock is released.
   */
  applyDocuments(collection: string, docs: RemoteDocuments): void;
  /**
   * Apply authoritative cells with their own HLCs (OmniSync server, seed 004 SyncProvider),
   * merged last-write-wins per cell. Validated: a bad cell throws and nothing is applied.
   */
  applyCells(cells: readonly Cell[]): void;
  /**
   * A snapshot of `queries` (sync scopes: collection + where) replaces what the client holds
   * of them (seed 002). Called before its cells (`present`) are applied: forget every synced
   * document that matches one of the queries but is not in the snapshot, and every one the
   * snapshot has while the client holds fields it lacks (re-created after its tombstone was
   * compacted: the snapshot rebuilds it), in memory and in persistence. Pending writes stay
   * (and are pushed again); tombstones stay.
   */
  forgetAbsent?(queries: readonly QueryAst[], present: readonly Cell[]): void;
  /**
   * `cells` (just applied) are from a source that syncs only `queries`: a synced document
   * they touched that now matches none of the queries of its collection left the source's
   * scope and no longer gets updates; forget it (memory and persistence). Pending writes and
   * tombstones stay.
   */
  forgetUnmatched?(queries: readonly QueryAst[], cells: readonly Cell[]): void;
  /**
   * The source stopped syncing `dropped` (a query nobody used for a while): forget every
   * synced document it matches that matches none of `remaining` (what the source still
   * syncs), in memory and in persistence. Documents with pending writes, and tombstones, stay:
   * returns false when some were kept back for their writes (call again once they settled).
   */
  forgetScope?(dropped: QueryAst, remaining: readonly QueryAst[]): boolean;
  /**
   * The server evicted these documents (issue 13, rules on reads: the caller may no longer
   * read them): forget their synced state, in memory and in persistence, so they leave every
   * live query. Nothing is written or pushed (no delete); pending writes stay in the outbox.
   */
  forgetDocuments?(docs: readonly { readonly collection: string; readonly id: string }[]): void;
  /** Report a connection status change (emits `sync.subscription:action:statusChange`). */
  setStatus(status: SubscriptionStatus): void;
  /** Report a background failure (emits `sync.error:action`). */
  reportError(error: unknown): void;
  /** A persisted value of this source (e.g. its cursor), loaded before `start`. */
  getMeta(key: string): JsonValue | undefined;
  /** Persist a value of this source (e.g. its cursor), in the client's persistence. */
  setMeta(key: string, value: JsonValue): Promise<void>;
}

/** What {@link Source.persist} is asked to send: one transaction's writes to this source. */
export interface PersistRequest {
  readonly transaction: Transaction;
  /** This source's mutations of the transaction, in order. */
  readonly mutations: readonly PendingMutation[];
  /** The same writes as cells (field-level, HLC-stamped), for cell-based backends. */
  readonly cells: readonly Cell[];
  /** Seed 001's `changes`: per document id, the fields written (`{ _deleted: true }` for a delete). */
  readonly changes: Record<string, Record<string, unknown>>;
  /** 1 for the first attempt, 2 for the first retry… */
  readonly attempt: number;
}

/** What a backend may answer to a persist. */
export interface PersistResult {
  /**
   * The backend's confirmed state of the written documents, as cells: applied to the synced
   * base when the transaction completes (a pessimistic write shows these, seed 000).
   */
  readonly cells?: readonly Cell[];
}

/** A backend adapter. */
export interface Source {
  /** Unique per client (also names its persisted meta keys). */
  readonly id: string;
  /**
   * `local`: no backend; a write is confirmed once the client's persistence has it.
   * `remote`: a write is confirmed by {@link persist} (and {@link awaitSync}).
   */
  readonly kind: 'local' | 'remote';
  /**
   * The backend runs named mutations itself (`client.mutate(name, args)`): it receives the
   * name and args, re-runs the mutator authoritatively, and its own cells come back by sync.
   */
  readonly runsMutators?: boolean;
  /**
   * The app schema version this source's backend is told writes are in (seed 003 / issue 13
   * schema evolution). A transaction is stamped with it when committed and keeps it in the
   * outbox, so a write made before an app update is still sent as the version it was written
   * in (and upcast by the server), not as the new build's.
   */
  readonly schemaVersion?: number | undefined;
  /** Start bringing data in; resolves once the initial data is applied (the collection is ready). */
  start?(context: SourceContext): void | Promise<void>;
  /**
   * Send one transaction's writes. Resolve when the backend accepted them; throw to fail the
   * attempt (retried with backoff) or throw `NonRetriableError` to fail the transaction.
   */
  persist(request: PersistRequest): Promise<PersistResult | void>;
  /** Resolve once the backend's sync has delivered the persisted writes (seed 001). */
  awaitSync?(request: PersistRequest): Promise<void>;
  /** Stop bringing data in and release connections. */
  stop?(): void | Promise<void>;
}
