/**
 * Hand-written decoders for what a server answers (HTTP responses, wire errors, live server
 * messages), for clients. The server validates what it receives with the zod schemas
 * (http-messages.ts, live-messages.ts); a client trusts its own server but still checks each
 * answer's shape, cheaply and without zod in its bundle. They accept what the schemas accept
 * (answer-decoders.test.ts checks them against each other), keep only the keys the schemas
 * keep, and throw a {@link ProtocolError} naming the path (or the cell's own typed error,
 * invalid_cell / invalid_value, with the path) on a malformed answer.
 */
import { ID_MAX_LENGTH, NAME_MAX_LENGTH, validateCell } from '../cells.js';
import { OmniSyncError, ProtocolError } from '../errors.js';
import type { CursorResponse, PullResponse, PushResponse, SnapshotResponse } from './http-messages.js';
import type { LiveServerMessage } from './live-messages.js';
import type { MutationResult, WireCell, WireDocKey } from './wire-schemas.js';

type Obj = Record<string, unknown>;
/** A wire error body `{code, message, details?, requestId?}`. */
export type WireErrorBody = {
  code: string;
  message: string;
  details?: Record<string, unknown>;
  requestId?: string;
};

const kind = (v: unknown): string =>
  v === null
    ? 'null'
    : Array.isArray(v)
      ? 'array'
      : typeof v === 'number' && !Number.isFinite(v)
        ? String(v)
        : typeof v;

function fail(what: string, path: string, expected: string, v: unknown): never {
  const at = path || '(message)';
  const message = `expected ${expected}, received ${kind(v)}`;
  throw new ProtocolError(
    `Invalid ${what}: ${at}: ${message}. See the protocol message shapes (DESIGN.md, packages/core/src/protocol).`,
    { details: { issues: [{ path: at, message }] } },
  );
}

const at = (path: string, key: string | number): string =>
  typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key;

function obj(v: unknown, what: string, path: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(what, path, 'object', v);
  return v as Obj;
}

function str(o: Obj, key: string, what: string, path: string, min = 0, max = Infinity): string {
  const v = o[key];
  if (typeof v !== 'string') fail(what, at(path, key), 'string', v);
  if (v.length < min || v.length > max)
    fail(what, at(path, key), `a string of ${min} to ${max} characters`, v);
  return v;
}

/** Copy optional key `key` into `out` when present (undefined counts as absent, as in zod). */
function opt(o: Obj, key: string, out: Obj, read: () => unknown): void {
  if (o[key] !== undefined) out[key] = read();
}

function int(o: Obj, key: string, what: string, path: string, min: number): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
    fail(what, at(path, key), min > 0 ? 'a positive integer' : 'a non-negative integer', v);
  return v;
}

function bool(o: Obj, key: string, what: string, path: string): boolean {
  const v = o[key];
  if (typeof v !== 'boolean') fail(what, at(path, key), 'boolean', v);
  return v;
}

function json(o: Obj, key: string, what: string, path: string): unknown {
  const v = o[key];
  if (v === undefined) fail(what, at(path, key), 'a JSON value', v);
  return v;
}

function arr<T>(o: Obj, key: string, what: string, path: string, item: (v: unknown, p: string) => T): T[] {
  const v = o[key];
  const p = at(path, key);
  if (!Array.isArray(v)) fail(what, p, 'array', v);
  const out: T[] = new Array<T>(v.length);
  for (let i = 0; i < v.length; i++) out[i] = item(v[i], at(p, i));
  return out;
}

/** Cells pass through as received (as the schema does), checked by core validateCell. */
function cells(o: Obj, key: string, what: string, path: string): WireCell[] {
  const v = o[key];
  const p = at(path, key);
  if (!Array.isArray(v)) fail(what, p, 'array', v);
  for (let i = 0; i < v.length; i++) {
    try {
      validateCell(v[i], i);
    } catch (err) {
      if (!(err instanceof OmniSyncError)) throw err;
      const where = at(p, i);
      const Cls = err.constructor as new (m: string, o: object) => OmniSyncError;
      throw new Cls(`${what} ${where}: ${err.message}`, { details: { ...err.details, path: where } });
    }
  }
  return v as WireCell[];
}

/** Optional `evicted`: document keys `{collection, id}` to forget (issue 13). */
function evicted(o: Obj, out: Obj, what: string, path: string): void {
  opt(o, 'evicted', out, () =>
    arr(o, 'evicted', what, path, (v, p): WireDocKey => {
      const k = obj(v, what, p);
      return {
        collection: str(k, 'collection', what, p, 1, NAME_MAX_LENGTH),
        id: str(k, 'id', what, p, 1, ID_MAX_LENGTH),
      };
    }),
  );
}

function errorBody(v: unknown, what: string, path: string): WireErrorBody {
  const o = obj(v, what, path);
  const out: Obj = { code: str(o, 'code', what, path), message: str(o, 'message', what, path) };
  opt(o, 'details', out, () => {
    const d = obj(o['details'], what, at(path, 'details'));
    for (const k of Object.keys(d)) json(d, k, what, at(path, 'details'));
    return d;
  });
  opt(o, 'requestId', out, () => str(o, 'requestId', what, path));
  return out as WireErrorBody;
}

