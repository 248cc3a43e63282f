/**
 * Public shape of the OmniSync-server source: its options, its interface, its defaults.
 */
import type { Random, ReadonlySignal, Scheduler, WireMutation } from '@omnisync/core';
import type { BackoffOptions } from '../../transport/backoff.js';
import type { FetchLike, TokenFunction, WebSocketConstructor } from '../../transport/types.js';
import type { PersistRequest, Source, SourceContext } from '../types.js';
import type { SyncQueryInput } from './query-set.js';
import type { ServerSyncStatus } from './sync-status.js';

/** Default largest number of transactions in one push. */
export const PUSH_BATCH_SIZE = 100;
/** Default pause between pulls when there is no live connection. */
export const POLL_INTERVAL_MS = 10_000;
/** Default least interval between two reports of the synced cursor to the server. */
export const CURSOR_REPORT_MS = 30_000;
/** Default time a query nobody uses stays synced (`scope: 'queries'`). */
export const QUERY_TTL_MS = 300_000;
/** Default heartbeat of the live connection. */
export const HEARTBEAT_MS = 20_000;
/** Meta key (in the client's persistence) of the cursor: every change up to it is applied. */
export const META_CURSOR = 'cursor';
/** Meta key of the id this device pushes under (the idempotency key's first half). */
export const META_CLIENT_ID = 'clientId';
/** Meta key of the queries the cursor covers. */
export const META_QUERIES = 'queries';

/** One transaction in the server source's outbox, as inspection shows it. */
export interface OutboxItem {
  /** The transaction id (the push's idempotency key, with the client id). */
  readonly id: string;
  /** A named mutation's name. */
  readonly name?: string;
  /** The cells it pushes. */
  readonly changes: WireMutation['changes'];
  /** Sent alone next: it was in a batch the server refused as a whole. */
  readonly solo: boolean;
}

/** Options of `createServerSource`. */
export interface ServerSourceOptions {
  /** The app (tenant) id. */
  readonly app: string;
  /** Base URL of the sync server, e.g. `http://127.0.0.1:8787`. */
  readonly server: string;
  /** Token function, called before each request and on each (re)connect (seed 000). */
  readonly auth?: TokenFunction;
  /** Fetch implementation (default the global one). */
  readonly fetch?: FetchLike;
  /**
   * Gzip push (and other request) bodies of 1 kB and more to a server that says it inflates
   * them (`OmniSync-Accept-Encoding`). Default: on with the global fetch, off with a `fetch`
   * of your own (it then always gets JSON text).
   */
  readonly compressRequests?: boolean;
  /**
   * WebSocket constructor for live changes (default `globalThis.WebSocket`; on Node 20 pass
   * the `ws` package's). `null` or `false`: no live connection, poll instead.
   */
  readonly WebSocket?: WebSocketConstructor | null | false;
  /** This device's id for push idempotency (default: the client's replica id, kept in its persistence). */
  readonly clientId?: string;
  /** Collections to sync (default: every collection the client gives this source). */
  readonly collections?: readonly string[];
  /**
   * Queries to sync instead of whole collections: `q('todos').where('ownerId', '=', me)`, a
   * query AST, or the protocol v1 form `{collection, where: {field: value}}`. Only documents
   * matching one of them sync (their `where` and `get`; order, limit and includes do not
   * filter). With `scope: 'queries'` these are synced from the start, besides the app's live
   * queries.
   */
  readonly queries?: readonly SyncQueryInput[];
  /**
   * What syncs: `collections` (default), every document of the collections using this
   * source (or the fixed `queries`); `queries`, only what the app's live queries on those
   * collections ask for (their `where`/`get`; a live query's results are complete once its
   * query caught up), plus the fixed `queries`. A query stays synced while a live query
   * uses it and `queryTtlMs` after the last one stopped (remembered across restarts).
   */
  readonly scope?: 'collections' | 'queries';
  /**
   * `scope: 'queries'`: how long a query nobody uses stays synced, in ms (default 300 000;
   * `false`: for good). Then it stops syncing and its documents that no other synced query
   * matches are forgotten (not those with pending writes); used again, it catches up anew.
   */
  readonly queryTtlMs?: number | false;
  /** Largest number of transactions in one push (default 100). */
  readonly batchSize?: number;
  /**
   * The schema version this build of the app writes (see `defineSchemaVersions`), sent with
   * every push: a server on a newer version upcasts these writes; one that cannot answers
   * `schema_outdated`, and this source keeps its outbox and stops (status `error` with a
   * {@link SchemaOutdatedError}) until `sync()` or a new write tries again. Default: none sent.
   */
  readonly schemaVersion?: number;
  /** Pull page size in change-log entries (default: the server's, 1000). */
  readonly pullLimit?: number;
  /** Pause between pulls without a live connection, in ms (default 10 000). */
  readonly pollIntervalMs?: number;
  /**
   * Tell the server how far this device has synced (seed 004 `updateCursor`; `POST cursor`,
   * what `deviceCursors()` lists for choosing a compaction horizon): the persisted cursor,
   * at most once per this many ms (default 30 000); `false` never reports.
   */
  readonly cursorReportMs?: number | false;
  /** A request or connect not answered within this many ms counts as lost (default 30 000). */
  readonly requestTimeoutMs?: number;
  /** Live heartbeat, in ms (default 20 000): a socket silent for two beats is replaced. */
  readonly heartbeatMs?: number;
  /** After this long offline the status says `partitioned` (default 60 000, seed 003). */
  readonly partitionTimeoutMs?: number;
  /** Reconnect and retry backoff (capped exponential with jitter; default 500 ms × 2ⁿ up to 30 s). */
  readonly backoff?: BackoffOptions;
  /** `changes` (default): the socket carries cells; `poke`: it only says "pull now". */
  readonly liveMode?: 'changes' | 'poke';
  /** Time (default: the client's scheduler). */
  readonly scheduler?: Scheduler;
  /** Randomness for backoff jitter (default the platform's). */
  readonly random?: Random;
  /** Source id (default `omnisync:<app>`); names its persisted meta keys. */
  readonly id?: string;
}

