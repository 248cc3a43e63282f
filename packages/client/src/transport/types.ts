/**
 * The client transport's injected I/O: a token function (seed 000's dynamic headers), a
 * `fetch`, and a WebSocket constructor. Injected so the same code runs in browsers, in Node
 * (with `ws`), and over the in-memory network of the deterministic simulation.
 */

/** Why the token function is being called. */
export interface TokenRequest {
  /** True after the server answered 401 (or closed the socket as unauthorized): return a fresh token. */
  readonly refresh: boolean;
}

/**
 * Returns the bearer token for the next request or connection. Called before every request
 * and on every (re)connect; called again with `refresh: true` after a 401. Return `undefined`
 * or `''` to send no token.
 * @example
 * auth: async ({ refresh }) => (refresh ? await session.refresh() : session.token)
 */
export type TokenFunction = (request: TokenRequest) => string | undefined | Promise<string | undefined>;

/** The subset of the Fetch API the transport uses. */
export type FetchLike = (input: string, init: FetchInit) => Promise<FetchResponseLike>;

/** The request options the transport passes to {@link FetchLike}. */
export interface FetchInit {
  readonly method: 'POST';
  readonly headers: Record<string, string>;
  /**
   * JSON text; gzip bytes (with a `content-encoding: gzip` header) only when the transport
   * compresses requests, which it does by default with the global fetch alone.
   */
  readonly body: string | Uint8Array<ArrayBuffer>;
  readonly signal?: AbortSignal;
}

/** The subset of a Fetch `Response` the transport reads. */
export interface FetchResponseLike {
  readonly status: number;
  readonly ok: boolean;
  /** Response headers (read: `retry-after` of a 429). */
  readonly headers?: { get(name: string): string | null };
  text(): Promise<string>;
}

/** The subset of a WebSocket the live connection uses (browser WebSocket and `ws` both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  // Handler events are `any` so both the DOM's and `ws`'s event types fit; the live
  // connection reads only `data` (messages) and `code`/`reason` (close), defensively.
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
}

/** A WebSocket constructor (`globalThis.WebSocket`, or `WebSocket` from the `ws` package). */
export type WebSocketConstructor = new (url: string) => WebSocketLike;

/** `readyState` of an open socket (the same in every implementation). */
export const WEBSOCKET_OPEN = 1;
