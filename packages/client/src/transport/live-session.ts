/**
 * One WebSocket session of protocol v1's live channel (`GET /v1/apps/:app/live`), from open
 * to close. Reconnecting is not its job: the server source opens a new session with backoff.
 *
 *     open ─► hello {cursor, token, clientId} ─► welcome ─► subscribe each query {cursor}
 *          ◄─ changes {queryId} (catch-up)  ◄─ subscribed {queryId, cursor}   (all: ready)
 *          ◄─ changes {cells, cursor} (live) / poke {cursor}    ping ⇄ pong every heartbeat
 *
 * Gap-free cursor rule: catch-up cells are applied at once but move no cursor; once every
 * subscription is `subscribed`, the session is ready at the lowest of their cursors, and
 * from then on each live `changes` message carries a cursor that covers everything between
 * that point and it (the server sends a connection's changes in version order). Whether the
 * catch-up also covered everything *before* that point (by pull, tombstones included) or not
 * (by snapshot) is reported with `onReady`.
 */
import {
  type Cell,
  decodeLiveServerMessage,
  ForbiddenError,
  LIVE_CLOSE_CODES,
  type LiveServerMessage,
  NetworkError,
  type OmniSyncError,
  PROTOCOL_VERSION,
  ProtocolError,
  type Scheduler,
  type TimerHandle,
  UnauthorizedError,
  type WireDocKey,
  type WireQuery,
} from '@omnisync/core';
import { fromWireCells } from './wire.js';
import type { TokenFunction, WebSocketConstructor, WebSocketLike } from './types.js';
import { WEBSOCKET_OPEN } from './types.js';

/** Why a session ended; decides what the source does next. */
export type LiveCloseReason =
  /** Socket lost, timed out, server restarting, slow consumer: reconnect with backoff. */
  | { readonly kind: 'lost'; readonly code: number; readonly error: OmniSyncError }
  /** Token missing, expired or refused: refresh it and reconnect. */
  | { readonly kind: 'unauthorized'; readonly code: number; readonly error: OmniSyncError }
  /** Token for another app, or not allowed: do not retry with the same token. */
  | { readonly kind: 'forbidden'; readonly code: number; readonly error: OmniSyncError }
  /** Closed by {@link LiveSession.close}. */
  | { readonly kind: 'closed'; readonly code: number };

/** What a session reports. */
export interface LiveHandlers {
  /**
   * Cells arrived, and documents the server evicted (rules on reads: no longer readable; may
   * be absent). `cursor` is set only when everything up to it has now been delivered.
   */
  onChanges(cells: readonly Cell[], cursor: number | undefined, evicted?: readonly WireDocKey[]): void;
  /**
   * Every subscription caught up: from here on the session delivers every change after
   * `cursor`. `complete` is true when the catch-up also delivered everything between the
   * session's start cursor and `cursor`, tombstones included (a catch-up by pull); false when
   * a subscription was caught up by snapshot (start cursor 0, or a `reset`), which leaves out
   * deleted documents: the caller must pull from its own cursor before trusting live cursors.
   */
  onReady(cursor: number, complete: boolean): void;
  /** Something matching changed at `cursor` (poke mode, or a server that only pokes): pull. */
  onPoke(cursor: number): void;
  /** A subscription's cursor is older than the server's compaction horizon. */
  onReset(queryId: string): void;
  /** A message the server refused, or one from the server this client cannot read. */
  onError(error: OmniSyncError): void;
  /** The session ended (exactly once). */
  onClose(reason: LiveCloseReason): void;
}

/** Options of one session. */
export interface LiveSessionOptions {
  readonly url: string;
  readonly WebSocket: WebSocketConstructor;
  readonly scheduler: Scheduler;
  readonly auth?: TokenFunction;
  /** Ask the token function for a fresh token (the previous session was refused). */
  readonly refreshToken: boolean;
  readonly clientId: string;
  /** Resume point: every change up to it is already applied. */
  readonly cursor: number;
  readonly queries: readonly WireQuery[];
  readonly mode: 'changes' | 'poke';
  /** Send a ping this often; a session silent for two beats is dead. */
  readonly heartbeatMs: number;
  /** Time allowed from connect to ready. */
  readonly connectTimeoutMs: number;
  readonly handlers: LiveHandlers;
}

