import { describe, expect, it } from 'vitest';
import {
  assert,
  ClockDriftError,
  DependencyFailedError,
  ERROR_CODES,
  type ErrorCode,
  ForbiddenError,
  fromWireError,
  HlcParseError,
  InvalidCellError,
  InvalidStateError,
  InvalidValueError,
  isErrorCode,
  MutationRejectedError,
  NetworkError,
  NonRetriableError,
  NotFoundError,
  OmniSyncError,
  PayloadTooLargeError,
  PersistenceCorruptError,
  PersistenceError,
  PersistenceUnavailableError,
  ProtocolError,
  QueryError,
  SchemaError,
  StorageError,
  toError,
  toOmniSyncError,
  toWireError,
  UnauthorizedError,
  ValidationError,
} from './index.js';

const CLASSES: [
  new (message: string, options?: { details?: Record<string, unknown> }) => OmniSyncError,
  ErrorCode,
][] = [
  [ValidationError, 'invalid_input'],
  [InvalidCellError, 'invalid_cell'],
  [InvalidValueError, 'invalid_value'],
  [HlcParseError, 'invalid_hlc'],
  [ClockDriftError, 'clock_drift'],
  [SchemaError, 'schema_invalid'],
  [QueryError, 'query_invalid'],
  [ProtocolError, 'protocol_invalid'],
  [NotFoundError, 'not_found'],
  [UnauthorizedError, 'unauthorized'],
  [ForbiddenError, 'forbidden'],
  [PayloadTooLargeError, 'payload_too_large'],
  [PersistenceCorruptError, 'persistence_corrupt'],
  [PersistenceError, 'persistence_failed'],
  [PersistenceUnavailableError, 'persistence_unavailable'],
  [StorageError, 'storage_failed'],
  [NetworkError, 'network'],
  [InvalidStateError, 'invalid_state'],
  [MutationRejectedError, 'mutation_rejected'],
  [NonRetriableError, 'non_retriable'],
  [DependencyFailedError, 'dependency_failed'],
];

describe('OmniSyncError classes', () => {
  it.each(CLASSES)('%o has a stable code, its own name, and the HTTP status of its code', (Cls, code) => {
    const e = new Cls('what went wrong; what to do', { details: { field: 'title' } });
    expect(e).toBeInstanceOf(OmniSyncError);
    expect(e).toBeInstanceOf(Error);
    expect(e.code).toBe(code);
    expect(e.name).toBe(Cls.name);
    expect(e.status).toBe(ERROR_CODES[code]);
    expect(e.details).toEqual({ field: 'title' });
  });

  it.each(CLASSES)(
    '%o survives toWireError → fromWireError with its class, code, message and details',
    (Cls, code) => {
      const wire = toWireError(new Cls('bad thing', { details: { n: 1 } }));
      expect(wire).toEqual({ error: { code, message: 'bad thing', details: { n: 1 } } });
      // The wire form is JSON.
      const back = fromWireError((JSON.parse(JSON.stringify(wire)) as typeof wire).error);
      expect(back).toBeInstanceOf(Cls);
      expect(back.code).toBe(code);
      expect(back.message).toBe('bad thing');
      expect(back.details).toEqual({ n: 1 });
    },
  );

  it('every code in ERROR_CODES round-trips through the wire form', () => {
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      const e = fromWireError({ code, message: `m-${code}` });
      expect(e).toBeInstanceOf(OmniSyncError);
      expect(e.code).toBe(code);
      const again = fromWireError(toWireError(e).error);
      expect(again.constructor).toBe(e.constructor);
      expect(again.code).toBe(code);
      expect(toWireError(e)).toEqual({ error: { code, message: `m-${code}` } });
    }
  });

  it('an unknown code from the wire becomes internal, keeping the message', () => {
    const e = fromWireError({ code: 'no_such_code' as ErrorCode, message: 'x' });
    expect(e.code).toBe('internal');
    expect(e.message).toBe('x');
    expect(isErrorCode('no_such_code')).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
    expect(isErrorCode('invalid_cell')).toBe(true);
  });

  it('keeps the cause when one is given', () => {
    const cause = new Error('root');
    expect(new StorageError('write failed', { cause }).cause).toBe(cause);
  });
});

describe('toOmniSyncError / toError', () => {
  it('returns an OmniSyncError as it is', () => {
    const e = new NotFoundError('gone');
    expect(toOmniSyncError(e)).toBe(e);
    expect(toError(e)).toBe(e);
  });

  it('wraps an Error with code internal (or the fallback), keeping it as the cause', () => {
    const err = new TypeError('boom');
    const e = toOmniSyncError(err);
    expect(e.code).toBe('internal');
    expect(e.message).toBe('boom');
    expect(e.cause).toBe(err);
    expect(toOmniSyncError(err, 'network').code).toBe('network');
    expect(toError(err)).toBe(err);
  });

  it.each<[string, unknown, RegExp]>([
    ['a string', 'plain text', /plain text/],
    ['an object', { reason: 'x', n: 1 }, /\{"reason":"x","n":1\}/],
    ['null', null, /null/],
    ['undefined', undefined, /undefined/],
    ['a number', 42, /42/],
    ['a BigInt (JSON cannot stringify it)', 10n, /10/],
    [
      'a cyclic object',
      (() => {
        const o: Record<string, unknown> = {};
        o.o = o;
        return o;
      })(),
      /object/,
    ],
    ['a symbol', Symbol('s'), /Symbol\(s\)/],
  ])('normalises %s into an OmniSyncError whose message shows it', (_name, thrown, message) => {
    const e = toOmniSyncError(thrown);
    expect(e).toBeInstanceOf(OmniSyncError);
    expect(e.code).toBe('internal');
    expect(e.message).toMatch(message);
    expect(e.cause).toBe(thrown);
    expect(toError(thrown)).toBeInstanceOf(OmniSyncError);
  });

  it('toWireError of a non-OmniSync error is internal and does not leak its message', () => {
    const wire = toWireError(new Error('connect ECONNREFUSED 10.1.2.3:5432 password=hunter2'));
    expect(wire.error.code).toBe('internal');
    expect(wire.error.message).not.toMatch(/ECONNREFUSED|hunter2/);
    expect(toWireError('secret string').error.message).not.toMatch(/secret/);
    expect(fromWireError(wire.error).code).toBe('internal');
    // Also once toOmniSyncError has wrapped it (a server normalises before it answers).
    const wrapped = toWireError(toOmniSyncError(new Error('SELECT secret FROM t')));
    expect(wrapped.error).toMatchObject({ code: 'internal' });
    expect(wrapped.error.message).not.toMatch(/secret/);
    // An OmniSync internal error of its own (no foreign cause) keeps its message.
    expect(toWireError(new OmniSyncError('internal', 'Invariant violated: x')).error.message).toBe(
      'Invariant violated: x',
    );
  });
});

describe('assert', () => {
  it('throws an internal OmniSyncError that names itself a bug', () => {
    expect(() => assert(false, 'x must be y')).toThrow(expect.objectContaining({ code: 'internal' }));
    expect(() => assert(0, 'x must be y')).toThrow(/x must be y.*bug in OmniSync/);
    assert(true, 'never');
  });
});
