/**
 * @omnisync/core — the isomorphic heart of OmniSync: hybrid logical clocks, cells and
 * their merge, reactive primitives, errors. (Schema, query engine and protocol are
 * exported here as they land.)
 */
export {
  ERROR_CODES,
  OmniSyncError,
  ValidationError,
  InvalidCellError,
  InvalidValueError,
  HlcParseError,
  ClockDriftError,
  SchemaError,
  QueryError,
  ProtocolError,
  NotFoundError,
  UnauthorizedError,
  ForbiddenError,
  PermissionDeniedError,
  PayloadTooLargeError,
  PersistenceCorruptError,
  PersistenceError,
  PersistenceQuotaError,
  PersistenceUnavailableError,
  StorageError,
  NetworkError,
  ProviderError,
  InvalidStateError,
  MutationRejectedError,
  NonRetriableError,
  DependencyFailedError,
  UnknownMessageError,
  RateLimitedError,
  DuplicateKeyError,
  SqlRefusedError,
  SchemaOutdatedError,
  toWireError,
  fromWireError,
  toOmniSyncError,
  toError,
  isErrorCode,
  assert,
} from './errors.js';
export type { ErrorCode, OmniSyncErrorOptions, WireError } from './errors.js';

export {
  systemClock,
  systemScheduler,
  createManualScheduler,
  systemRandom,
  seededRandom,
  randomId,
} from './clock.js';
export type { Clock, Scheduler, ManualScheduler, TimerHandle, Random } from './clock.js';

export {
  createHlc,
  encodeHlc,
  parseHlc,
  compareHlc,
  isValidHlc,
  isValidNodeId,
  HLC_ZERO,
  HLC_MAX_COUNTER,
  HLC_MAX_DRIFT_MS,
} from './hlc.js';
export type { HlcClock, HlcOptions, HlcStamp } from './hlc.js';

export {
  ObjectType,
  objectTypeOf,
  DELETED_FIELD,
  ID_FIELD,
  VALUE_MAX_DEPTH,
  ID_MAX_LENGTH,
  NAME_MAX_LENGTH,
  isValidCollectionName,
  isValidId,
  isValidFieldKey,
  isExactKey,
  inexactKeyReason,
  isValidFieldPath,
  assertStorableValue,
  validateCell,
  flattenDocument,
  unflattenDocument,
} from './cells.js';
export type { Cell, CellValue, JsonValue, FieldEntry, FlattenOptions } from './cells.js';

export { ColumnEntries, Replica, ReplicaEntry, cellWins } from './replica.js';
export type { ColumnRows, DocChange, DocRef, ReplicaOptions, Slot } from './replica.js';

export { signal, computed, effect, batch, untracked, isTracking } from './reactive/signals.js';
export type { Signal, ReadonlySignal, EffectHandle } from './reactive/signals.js';

export { t, TField, TObject } from './schema/t.js';
export type { TShape, TOutput, TInput, TIssue } from './schema/t.js';
export { FIELD_KINDS } from './schema/field.js';
export type { FieldKind, FieldSpec } from './schema/field.js';
export {
  defineCollection,
  defineSchema,
  fieldKinds,
  refManyFields,
  fieldHint,
  flattenOptions,
} from './schema/collection.js';
export type {
  CollectionDef,
  CollectionOptions,
  SchemaDef,
  InferDocument,
  InferInput,
  WithId,
  AnyStandardSchema,
} from './schema/collection.js';
export { validateDocument, validatePatch, coerceFromStorage, toSchemaIssue } from './schema/validate.js';
export type { SchemaIssue } from './schema/validate.js';
export { defineSchemaVersions, renameField, splitField, defaultField, migrate } from './schema/versions.js';
export type { SchemaVersions, SchemaVersionStep, Migration, DocWriteView } from './schema/versions.js';

