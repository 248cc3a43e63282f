/**
 * One root error for everything a user of OmniSync can meet. Each subclass carries a
 * stable `code` (part of the public contract: match on `code`, not on the message) and a
 * message that says what was wrong and what to do about it.
 *
 * Wire errors are data: `{ error: { code, message } }`, built by {@link toWireError} and
 * turned back into the right class by {@link fromWireError}.
 */

/** Every stable error code, with the HTTP status a server answers it with. */
export const ERROR_CODES = {
  invalid_input: 400,
  invalid_cell: 400,
  invalid_value: 400,
  invalid_hlc: 400,
  clock_drift: 400,
  schema_invalid: 400,
  query_invalid: 400,
  protocol_invalid: 400,
  unknown_message: 400,
  not_found: 404,
  unauthorized: 401,
  forbidden: 403,
  permission_denied: 403,
  payload_too_large: 413,
  rate_limited: 429,
  conflict: 409,
  duplicate_key: 409,
  sql_refused: 400,
  non_retriable: 400,
  mutation_rejected: 422,
  dependency_failed: 409,
  persistence_corrupt: 500,
  persistence_failed: 500,
  persistence_quota: 507,
  persistence_unavailable: 503,
  storage_failed: 500,
  network: 503,
  provider_failed: 503,
  offline: 503,
  closed: 503,
  invalid_state: 409,
  schema_outdated: 409,
  internal: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface OmniSyncErrorOptions {
  cause?: unknown;
  /** Extra machine-readable detail (collection, field, path…); travels on the wire. */
  details?: Record<string, unknown>;
}

/** The root of every OmniSync error. */
export class OmniSyncError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: OmniSyncErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'OmniSyncError';
    this.code = code;
    this.details = options.details;
  }

  /** HTTP status for this error's code. */
  get status(): number {
    return ERROR_CODES[this.code];
  }
}

const subclass = <C extends ErrorCode>(name: string, code: C) => {
  const cls = class extends OmniSyncError {
    declare readonly code: C;
    constructor(message: string, options?: OmniSyncErrorOptions) {
      super(code, message, options);
      this.name = name;
    }
  };
  Object.defineProperty(cls, 'name', { value: name });
  return cls;
};

/** Input that is malformed in general (wrong type, missing property, bad id). */
export class ValidationError extends subclass('ValidationError', 'invalid_input') {}
/** A cell that cannot be applied: no field, bad id, bad collection. */
export class InvalidCellError extends subclass('InvalidCellError', 'invalid_cell') {}
/** A value that cannot be stored (function, symbol, BigInt, NaN, Infinity, cyclic object…). */
export class InvalidValueError extends subclass('InvalidValueError', 'invalid_value') {}
/** A hybrid logical clock string that does not parse. */
export class HlcParseError extends subclass('HlcParseError', 'invalid_hlc') {}
/** A remote clock further ahead of ours than `maxDriftMs`. */
export class ClockDriftError extends subclass('ClockDriftError', 'clock_drift') {}
/** A document that fails its collection's schema. */
export class SchemaError extends subclass('SchemaError', 'schema_invalid') {}
/** A protocol message of a kind this server does not know (e.g. `{type:'frobnicate'}`). */
export class UnknownMessageError extends subclass('UnknownMessageError', 'unknown_message') {}
/** Too many requests or messages in a short time; slow down and retry later. */
export class RateLimitedError extends subclass('RateLimitedError', 'rate_limited') {}
/** A malformed query. */
export class QueryError extends subclass('QueryError', 'query_invalid') {}
/** A protocol message that does not match its schema. */
export class ProtocolError extends subclass('ProtocolError', 'protocol_invalid') {}
/** An update or delete of a document that does not exist, or an unknown app/route. */
export class NotFoundError extends subclass('NotFoundError', 'not_found') {}
/** Missing, expired or invalid credentials. */
export class UnauthorizedError extends subclass('UnauthorizedError', 'unauthorized') {}
/** Valid credentials that do not grant this access (e.g. another app's token). */
export class ForbiddenError extends subclass('ForbiddenError', 'forbidden') {}
/**
 * A write or read the app's permission rules (`defineRules`) do not allow. Not retried: the
 * transaction fails and rolls back. `details`: `{ collection, id?, operation, rule, clause }`.
 */
export class PermissionDeniedError extends subclass('PermissionDeniedError', 'permission_denied') {}
/** A request body or message over the size limit. */
export class PayloadTooLargeError extends subclass('PayloadTooLargeError', 'payload_too_large') {}
/** Persisted local data that cannot be read back; never silently emptied. */
export class PersistenceCorruptError extends subclass('PersistenceCorruptError', 'persistence_corrupt') {}
/** A persistence backend that failed to read or write. */
export class PersistenceError extends subclass('PersistenceError', 'persistence_failed') {}
/**
 * Local storage is full (browser quota, `QuotaExceededError`; disk full, `ENOSPC`/`EDQUOT`):
 * the write was not stored, nothing stored before it was lost. Show it to the user (free
 * space, or ask for persistent storage) and retry.
 */
export class PersistenceQuotaError extends subclass('PersistenceQuotaError', 'persistence_quota') {}
/**
 * A persistence backend that cannot run here at all (no OPFS, its worker failed to start, the
 * store is held by another tab): fall back to another persistence (IndexedDB).
 */
