/**
 * The shapes of `client.experimental_inspect` (see inspector.ts): what it records and what it
 * answers. Experimental: they may change.
 */
import type {
  CellValue,
  Completeness,
  JsonValue,
  QueryAst,
  QueryStatus,
  ReadonlySignal,
  Scheduler,
} from '@omnisync/core';
import type { EventStream } from '../events.js';
import type { ServerSyncStatus } from '../sources/omnisync-server/sync-status.js';
import type { OutboxItem } from '../sources/omnisync-server/server-source-types.js';
import type { SubscriptionStatus } from '../sources/types.js';
import type { ClientStore } from '../store/client-store.js';
import type { Transaction } from '../transactions/transaction.js';
import type { TransactionState } from '../types.js';
import type { FieldRef, FieldSummary, SeenWrite } from './field-log.js';

/** Default most transaction state changes kept. */
export const INSPECT_TRANSITIONS = 1_000;

/** Bounds of the inspector's record. */
export interface InspectOptions {
  /** Most writes kept per field (default 16; the oldest goes first). */
  readonly writesPerField?: number;
  /** Most fields kept (default 1,000; the least recently written goes first). */
  readonly fields?: number;
  /** Most transaction state changes kept (default 1,000). */
  readonly transitions?: number;
}

/** One state change of a transaction, as the inspector saw it. */
export interface TransactionTransition {
  readonly transactionId: string;
  readonly from: TransactionState;
  readonly to: TransactionState;
  /** Scheduler time (ms). */
  readonly at: number;
}

/** One source of the client and where it stands. */
export interface SourceInspection {
  readonly id: string;
  readonly kind: 'local' | 'remote';
  readonly collections: readonly string[];
  /** The kernel's subscription status (seed 004). */
  readonly status: SubscriptionStatus;
  /** Its start: `ready` once the initial data is applied. */
  readonly state: 'idle' | 'starting' | 'ready' | 'error';
  readonly error?: Error;
  /** The OmniSync-server source's own status: state, cursor, pending count, transport. */
  readonly server?: ServerSyncStatus;
  /** The OmniSync-server source's outbox, in push order. */
  readonly outbox?: readonly OutboxItem[];
  /** What the source keeps in the client's persisted meta (cursors of other sources). */
  readonly meta: Readonly<Record<string, JsonValue>>;
}

/** One live query in use. */
export interface LiveQueryInspection {
  readonly hash: string;
  readonly collection: string;
  readonly ast: QueryAst;
  readonly status: QueryStatus;
  readonly completeness: Completeness;
  /** Rows of a list query; undefined for a `get` or an aggregate. */
  readonly rows: number | undefined;
  readonly error?: string;
}

/**
 * Where one write stands: `winner` (the synced value), `pending` (a local write not yet
 * confirmed: shown, and sent), `lost` (an older HLC than the winner, or beaten by a
 * delete), `waiting` (newer than the synced value but not applied yet: held behind a pending
 * local write, or its document was forgotten).
 */
export type WriteStatus = 'winner' | 'pending' | 'lost' | 'waiting';

/** A write of a field with where it stands. */
export interface InspectedWrite extends SeenWrite {
  readonly status: WriteStatus;
}

/** Why a field has its value. */
export interface FieldInspection extends FieldRef {
  /** Every write known, newest HLC first (the last-write-wins order). */
  readonly writes: readonly InspectedWrite[];
  /** The synced winner (also in `writes`); undefined when no source confirmed a value. */
  readonly winner: InspectedWrite | undefined;
  /** The value the app sees now (pending writes included); undefined when not visible. */
  readonly visible: CellValue | undefined;
  /** The document's tombstone: a delete wins over every write, whatever its HLC. */
  readonly deleted?: { readonly hlc: string; readonly origin: string };
  /** Whether writes are being recorded (off: only the synced winner and pending writes are known). */
  readonly recording: boolean;
}

/** What the inspector reads of its client. @internal */
export interface InspectorHost {
  readonly store: ClientStore;
  readonly events: EventStream;
  readonly scheduler: Scheduler;
  readonly transactions: ReadonlySignal<readonly Transaction[]>;
  sources(): readonly SourceInspection[];
  /** Signals to watch for live updates (the server sources' status). */
  statusSignals(): readonly ReadonlySignal<unknown>[];
  liveQueries(): readonly LiveQueryInspection[];
}

/** The client's inspection API (experimental: its shape may change). */
export interface ClientInspector {
  /** True while recording. */
  readonly enabled: boolean;
  /** Start recording (again, with new bounds: what was recorded is kept). */
  enable(options?: InspectOptions): void;
  /** Stop recording and drop what was recorded. */
  disable(): void;
  /** Why `field` of document `id` has its value: the writes seen, the winner marked. */
  field(collection: string, id: string, field: string): FieldInspection;
  /** The fields written while recording, most recently written first. */
  fields(): readonly FieldSummary[];
  /** The fields of one document: recorded ones, then the rest of its synced fields. */
  fieldsOf(collection: string, id: string): readonly string[];
  /** Active and recently finished transactions, oldest first (the client's list). */
  transactions(): readonly Transaction[];
  /** Transaction state changes seen while recording, oldest first (of one transaction, or all). */
  transitions(transactionId?: string): readonly TransactionTransition[];
  /** The client's sources, with status, cursor and outbox. */
  sources(): readonly SourceInspection[];
  /** The live queries in use, with their status and completeness. */
  liveQueries(): readonly LiveQueryInspection[];
  /**
   * Call `listener` after anything shown here may have changed (events, store changes,
   * transaction list, source status, recorded writes). Synchronous and frequent: coalesce
   * (e.g. per animation frame) before rendering. Returns unsubscribe.
   */
  subscribe(listener: () => void): () => void;
}
