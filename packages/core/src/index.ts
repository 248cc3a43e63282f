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
  PayloadTooLargeError,
  PersistenceCorruptError,
  PersistenceError,
  StorageError,
  NetworkError,
  InvalidStateError,
  MutationRejectedError,
  NonRetriableError,
  DependencyFailedError,
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
  isValidFieldPath,
  assertStorableValue,
  validateCell,
  flattenDocument,
  unflattenDocument,
} from './cells.js';
export type { Cell, CellValue, JsonValue, FieldEntry, FlattenOptions } from './cells.js';

export { Replica, cellWins } from './replica.js';
export type { DocChange, Slot } from './replica.js';

export { signal, computed, effect, batch, untracked, isTracking } from './reactive/signals.js';
export type { Signal, ReadonlySignal, EffectHandle } from './reactive/signals.js';

export { t, TField, TObject } from './schema/t.js';
export type { TShape, TOutput, TInput, TIssue } from './schema/t.js';
export { FIELD_KINDS } from './schema/field.js';
export type { FieldKind, FieldSpec } from './schema/field.js';
export { defineCollection, defineSchema, fieldKinds, refManyFields, fieldHint } from './schema/collection.js';
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