/** `ws://host/v1/apps/<app>/live` from the server's http(s) base URL. */
export function liveUrl(server: string, app: string): string {
  const base = server.replace(/\/+$/, '').replace(/^http/i, 'ws');
  return `${base}/v1/apps/${encodeURIComponent(app)}/live`;
}

const ignore = () => {};

type Phase = 'connecting' | 'hello' | 'subscribing' | 'ready' | 'closed';

/** One live session; starts connecting when constructed. */
export class LiveSession {
  readonly #o: LiveSessionOptions;
  readonly #ws: WebSocketLike;
  #phase: Phase = 'connecting';
  /** Catch-up cursor per subscription, once `subscribed`. */
  readonly #caughtUp = new Map<string, number>();
  #timer: TimerHandle | undefined;
  #lastHeard: number;
  #pingSeq = 0;
  /** A subscription was (or will be) caught up by snapshot, not by pull. */
  #bySnapshot: boolean;

  constructor(options: LiveSessionOptions) {
    this.#o = options;
    this.#lastHeard = options.scheduler.now();
    // The server catches a subscription up by pull only from a cursor > 0.
    this.#bySnapshot = options.cursor === 0;
    this.#ws = new options.WebSocket(options.url);
    this.#ws.onopen = () => void this.#hello();
    this.#ws.onmessage = (event: { data?: unknown }) => this.#receive(event?.data);
    // Always followed by a close event, which carries the code.
    this.#ws.onerror = ignore;
    this.#ws.onclose = (event: { code?: unknown; reason?: unknown }) =>
      this.#closed(typeof event?.code === 'number' ? event.code : 1006, String(event?.reason ?? ''));
    this.#arm(options.connectTimeoutMs, () =>
      this.#fail(
        'lost',
        4900,
        new NetworkError(
          `The live connection to ${options.url} was not ready within ${options.connectTimeoutMs} ms.`,
        ),
      ),
    );
  }

  /** True once every subscription caught up. */
  get ready(): boolean {
    return this.#phase === 'ready';
  }

  /** Close the session (no reconnect is implied; `onClose` reports kind `closed`). */
  close(): void {
    if (this.#phase === 'closed') return;
    this.#finish({ kind: 'closed', code: 1000 });
    try {
      this.#ws.close(1000, 'client closing');
    } catch {
      // Already closing.
    }
  }

  #send(message: unknown): void {
    if (this.#ws.readyState !== WEBSOCKET_OPEN) return;
    this.#ws.send(JSON.stringify(message));
  }

  async #hello(): Promise<void> {
    const o = this.#o;
    let token: string | undefined;
    if (o.auth) {
      try {
        token = (await o.auth({ refresh: o.refreshToken })) || undefined;
      } catch (err) {
        this.#fail(
          'unauthorized',
          4001,
          new UnauthorizedError(`The token function threw: ${String(err)}.`, { cause: err }),
        );
        return;
      }
    }
    if (this.#phase !== 'connecting') return;
    this.#phase = 'hello';
    this.#send({
      type: 'hello',
      protocolVersion: PROTOCOL_VERSION,
      ...(token === undefined ? {} : { token }),
      cursor: o.cursor,
      clientId: o.clientId,
      mode: o.mode,
    });
  }

  #receive(data: unknown): void {
    if (this.#phase === 'closed') return;
    this.#lastHeard = this.#o.scheduler.now();
    let message: LiveServerMessage;
    try {
      const text = typeof data === 'string' ? data : String(data);
      message = decodeLiveServerMessage(JSON.parse(text));
    } catch (err) {
      this.#o.handlers.onError(
        err instanceof ProtocolError
          ? err
          : new ProtocolError(`Unreadable live message from the server: ${String(err)}.`),
      );
      return;
    }
    const h = this.#o.handlers;
    switch (message.type) {
      case 'welcome':
        if (this.#phase !== 'hello') return;
        this.#phase = 'subscribing';
        if (this.#o.queries.length === 0) {
          this.#becomeReady(this.#o.cursor);
          return;
        }
        this.#o.queries.forEach((query, i) =>
          this.#send({ type: 'subscribe', queryId: `q${i}`, query, cursor: this.#o.cursor }),
        );
        return;
      case 'changes': {
        const cells = fromWireCells(message.cells);
        // Catch-up of one subscription, or a live change before every subscription caught
        // up: apply, but the cursor cannot move yet (another query may still lag behind).
        const gapFree = this.#phase === 'ready' && message.queryId === undefined;
        h.onChanges(cells, gapFree ? message.cursor : undefined, message.evicted);
        return;
      }
      case 'subscribed':
        if (this.#phase !== 'subscribing') return;
        this.#caughtUp.set(message.queryId, message.cursor);
        if (this.#caughtUp.size >= this.#o.queries.length)
          this.#becomeReady(Math.min(...this.#caughtUp.values()));
        return;
      case 'reset':
        // Resubscribe from cursor 0: the server sends the query's current state instead (no
        // cursor would mean the hello cursor, which is the compacted one). Until it is
        // subscribed again, live cursors say nothing about that query.
        if (this.#phase === 'ready') this.#phase = 'subscribing';
        h.onReset(message.queryId);
        this.#bySnapshot = true;
        this.#caughtUp.delete(message.queryId);
        {
          const i = Number(message.queryId.slice(1));
          const query = this.#o.queries[i];
          if (query) this.#send({ type: 'subscribe', queryId: message.queryId, query, cursor: 0 });
        }
        return;
      case 'poke':
        h.onPoke(message.cursor);
        return;
      case 'pong':
        return;
      case 'error': {
        const code = message.error.code;
        const e = new ProtocolError(`The server refused a live message: ${code}: ${message.error.message}`, {
          details: { code },
        });
        if (code === 'unauthorized') this.#fail('unauthorized', LIVE_CLOSE_CODES.unauthorized, e);
        else if (code === 'forbidden') this.#fail('forbidden', LIVE_CLOSE_CODES.forbidden, e);
        else h.onError(e);
        return;
      }
      default:
        // ack, rooms, presence, events: not used by the data sync.
        return;
    }
  }

  #becomeReady(cursor: number): void {
    this.#phase = 'ready';
    this.#heartbeat();
    this.#o.handlers.onReady(cursor, !this.#bySnapshot);
  }

  #heartbeat(): void {
    const beat = this.#o.heartbeatMs;
    this.#arm(beat, () => {
      if (this.#o.scheduler.now() - this.#lastHeard >= 2 * beat) {
        this.#fail(
          'lost',
          4900,
          new NetworkError(`The live connection was silent for ${2 * beat} ms; reconnecting.`),
        );
        return;
      }
      this.#send({ type: 'ping', id: String(++this.#pingSeq) });
      this.#heartbeat();
    });
  }

  #arm(ms: number, fn: () => void): void {
    this.#timer?.cancel();
    this.#timer = this.#o.scheduler.setTimeout(fn, ms);
  }

  #fail(kind: 'lost' | 'unauthorized' | 'forbidden', code: number, error: OmniSyncError): void {
    if (this.#phase === 'closed') return;
    this.#finish({ kind, code, error });
    try {
      this.#ws.close(kind === 'lost' ? 1000 : 4000, kind);
    } catch {
      // Already closing.
    }
  }

  #closed(code: number, reason: string): void {
    if (this.#phase === 'closed') return;
    const text = reason ? `: ${reason}` : '';
    if (code === LIVE_CLOSE_CODES.unauthorized)
      this.#finish({
        kind: 'unauthorized',
        code,
        error: new UnauthorizedError(`The server closed the live connection as unauthorized${text}.`),
      });
    else if (code === LIVE_CLOSE_CODES.forbidden)
      this.#finish({
        kind: 'forbidden',
        code,
        error: new ForbiddenError(
          `The server closed the live connection as forbidden${text}: the token does not grant this app.`,
        ),
      });
    else
      this.#finish({
        kind: 'lost',
        code,
        error: new NetworkError(
          `The live connection closed (code ${code}${text}); reconnecting with backoff.`,
          {
            details: { transient: true, code },
          },
        ),
      });
  }

  #finish(reason: LiveCloseReason): void {
    this.#phase = 'closed';
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#ws.onopen = null;
    this.#ws.onmessage = null;
    this.#ws.onclose = null;
    // Not null: `ws` throws an 'error' event that has no listener (e.g. closed while connecting).
    this.#ws.onerror = ignore;
    this.#o.handlers.onClose(reason);
  }
}
