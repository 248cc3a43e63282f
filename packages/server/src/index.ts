/**
 * @omnisync/server — the OmniSync sync server: a Fetch-API handler, a Node server with
 * WebSocket live sync, the storage contract with embedded SQLite, JWT auth, rooms, GC.
 */
export { createSyncHandler, errorResponse } from './http/handler.js';
export type { SyncHandler, SyncHandlerOptions } from './http/handler.js';
export { createServer } from './node/create-server.js';
export type { OmniSyncServer, ListenInfo } from './node/create-server.js';
export { createSyncEngine } from './engine/sync-engine.js';
export type { SyncEngine } from './engine/sync-engine.js';
export type { SyncServerOptions, LiveOptions, Authorize, AuthorizeRequest } from './engine/options.js';
export type { CompactionOptions } from './engine/compaction.js';
export { createPushSchemaCheck } from './engine/schema.js';
export type { ServerSchema, UnknownCollectionPolicy, PushSchemaCheck } from './engine/schema.js';
export { createAuthenticator, bearerToken } from './engine/auth.js';
export type { AuthContext, AuthOptions, Authenticator } from './engine/auth.js';
export { matchesQuery } from './engine/query-adapter.js';
export { createSqliteStorage } from './storage/sqlite-storage.js';
export { createPostgresStorage, createPostgresStorageFactory } from './storage/postgres-storage.js';
export type { PostgresStorageOptions, PostgresStorageFactoryOptions } from './storage/postgres-storage.js';
export type { SqliteStorage, SqliteStorageOptions, Durability } from './storage/sqlite-storage.js';
export type {
  SyncStorage,
  StorageFactory,
  StorageReader,
  StorageWriter,
  StoredCell,
  StoredDoc,
  DocKey,
  DocWrite,
  PriorCell,
  Priors,
  ChangeEntry,
  DeviceCursor,
  GcOptions,
  GcResult,
} from './storage/storage.js';
export { createLogger } from './util/logger.js';
export { createServerMetrics } from './observability/metrics.js';
export type { ServerMetrics, MetricSources, RequestKind, Transport } from './observability/metrics.js';
export type { ServerTracing, SpanName } from './observability/tracing.js';
export { requestLogMixin, REQUEST_ID_HEADER } from './observability/request-context.js';
export type { Logger, LogLevel } from './util/logger.js';
export { defineMutators, defineRules, principal } from '@omnisync/core';
export { principalOf } from './engine/rules.js';
export { checkExplainRequest, explainDocument } from './engine/explain.js';
export type { ExplainRequest, ExplainResult } from './engine/explain.js';
export { createSqlRunner } from './sql-runner/runner.js';
export type {
  SqlAllowList,
  SqlReadRequest,
  SqlRunner,
  SqlRunnerOptions,
  SqlWriteRequest,
} from './sql-runner/runner.js';
export { sqlRunnerHandler } from './sql-runner/handler.js';
export type { SqlRunnerHandlerOptions } from './sql-runner/handler.js';
export { parseSql } from './sql-runner/parse.js';
export type { SqlCondition, SqlStatement } from './sql-runner/parse.js';
