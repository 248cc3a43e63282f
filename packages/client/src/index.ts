/**
 * @omnisync/client — the local store (synced base + optimistic overlay), collections,
 * transactions and their outbox, sources, persistence, events. Explicit exports only: what
 * is not named here is internal.
 */

// Client and collections
export { createClient, createLeanClient } from './client.js';
export { inspectFeature, multiTabFeature, mutatorsFeature, roomsFeature } from './features.js';
export type { ClientFeatures } from './features.js';
export type { Client, ClientOptions, CollectionConfig } from './client.js';
export type { Room, RoomEvent, RoomMember, RoomPresence, RoomStatus } from './rooms/room.js';
export { createCollection, getDefaultClient, setDefaultClient } from './create-collection.js';
export type { CreateCollectionOptions } from './create-collection.js';
export { Collection } from './collection/collection.js';
export type { CollectionStatus, UpdateChange, WriteOptions } from './collection/collection.js';

// Multiple tabs: one shared replica, one leader talks to the server
export { createInProcessTabLock } from './multitab/in-process-lock.js';
export type { MultiTabOptions, TabChannel, TabLock, TabStatus } from './multitab/types.js';

// Named mutations (seed 002): mutators are defined in core, shared with the server
export { defineMutators, MutationRejectedError } from '@omnisync/core';
export type { Mutator, Mutators, MutatorTx } from '@omnisync/core';
export type { MutateArgs, MutatorArgs } from './mutators/mutate.js';

// Store (the query engine's view of the client)
export { ClientStore } from './store/client-store.js';
export type { StoreListener, CollectionViewOptions } from './store/client-store.js';

// Transactions (seed 001 names)
export { Transaction } from './transactions/transaction.js';
export type { TransactionOptions } from './transactions/transaction.js';
export { reduceTransaction, canTransition } from './transactions/reducer.js';
export type { TransactionAction, TransactionSnapshot } from './transactions/reducer.js';
export { getLockedObjects } from './transactions/locks.js';
export {
  resolveHistory,
  HISTORY_TRANSACTIONS_DEFAULT,
  HISTORY_MUTATIONS_DEFAULT,
} from './transactions/history.js';
export type { HistoryOptions } from './transactions/history.js';
export {
  retryDelay,
  resolveRetry,
  RETRY_DEFAULT_RETRIES,
  RETRY_BASE_DELAY_MS,
  RETRY_MAX_DELAY_MS,
  RETRY_FACTOR,
  RETRY_JITTER,
} from './transactions/retry.js';
export type { ResolvedRetry } from './transactions/retry.js';
export { FINISHED_STATES, entityKey } from './types.js';
export type {
  Attempt,
  Doc,
  MutationState,
  MutationStrategy,
  MutationType,
  PendingMutation,
  RetryOptions,
  TransactionError,
  TransactionState,
} from './types.js';

// Sources
export { createLocalOnlySource } from './sources/local-only.js';
export { createSyncSource } from './sources/sync-mutation.js';
export type { MutationFn, SyncConfig, SyncInstance, SyncSourceOptions } from './sources/sync-mutation.js';
export type {
  PersistRequest,
  PersistResult,
  RemoteDocument,
  RemoteDocuments,
  Source,
  SourceContext,
  SubscriptionStatus,
} from './sources/types.js';

// Seed 004 SyncProvider source (conformance suite in @omnisync/client/testing)
export { createSyncProviderSource } from './sources/bindings/sync-provider-source.js';
export type { SyncProviderSource } from './sources/bindings/sync-provider-source.js';
export { SYNC_PROVIDER_PAGE_SIZE } from './sources/bindings/sync-provider-types.js';
export type {
  PendingOp,
  PullRequest,
  PullResponse,
  PushBatch,
  PushOpResult,
  PushResult,
  SyncChange,
  SyncProvider,
  SyncProviderSourceOptions,
  SyncScope,
  SyncStamp,
} from './sources/bindings/sync-provider-types.js';