/** The OmniSync-server source: a `Source` plus its status and on-demand sync. */
export interface ServerSource extends Source {
  readonly kind: 'remote';
  /** Named mutations are re-run by the server's mutators. */
  readonly runsMutators: true;
  /** Online/offline/syncing, pending count, partition: a signal (read it in an effect or computed). */
  readonly status: ReadonlySignal<ServerSyncStatus>;
  /** The id this device pushes under (known once started). */
  readonly clientId: string | undefined;
  /**
   * Push everything waiting and pull until caught up. Resolves when done; rejects with the
   * error when the server cannot be reached (the source keeps retrying in the background).
   */
  sync(): Promise<void>;
  start(context: SourceContext): Promise<void>;
  /** What syncs (see {@link ServerSourceOptions.scope}). */
  readonly scope: 'collections' | 'queries';
  /**
   * Sync the documents of `query` too (`scope: 'queries'`; live queries call this). Resolves
   * once its data is applied, at once when already synced; throws QueryError for a malformed
   * query, ValidationError in `collections` scope or for a collection of another source.
   */
  want(query: SyncQueryInput): Promise<void>;
  /**
   * One user of `query` (a live query, which called {@link want}) stopped. When none is
   * left, the query stops syncing after `queryTtlMs`, unless wanted again before.
   */
  release(query: SyncQueryInput): void;
  /** True when the documents of `query` are here (its sync scope caught up), else false. */
  isSynced(query: SyncQueryInput): boolean;
  /**
   * Queue one transaction's cells (and, for a named mutation, its name and args) for the
   * server; resolves with its acknowledgement.
   */
  persist(request: PersistRequest): Promise<void>;
  /** The transactions waiting for the server's acknowledgement, in push order (experimental: for devtools). */
  experimental_outbox(): readonly OutboxItem[];
  /** Resolves once a named mutation's result (the server's own cells) has been pulled; at once for others. */
  awaitSync(request: PersistRequest): Promise<void>;
  stop(): Promise<void>;
}