export class PersistenceUnavailableError extends subclass(
  'PersistenceUnavailableError',
  'persistence_unavailable',
) {}
/** A server storage failure (the write was not acknowledged). */
export class StorageError extends subclass('StorageError', 'storage_failed') {}
/** The network failed or the server could not be reached; retried automatically. */
export class NetworkError extends subclass('NetworkError', 'network') {}
/** A sync provider (seed 004 SyncProvider) threw or refused for a reason worth retrying. */
export class ProviderError extends subclass('ProviderError', 'provider_failed') {}
/** An operation on something in the wrong state (closed client, finished transaction…). */
export class InvalidStateError extends subclass('InvalidStateError', 'invalid_state') {}
/** A server-side named mutation refused the change; the reason is in the message. */
export class MutationRejectedError extends subclass('MutationRejectedError', 'mutation_rejected') {}

/**
 * Thrown from a persist function (or produced by the server) to stop retrying at once:
 * the transaction fails and its optimistic changes roll back. Seed 001's name.
 */
export class NonRetriableError extends subclass('NonRetriableError', 'non_retriable') {}

/** A transaction that failed because the transaction it was queued behind failed. */
export class DependencyFailedError extends subclass('DependencyFailedError', 'dependency_failed') {}

/** An insert of a document id that already exists (or was deleted: ids are never reused). */
export class DuplicateKeyError extends subclass('DuplicateKeyError', 'duplicate_key') {}
/**
 * The server cannot accept writes of this client's schema version: the client is older than
 * the oldest version the server can upcast, or newer than the server. Nothing was applied;
 * the client keeps its outbox and stops pushing until the app (or the server) is updated.
 * `details`: `{ clientVersion, serverVersion, oldestVersion }`.
 */
export class SchemaOutdatedError extends subclass('SchemaOutdatedError', 'schema_outdated') {}
/** A SQL request that is not one of the statement shapes the SQL runner executes, or touches a table or column it does not allow. */
export class SqlRefusedError extends subclass('SqlRefusedError', 'sql_refused') {}

const BY_CODE: Partial<Record<ErrorCode, new (m: string, o?: OmniSyncErrorOptions) => OmniSyncError>> = {
  invalid_input: ValidationError,
  invalid_cell: InvalidCellError,
  invalid_value: InvalidValueError,
  invalid_hlc: HlcParseError,
  clock_drift: ClockDriftError,
  schema_invalid: SchemaError,
  query_invalid: QueryError,
  protocol_invalid: ProtocolError,
  unknown_message: UnknownMessageError,
  rate_limited: RateLimitedError,
  not_found: NotFoundError,
  unauthorized: UnauthorizedError,
  forbidden: ForbiddenError,
  permission_denied: PermissionDeniedError,
  payload_too_large: PayloadTooLargeError,
  persistence_corrupt: PersistenceCorruptError,
  persistence_failed: PersistenceError,
  persistence_quota: PersistenceQuotaError,
  persistence_unavailable: PersistenceUnavailableError,
  storage_failed: StorageError,
  network: NetworkError,
  provider_failed: ProviderError,
  invalid_state: InvalidStateError,
  mutation_rejected: MutationRejectedError,
  non_retriable: NonRetriableError,
  dependency_failed: DependencyFailedError,
  duplicate_key: DuplicateKeyError,
  sql_refused: SqlRefusedError,
  schema_outdated: SchemaOutdatedError,
};

/** The wire form of an error. */
export interface WireError {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/** Serialise any thrown value to the wire form; unknown errors become `internal` without leaking internals. */
export function toWireError(err: unknown): WireError {
  // A foreign error's message may hold hosts, SQL or secrets: it stays on this side. That
  // includes one that toOmniSyncError wrapped as `internal` (the foreign error is its cause).
  if (
    !(err instanceof OmniSyncError) ||
    (err.code === 'internal' && err.cause !== undefined && !(err.cause instanceof OmniSyncError))
  )
    return {
      error: {
        code: 'internal',
        message:
          'Internal error (details are not sent over the wire); retry later, and report it if it persists.',
      },
    };
  const e = err;
  return e.details === undefined
    ? { error: { code: e.code, message: e.message } }
    : { error: { code: e.code, message: e.message, details: e.details } };
}

/** Rebuild the typed error from its wire form. */
export function fromWireError(wire: WireError['error']): OmniSyncError {
  const code: ErrorCode = isErrorCode(wire.code) ? wire.code : 'internal';
  const Cls = BY_CODE[code];
  const opts: OmniSyncErrorOptions = wire.details === undefined ? {} : { details: wire.details };
  return Cls ? new Cls(wire.message, opts) : new OmniSyncError(code, wire.message, opts);
}

/**
 * Normalise `unknown` (anything a callback may throw: strings, objects, null) into an
 * OmniSyncError, keeping the original as `cause`.
 */
export function toOmniSyncError(err: unknown, fallback: ErrorCode = 'internal'): OmniSyncError {
  if (err instanceof OmniSyncError) return err;
  if (err instanceof Error) return new OmniSyncError(fallback, err.message || err.name, { cause: err });
  let text: string;
  try {
    text = typeof err === 'string' ? err : (JSON.stringify(err) ?? String(err));
  } catch {
    text = String(err);
  }
  return new OmniSyncError(fallback, `Non-Error value thrown: ${text}`, { cause: err });
}

/** Normalise `unknown` into an `Error` (keeping OmniSyncErrors and Errors as they are). */
export function toError(err: unknown): Error {
  return err instanceof Error ? err : toOmniSyncError(err);
}

/** Invariant check, always on. A failure is a bug in OmniSync, not in the caller. */
export function assert(cond: unknown, message: string): asserts cond {
  if (!cond)
    throw new OmniSyncError('internal', `Invariant violated: ${message}. This is a bug in OmniSync.`);
}
