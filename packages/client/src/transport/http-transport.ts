/**
 * Protocol v1 over HTTP: `POST /v1/apps/:app/{push,pull,snapshot,cursor}`, JSON both ways.
 * Each request asks the token function first (seed 000's dynamic headers); a 401 calls it
 * again with `refresh: true` and retries the same request once, so a pull resumes at the
 * same cursor. Every answer is validated against its protocol schema before anyone uses it.
 *
 * Failures are typed: a network failure or timeout is a `NetworkError` marked transient, an
 * error answer is rebuilt from its wire form (`{error:{code,message}}`) with the HTTP status
 * in `details.status`, 5xx and 429 marked transient.
 *
 * A 429 (`rate_limited`) is waited out here: the request is sent again, unchanged, after the
 * wait the server asked for (`Retry-After`), up to {@link RATE_LIMIT_RETRIES} times. A push
 * sent again is safe: the server applies each (clientId, mutation id) once, and refuses a
 * rate-limited push before applying any of it. A wait over {@link RATE_LIMIT_MAX_WAIT_MS}
 * (or too many 429s) fails with the error, `details.retryAfterMs` set, for the caller's backoff.
 */
import {
  decodeCursorResponse,
  decodePullResponse,
  decodePushResponse,
  decodeSnapshotResponse,
  readWireError,
  type CursorRequest,
  type CursorResponse,
  fromWireError,
  NetworkError,
  PROTOCOL_HEADER,
  PROTOCOL_VERSION,
  type OmniSyncError,
  OmniSyncError as OmniSyncErrorClass,
  ProtocolError,
  type PullRequest,
  type PullResponse,
  type PushRequest,
  type PushResponse,
  type Scheduler,
  type SnapshotRequest,
  type SnapshotResponse,
  systemScheduler,
  UnauthorizedError,
  ValidationError,
} from '@omnisync/core';
import { retryAfterMs } from './backoff.js';
import type { FetchLike, FetchResponseLike, TokenFunction } from './types.js';

/** Answer header of a server that inflates compressed request bodies (its value names the encodings). */
export const ACCEPTS_ENCODING_HEADER = 'omnisync-accept-encoding';

/** Sent with every request: the server refuses a newer protocol than its own. */
const PROTOCOL_VERSION_TEXT = String(PROTOCOL_VERSION);

/** A protocol response schema (zod, from core). */
type Decoder<T> = (value: unknown, what: string) => T;

/** Default time a request may take before it counts as lost. */
export const REQUEST_TIMEOUT_MS = 30_000;
/** Most 429 answers one request waits out itself before failing to its caller. */
export const RATE_LIMIT_RETRIES = 5;
/** Longest Retry-After one request waits out itself; a longer one fails at once for the caller's backoff. */
export const RATE_LIMIT_MAX_WAIT_MS = 60_000;

/** Options of {@link createHttpTransport}. */
export interface HttpTransportOptions {
  /** Base URL of the sync server, e.g. `http://127.0.0.1:8787` (a path prefix is kept). */
  readonly server: string;
  /** The app (tenant). */
  readonly app: string;
  /** Bearer token source; no `Authorization` header without it. */
  readonly auth?: TokenFunction;
  /** Fetch implementation (default `globalThis.fetch`). */
  readonly fetch?: FetchLike;
  /** Time source for request timeouts (default the system scheduler). */
  readonly scheduler?: Scheduler;
  /** A request not answered within this many ms fails with a transient NetworkError (default 30 000). */
  readonly requestTimeoutMs?: number;
  /**
   * Gzip request bodies of {@link COMPRESS_MIN_BYTES} and more once the server has said it
   * inflates them (its `OmniSync-Accept-Encoding` answer header). Default: on with the
   * global fetch, off with a `fetch` of your own (which then always gets JSON text).
   */
  readonly compressRequests?: boolean;
}

/** Request bodies shorter than this go as they are: gzip would not pay for its header. */
export const COMPRESS_MIN_BYTES = 1024;