// OmniSync server source and its transport (protocol v1 over HTTP + WebSocket)
export { createServerSource } from './sources/omnisync-server/server-source.js';
export {
  HEARTBEAT_MS,
  POLL_INTERVAL_MS,
  PUSH_BATCH_SIZE,
} from './sources/omnisync-server/server-source-types.js';
export type { ServerSource, ServerSourceOptions } from './sources/omnisync-server/server-source-types.js';
export type { SyncQueryInput } from './sources/omnisync-server/query-set.js';
export { serverSourceFromOptions, syncSources } from './sources/omnisync-server/client-options.js';
export type { ServerClientOptions } from './sources/omnisync-server/client-options.js';
export { PARTITION_TIMEOUT_MS, reduceStatus } from './sources/omnisync-server/sync-status.js';
export type {
  ServerSyncState,
  ServerSyncStatus,
  StatusAction,
} from './sources/omnisync-server/sync-status.js';
export { createHttpTransport, endpointUrl, REQUEST_TIMEOUT_MS } from './transport/http-transport.js';
export type { HttpTransport, HttpTransportOptions } from './transport/http-transport.js';
export { liveUrl } from './transport/live-session.js';
export {
  backoffDelay,
  resolveBackoff,
  BACKOFF_BASE_DELAY_MS,
  BACKOFF_MAX_DELAY_MS,
} from './transport/backoff.js';
export type { BackoffOptions } from './transport/backoff.js';
export type {
  FetchInit,
  FetchLike,
  FetchResponseLike,
  TokenFunction,
  TokenRequest,
  WebSocketConstructor,
  WebSocketLike,
} from './transport/types.js';

// Inspection for devtools (experimental)
export { INSPECT_TRANSITIONS } from './inspect/inspector.js';
export type {
  ClientInspector,
  FieldInspection,
  InspectedWrite,
  InspectOptions,
  LiveQueryInspection,
  SourceInspection,
  TransactionTransition,
  WriteStatus,
} from './inspect/inspector.js';
export { INSPECT_FIELDS, INSPECT_WRITES_PER_FIELD, originOf } from './inspect/field-log.js';
export type { FieldRef, FieldSummary, SeenWrite } from './inspect/field-log.js';
export type { OutboxItem } from './sources/omnisync-server/server-source-types.js';

// Events
export type { ClientEvent, ClientEventOf, ClientEventType, EventStream } from './events.js';

// Persistence contract
export type {
  Persistence,
  PersistenceBatch,
  PersistedState,
  PersistedTransaction,
} from './persistence/types.js';
// (added by the React/Todo helper: the browser app needs the IndexedDB persistence from the main entry)
export {
  createMemoryPersistence,
  createMemoryPersistenceStore,
  createIndexedDbPersistence,
} from './persistence/index.js';
// A persistence over any page/record store (the OPFS adapter's base)
export { createJournaledPersistence } from './persistence/journaled.js';
export type {
  JournalBackend,
  JournalContents,
  JournaledPersistence,
  JournaledPersistenceOptions,
} from './persistence/journaled.js';

// Errors apps meet from the client (defined in core; re-exported for one import)
export {
  NonRetriableError,
  SchemaOutdatedError,
  DependencyFailedError,
  DuplicateKeyError,
  NotFoundError,
  SchemaError,
  PersistenceCorruptError,
  PersistenceError,
  PersistenceQuotaError,
  OmniSyncError,
  ProviderError,
  ProtocolError,
} from '@omnisync/core';

// State API (seed 000): defineState, the state proxy, META/meta, Omni.write, bindings, SSR
export {
  defineState,
  createState,
  META,
  meta,
  Omni,
  StateObserver,
  observeNode,
  isStateNode,
  liveQuery,
  queryEngineOf,
  dehydrate,
  hydrate,
  resolveHeaders,
  toQueryOptions,
  SQLBinding,
} from './state/index.js';
export type {
  BackendBinding,
  CollectionNode,
  DehydratedState,
  DocOfSpec,
  Entity,
  HttpBindingOptions,
  SQLBindingOptions,
  HeadersOption,
  LocalNode,
  LocalOptions,
  MetaState,
  MutationRequest,
  ObservedRead,
  OmniState,
  OmniWriteOptions,
  QueryNode,
  QueryOptions,
  QueryRequest,
  StateDefinition,
  StateOf,
  StateSpec,
  SyncedOptions,
  SyncedSpec,
  UnsubscribeFn,
} from './state/index.js';