// Protocol v1 (sync server owner): message schemas, codec, version history, named mutators.
export { PROTOCOL_HEADER, PROTOCOL_VERSION, PROTOCOL_HISTORY } from './protocol/version.js';
export {
  MESSAGE_MAX_BYTES,
  MESSAGE_MAX_DEPTH,
  parseMessageText,
  jsonTextDepth,
  utf8Length,
} from './protocol/json-text.js';
export type { MessageLimits } from './protocol/json-text.js';
export {
  CELL_KEY_MAX_BYTES,
  checkCellKeySize,
  checkExactJson,
  checkKey,
  checkPushKeys,
} from './protocol/exact-json.js';
export {
  decodeCursorResponse,
  decodeLiveServerMessage,
  decodePullResponse,
  decodePushResponse,
  decodeSnapshotResponse,
  readWireError,
} from './protocol/answer-decoders.js';
export type { WireErrorBody } from './protocol/answer-decoders.js';
export {
  jsonValueSchema,
  cursorSchema,
  clientIdSchema,
  mutationIdSchema,
  cellSchema,
  cellShapeSchema,
  docKeySchema,
  evictedSchema,
  querySchema,
  queriesSchema,
  QUERIES_MAX,
  mutationSchema,
  mutationResultSchema,
  wireErrorSchema,
  wireErrorBodySchema,
} from './protocol/wire-schemas.js';
export type {
  WireCell,
  WireDocKey,
  WireQuery,
  WireMutation,
  MutationResult,
} from './protocol/wire-schemas.js';
export {
  wireQueryToAst,
  syncScopeOf,
  compileSyncQuery,
  isLegacyWireQuery,
  routeKey,
} from './protocol/sync-query.js';
export type { LegacyWireQuery, SyncQuery, SyncRoute } from './protocol/sync-query.js';
export { PUSH_MUTATIONS_MAX, PULL_LIMIT_DEFAULT, PULL_LIMIT_MAX } from './protocol/limits.js';
export {
  pushRequestSchema,
  pushResponseSchema,
  pullRequestSchema,
  pullResponseSchema,
  pullChangesSchema,
  pullResetSchema,
  snapshotRequestSchema,
  snapshotResponseSchema,
  cursorRequestSchema,
  cursorResponseSchema,
} from './protocol/http-messages.js';
export type {
  PushRequest,
  PushResponse,
  PullRequest,
  PullResponse,
  SnapshotRequest,
  SnapshotResponse,
  CursorRequest,
  CursorResponse,
} from './protocol/http-messages.js';
export { LIVE_CLOSE_CODES } from './protocol/close-codes.js';
export {
  LIVE_CLIENT_MESSAGE_TYPES,
  liveClientMessageSchema,
  liveServerMessageSchema,
  helloMessageSchema,
  subscribeMessageSchema,
  unsubscribeMessageSchema,
  pushMessageSchema,
  pingMessageSchema,
  joinMessageSchema,
  leaveMessageSchema,
  presenceMessageSchema,
  eventMessageSchema,
  welcomeMessageSchema,
  changesMessageSchema,
  subscribedMessageSchema,
  resetMessageSchema,
  pokeMessageSchema,
  pongMessageSchema,
  ackMessageSchema,
  roomMessageSchema,
  presenceUpdateMessageSchema,
  roomEventMessageSchema,
  errorMessageSchema,
} from './protocol/live-messages.js';
export type { LiveClientMessage, LiveServerMessage } from './protocol/live-messages.js';
export { PROTOCOL_SCHEMAS } from './protocol/schemas.js';
export type { ProtocolSchemaName } from './protocol/schemas.js';
export {
  decodeMessage,
  describeIssue,
  decodeMessageText,
  decodeLiveClientMessage,
  encodeMessage,
} from './protocol/codec.js';
export { defineMutators } from './protocol/mutators.js';
export type { Mutator, Mutators, MutatorTx } from './protocol/mutators.js';

// ── query engine (packages/core/src/query) ──
export { q, Query, op, toQueryAst } from './query/builder.js';
export type { WhereOperator, WhereObject, FieldCondition, AggregateInput } from './query/builder.js';
export {
  validateQuery,
  validatePredicate,
  isQueryFieldPath,
  QUERY_MAX_DEPTH,
  QUERY_MAX_IN_VALUES,
  QUERY_MAX_ARGS,
  QUERY_MAX_LIMIT,
} from './query/validate.js';
export { queryHash } from './query/hash.js';
export { PREDICATE_OPS, AGGREGATE_FNS, QUERY_KEYS, queryShape } from './query/ast.js';
export type {
  QueryAst,
  Predicate,
  PredicateOp,
  Scalar,
  ComparisonOp,
  OrderTerm,
  SortDirection,
  Cursor,
  IncludeSpec,
  AggregateSpec,
  AggregateFn,
  Row,
  AggregateRow,
  QueryShape,
} from './query/ast.js';
export { createQueryEngine } from './query/engine.js';
export { defineRules, principal, isRules } from './rules/define-rules.js';
export type {
  Principal,
  RuleOperation,
  RuleCheck,
  UpdateCheck,
  FieldMask,
  CollectionRules,
  RoomRules,
  RulesInput,
  Rules,
} from './rules/define-rules.js';
export { createRulesEvaluator } from './rules/evaluate-rules.js';
export type {
  DecidingRule,
  RuleDecision,
  RulesExplanation,
  WriteCheckInput,
  RulesEvaluator,
} from './rules/evaluate-rules.js';
export { createWritesPrecheck } from './rules/precheck.js';
export type { PendingWrite, PrincipalSource, WritesPrecheck } from './rules/precheck.js';
export { compileQueryFilter } from './query/matcher.js';
export type { QueryEngine, QueryEngineOptions, QueryEngineStats, QueryInput } from './query/engine.js';
export type { LiveQuery, QueryStatus, Completeness } from './query/live-query.js';
export type { QuerySource } from './query/view.js';
export { createMemorySource } from './query/memory-source.js';
export type { MemorySource } from './query/memory-source.js';
export { compareValues, canonicalJson } from './query/values.js';