/** Gzip text with the platform's CompressionStream; undefined where there is none (or it fails). */
async function gzipText(text: string): Promise<Uint8Array<ArrayBuffer> | undefined> {
  if (typeof CompressionStream !== 'function' || typeof Response !== 'function') return undefined;
  try {
    const stream = new Response(text).body!.pipeThrough(new CompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch {
    return undefined;
  }
}

/** Protocol v1's HTTP endpoints for one app. */
export interface HttpTransport {
  push(body: PushRequest): Promise<PushResponse>;
  pull(body: PullRequest): Promise<PullResponse>;
  snapshot(body: SnapshotRequest): Promise<SnapshotResponse>;
  /** Seed 004 `updateCursor`: report how far this device synced. */
  cursor(body: CursorRequest): Promise<CursorResponse>;
}

/** The URL of an app's endpoint: `<server>/v1/apps/<app>/<kind>`. */
export function endpointUrl(server: string, app: string, kind: string): string {
  return `${server.replace(/\/+$/, '')}/v1/apps/${encodeURIComponent(app)}/${kind}`;
}

/** Check a server URL and app id; throws {@link ValidationError} saying what is wrong. */
export function validateEndpoint(server: unknown, app: unknown): void {
  if (typeof server !== 'string' || !/^https?:\/\/[^/]/i.test(server))
    throw new ValidationError(
      `server must be an http(s) URL such as "http://127.0.0.1:8787", got ${JSON.stringify(server)}.`,
    );
  if (typeof app !== 'string' || app.length === 0 || app.length > 256)
    throw new ValidationError(
      `app must be a non-empty string (at most 256 characters): the app (tenant) id the server knows; got ${JSON.stringify(app)}.`,
    );
}

/**
 * Create the HTTP side of protocol v1.
 * @example
 * const http = createHttpTransport({ server: 'http://127.0.0.1:8787', app: 'todo', auth: () => token });
 * const page = await http.pull({ cursor: 0 });
 */
export function createHttpTransport(options: HttpTransportOptions): HttpTransport {
  const { server, app, auth } = options;
  validateEndpoint(server, app);
  const maybeFetch: FetchLike | undefined =
    options.fetch ?? (globalThis as { fetch?: FetchLike }).fetch?.bind(globalThis);
  if (!maybeFetch)
    throw new ValidationError('No fetch available: pass `fetch` (Node ≥ 18 and browsers have a global one).');
  const fetchFn: FetchLike = maybeFetch;
  const scheduler = options.scheduler ?? systemScheduler;
  const timeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS;
  const compress = options.compressRequests ?? options.fetch === undefined;
  /** Has the server said it inflates gzip request bodies (learned from any answer)? */
  let serverInflates = false;

  /** The request body: JSON text, or its gzip when worth it and the server reads it. */
  async function encode(body: unknown): Promise<{ body: string | Uint8Array<ArrayBuffer>; gzip: boolean }> {
    const text = JSON.stringify(body);
    if (!compress || !serverInflates || text.length < COMPRESS_MIN_BYTES) return { body: text, gzip: false };
    const gz = await gzipText(text);
    return gz ? { body: gz, gzip: true } : { body: text, gzip: false };
  }

  async function send(
    kind: string,
    payload: { body: string | Uint8Array<ArrayBuffer>; gzip: boolean },
    refresh: boolean,
  ): Promise<FetchResponseLike> {
    let token: string | undefined;
    if (auth) {
      try {
        token = (await auth({ refresh })) || undefined;
      } catch (err) {
        throw new UnauthorizedError(
          `The token function threw: ${err instanceof Error ? err.message : String(err)}. Fix the auth callback; the request is retried later.`,
          { cause: err },
        );
      }
    }
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      [PROTOCOL_HEADER]: PROTOCOL_VERSION_TEXT,
    };
    if (token !== undefined) headers['authorization'] = `Bearer ${token}`;
    if (payload.gzip) headers['content-encoding'] = 'gzip';
    const url = endpointUrl(server, app, kind);
    const abort = typeof AbortController === 'function' ? new AbortController() : undefined;
    let timer: { cancel(): void } | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = scheduler.setTimeout(() => {
        abort?.abort();
        reject(
          new NetworkError(`No answer from ${url} within ${timeoutMs} ms; retrying with backoff.`, {
            details: { transient: true, url },
          }),
        );
      }, timeoutMs);
    });
    try {
      const init = { method: 'POST' as const, headers, body: payload.body };
      const request = fetchFn(url, abort ? { ...init, signal: abort.signal } : init);
      // A fetch that ignores the abort signal must not keep the caller waiting past the timeout.
      request.catch(() => {});
      const res = await Promise.race([request, timedOut]);
      if (/\bgzip\b/i.test(res.headers?.get(ACCEPTS_ENCODING_HEADER) ?? '')) serverInflates = true;
      return res;
    } catch (err) {
      if (err instanceof OmniSyncErrorClass) throw err;
      throw new NetworkError(
        `Could not reach ${url}: ${err instanceof Error ? err.message : String(err)}. Working offline; retrying with backoff.`,
        { cause: err, details: { transient: true, url } },
      );
    } finally {
      timer?.cancel();
    }
  }

  async function readError(kind: string, res: FetchResponseLike): Promise<OmniSyncError> {
    const text = await res.text().catch(() => '');
    const transient = res.status >= 500 || res.status === 429 || res.status === 408;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const wire = readWireError(parsed);
    if (wire) {
      const e = fromWireError(wire.error as Parameters<typeof fromWireError>[0]);
      const Cls = e.constructor as new (m: string, o: object) => OmniSyncError;
      const details = {
        ...e.details,
        status: res.status,
        endpoint: kind,
        ...(transient ? { transient: true } : {}),
        ...(res.status === 429
          ? { retryAfterMs: retryAfterMs(res.headers?.get('retry-after'), e.details, scheduler.now()) }
          : {}),
      };
      return e.constructor === OmniSyncErrorClass
        ? new OmniSyncErrorClass(e.code, e.message, { details })
        : new Cls(e.message, { details });
    }
    const snippet = text.slice(0, 200);
    if (res.status === 401)
      return new UnauthorizedError(`The server refused the credentials (401) on ${kind}.`, {
        details: { status: 401, endpoint: kind },
      });
    const code = transient ? 'network' : 'protocol_invalid';
    return new OmniSyncErrorClass(
      code,
      `The server answered ${res.status} to ${kind}: ${snippet || '(empty body)'}.`,
      {
        details: { status: res.status, endpoint: kind, ...(transient ? { transient: true } : {}) },
      },
    );
  }

  /** Send, with one token refresh after a 401 and the 429 waits (see the file comment). */
  async function exchange(kind: string, body: unknown): Promise<FetchResponseLike> {
    const payload = await encode(body);
    for (let limited = 0; ; limited++) {
      let res = await send(kind, payload, false);
      // One refresh-and-retry per request: a token that is refused twice is an auth problem,
      // not a stale token, and the caller backs off.
      if (res.status === 401 && auth) {
        await res.text().catch(() => '');
        res = await send(kind, payload, true);
      }
      if (res.status !== 429) return res;
      const err = await readError(kind, res);
      const wait = err.details?.['retryAfterMs'] as number;
      if (limited >= RATE_LIMIT_RETRIES || wait > RATE_LIMIT_MAX_WAIT_MS) throw err;
      await new Promise<void>((resolve) => scheduler.setTimeout(resolve, wait));
    }
  }

  async function call<T>(kind: string, body: unknown, decode: Decoder<T>): Promise<T> {
    const res = await exchange(kind, body);
    if (!res.ok) throw await readError(kind, res);
    let text: string;
    try {
      text = await res.text();
    } catch (err) {
      throw new NetworkError(
        `The answer to ${kind} was cut off: ${err instanceof Error ? err.message : String(err)}.`,
        {
          cause: err,
          details: { transient: true },
        },
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new ProtocolError(`The server's answer to ${kind} is not JSON: ${text.slice(0, 200)}.`, {
        details: { transient: true, endpoint: kind },
      });
    }
    try {
      return decode(json, `${kind} response`);
    } catch (err) {
      // A server that answers with a shape this client does not know: mark transient so the
      // loop backs off instead of spinning (a newer server may be rolling out).
      const e = err as OmniSyncError;
      throw new ProtocolError(e.message, { cause: e, details: { transient: true, endpoint: kind } });
    }
  }

  return {
    push: (body) => call<PushResponse>('push', body, decodePushResponse),
    pull: (body) => call<PullResponse>('pull', body, decodePullResponse),
    snapshot: (body) => call<SnapshotResponse>('snapshot', body, decodeSnapshotResponse),
    cursor: (body) => call<CursorResponse>('cursor', body, decodeCursorResponse),
  };
}
