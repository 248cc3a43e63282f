/**
 * Keeps the live WebSocket up: opens a session from the current cursor, and when it drops,
 * reconnects with capped exponential backoff and jitter (a refused token is refreshed and
 * retried at once, a second refusal backs off; a forbidden one stops until `retryNow`).
 * While it is down the server source polls over HTTP.
 */
import type { Cell, OmniSyncError, Scheduler, TimerHandle, WireDocKey, WireQuery } from '@omnisync/core';
import type { Backoff } from '../../transport/backoff.js';
import { type LiveCloseReason, LiveSession, liveUrl } from '../../transport/live-session.js';
import type { TokenFunction, WebSocketConstructor } from '../../transport/types.js';

/** Options of a {@link LiveLink}. */
export interface LiveLinkOptions {
  readonly server: string;
  readonly app: string;
  readonly WebSocket: WebSocketConstructor;
  readonly scheduler: Scheduler;
  readonly auth?: TokenFunction;
  readonly clientId: string;
  /** The queries to subscribe (read at each connect). */
  queries(): readonly WireQuery[];
  readonly mode: 'changes' | 'poke';
  readonly heartbeatMs: number;
  readonly connectTimeoutMs: number;
  readonly backoff: Backoff;
  /** The cursor to resume from (undefined: not synced yet, do not connect). */
  cursor(): number | undefined;
  onChanges(cells: readonly Cell[], cursor: number | undefined, evicted?: readonly WireDocKey[]): void;
  onReady(cursor: number, complete: boolean): void;
  /** Pull over HTTP now (poke, or a reset subscription). */
  onPull(): void;
  /** A ready session dropped: catch up over HTTP. */
  onDown(): void;
  onError(error: OmniSyncError): void;
  onForbidden(error: OmniSyncError): void;
}

/** The reconnecting live connection of one server source. */
export class LiveLink {
  readonly #o: LiveLinkOptions;
  #session: LiveSession | undefined;
  #timer: TimerHandle | undefined;
  #paused = false;
  #stopped = false;
  #refresh = false;

  constructor(options: LiveLinkOptions) {
    this.#o = options;
  }

  /** A session is up and gap-free. */
  get ready(): boolean {
    return this.#session?.ready ?? false;
  }

  /** Open a session unless one is open, waiting to reconnect, paused or stopped. */
  connect(): void {
    if (this.#stopped || this.#paused || this.#session || this.#timer) return;
    const cursor = this.#o.cursor();
    if (cursor === undefined) return;
    const o = this.#o;
    const refresh = this.#refresh;
    this.#refresh = false;
    let session: LiveSession | undefined;
    let wasReady = false;
    try {
      session = new LiveSession({
        url: liveUrl(o.server, o.app),
        WebSocket: o.WebSocket,
        scheduler: o.scheduler,
        ...(o.auth ? { auth: o.auth } : {}),
        refreshToken: refresh,
        clientId: o.clientId,
        cursor,
        queries: o.queries(),
        mode: o.mode,
        heartbeatMs: o.heartbeatMs,
        connectTimeoutMs: o.connectTimeoutMs,
        handlers: {
          onChanges: (cells, c, evicted) => o.onChanges(cells, c, evicted),
          onReady: (c, complete) => {
            wasReady = true;
            o.backoff.reset();
            o.onReady(c, complete);
          },
          onPoke: () => o.onPull(),
          onReset: () => {},
          onError: (e) => o.onError(e),
          onClose: (reason) => {
            if (this.#session === session) this.#session = undefined;
            this.#closed(reason, wasReady, refresh);
          },
        },
      });
    } catch (err) {
      // A constructor that throws (bad URL, no WebSocket support): treat as a lost connection.
      this.#schedule(this.#o.backoff.next());
      this.#o.onError(err as OmniSyncError);
      return;
    }
    // onClose may already have run synchronously (a constructor that fails at once).
    if (!this.#timer && !this.#stopped && !this.#paused) this.#session = session;
  }

  /** Reconnect now instead of waiting for the backoff (after `sync()`), and lift a pause. */
  retryNow(): void {
    this.#paused = false;
    if (this.#timer) {
      this.#timer.cancel();
      this.#timer = undefined;
    }
    this.connect();
  }

  /** Reconnect now with a fresh session (the query set changed). */
  restart(): void {
    if (this.#stopped || this.#paused) return;
    const s = this.#session;
    this.#session = undefined;
    s?.close();
    this.retryNow();
  }

  /** Close the session and do not reconnect until {@link retryNow}. */
  pause(): void {
    this.#paused = true;
    this.#timer?.cancel();
    this.#timer = undefined;
    const s = this.#session;
    this.#session = undefined;
    s?.close();
  }

  /** Close for good. */
  stop(): void {
    this.#stopped = true;
    this.pause();
  }

  #closed(reason: LiveCloseReason, wasReady: boolean, refreshed: boolean): void {
    if (wasReady && !this.#stopped) this.#o.onDown();
    if (reason.kind === 'closed' || this.#stopped || this.#paused) return;
    if (reason.kind === 'forbidden') {
      this.#paused = true;
      this.#o.onForbidden(reason.error);
      return;
    }
    if (reason.kind === 'unauthorized') {
      this.#o.onError(reason.error);
      this.#refresh = true;
      // A stale token: refresh and retry at once. Refused again after a refresh: back off.
      this.#schedule(refreshed ? this.#o.backoff.next() : 0);
      return;
    }
    this.#schedule(this.#o.backoff.next());
  }

  #schedule(ms: number): void {
    this.#timer?.cancel();
    this.#timer = this.#o.scheduler.setTimeout(() => {
      this.#timer = undefined;
      this.connect();
    }, ms);
  }
}