function mutationResult(v: unknown, what: string, path: string): MutationResult {
  const o = obj(v, what, path);
  const id = str(o, 'id', what, path, 1, 128);
  if (o['status'] === 'applied') return { id, status: 'applied' };
  if (o['status'] === 'rejected')
    return { id, status: 'rejected', error: errorBody(o['error'], what, at(path, 'error')) as never };
  return fail(what, at(path, 'status'), 'one of "applied", "rejected"', o['status']);
}

const results = (o: Obj, what: string, path: string): MutationResult[] =>
  arr(o, 'results', what, path, (r, p) => mutationResult(r, what, p));

/** The `{error: {...}}` envelope of a failed request, or undefined when `v` is not one. */
export function readWireError(v: unknown): { error: WireErrorBody } | undefined {
  try {
    return { error: errorBody(obj(v, '', '').error, '', 'error') };
  } catch {
    return undefined;
  }
}

/** Decode a push answer; throws ProtocolError (or a cell's typed error) when malformed. */
export function decodePushResponse(v: unknown, what = 'push response'): PushResponse {
  const o = obj(v, what, '');
  return { results: results(o, what, ''), cursor: int(o, 'cursor', what, '', 0) };
}

/** Decode a pull answer (a page of changes, or a reset). */
export function decodePullResponse(v: unknown, what = 'pull response'): PullResponse {
  const o = obj(v, what, '');
  if (o['reset'] !== undefined && o['changes'] === undefined) {
    if (o['reset'] !== true) fail(what, 'reset', 'true', o['reset']);
    return { reset: true, cursor: int(o, 'cursor', what, '', 0) };
  }
  const out: Obj = {
    changes: cells(o, 'changes', what, ''),
    cursor: int(o, 'cursor', what, '', 0),
    hasMore: bool(o, 'hasMore', what, ''),
  };
  evicted(o, out, what, '');
  return out as PullResponse;
}

/** Decode a snapshot answer. */
export function decodeSnapshotResponse(v: unknown, what = 'snapshot response'): SnapshotResponse {
  const o = obj(v, what, '');
  return { cells: cells(o, 'cells', what, ''), cursor: int(o, 'cursor', what, '', 0) };
}

/** Decode a cursor answer. */
export function decodeCursorResponse(v: unknown, what = 'cursor response'): CursorResponse {
  const o = obj(v, what, '');
  if (o['ok'] !== true) fail(what, 'ok', 'true', o['ok']);
  return { ok: true };
}

/** Decode one message the server sent over the live socket. */
export function decodeLiveServerMessage(v: unknown, what = 'live server message'): LiveServerMessage {
  const o = obj(v, what, '');
  const type = o['type'];
  const cursor = () => int(o, 'cursor', what, '', 0);
  const queryId = () => str(o, 'queryId', what, '', 1, 128);
  const room = () => str(o, 'room', what, '', 1, 256);
  const out: Obj = { type };
  switch (type) {
    case 'welcome':
      out['protocolVersion'] = int(o, 'protocolVersion', what, '', 1);
      out['connectionId'] = str(o, 'connectionId', what, '');
      out['cursor'] = cursor();
      break;
    case 'changes':
      opt(o, 'queryId', out, queryId);
      out['cells'] = cells(o, 'cells', what, '');
      out['cursor'] = cursor();
      evicted(o, out, what, '');
      break;
    case 'subscribed':
    case 'reset':
      out['queryId'] = queryId();
      out['cursor'] = cursor();
      break;
    case 'poke':
      out['cursor'] = cursor();
      break;
    case 'pong':
      opt(o, 'id', out, () => str(o, 'id', what, '', 0, 128));
      break;
    case 'ack':
      out['requestId'] = str(o, 'requestId', what, '', 1, 128);
      out['results'] = results(o, what, '');
      out['cursor'] = cursor();
      break;
    case 'room':
      out['room'] = room();
      opt(o, 'user', out, () => str(o, 'user', what, ''));
      out['members'] = arr(o, 'members', what, '', (m, p) => {
        const mo = obj(m, what, p);
        const member: Obj = { user: str(mo, 'user', what, p) };
        opt(mo, 'state', member, () => mo['state']);
        return member;
      });
      break;
    case 'presence':
      out['room'] = room();
      out['user'] = str(o, 'user', what, '');
      out['state'] = json(o, 'state', what, '');
      opt(o, 'left', out, () => bool(o, 'left', what, ''));
      break;
    case 'event':
      out['room'] = room();
      out['from'] = str(o, 'from', what, '');
      out['name'] = str(o, 'name', what, '');
      opt(o, 'payload', out, () => o['payload']);
      out['hlc'] = str(o, 'hlc', what, '');
      break;
    case 'error':
      opt(o, 'requestId', out, () => str(o, 'requestId', what, '', 1, 128));
      out['error'] = errorBody(o['error'], what, 'error');
      break;
    default:
      fail(what, 'type', 'a known server message type', type);
  }
  return out as LiveServerMessage;
}
