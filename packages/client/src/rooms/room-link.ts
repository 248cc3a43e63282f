/**
 * The WebSocket the rooms of one client share (`GET /v1/apps/:app/live`, hello with the
 * token, then only join/leave/presence/event), apart from the data sync's own session: that
 * one restarts whenever the synced queries change, and rooms must not blink with it.
 *
 *     join ─► (connect) ─► hello {token, clientId} ─► welcome ─► join each room {presence}
 *          ◄─ room {user, members}   ◄─ presence {user, state, left?}   ◄─ event {hlc}
 *
 * Opened with the first room joined, closed with the last one left. A lost socket is
 * reconnected with backoff and every room joined again with its current presence; a refused
 * token (4001) is refreshed once at once; a forbidden one (4003: another app's token, or not
 * allowed) stops and fails every room.
 */
import {
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
} from '@omnisync/core';
import type { Backoff } from '../transport/backoff.js';
import type { TokenFunction, WebSocketConstructor, WebSocketLike } from '../transport/types.js';
import { WEBSOCKET_OPEN } from '../transport/types.js';

/** A room message from the server. */
export type RoomServerMessage = Extract<LiveServerMessage, { type: 'room' | 'presence' | 'event' }>;

/** What the link needs from each room it carries. */
export interface RoomMembership {
  readonly name: string;
  /** The join message to send (again after each reconnect), with the current presence. */
  joinMessage(): { type: 'join'; room: string; presence?: unknown };
  /** A message for this room. */
  receive(message: RoomServerMessage): void;
  /** The socket dropped: a rejoin follows when it is back. */
  down(error: OmniSyncError): void;
  /** The server refused this client (or this room): no retry with the same token. */
  refused(error: OmniSyncError): void;
}

/** Options of a {@link RoomLink}. */
export interface RoomLinkOptions {
  readonly url: string;
  readonly WebSocket: WebSocketConstructor;
  readonly scheduler: Scheduler;
  readonly auth?: TokenFunction;
  /** Read at each connect (the client's id is known once its persistence loaded). */
  clientId(): string;
  readonly heartbeatMs: number;
  readonly backoff: Backoff;
  /** An error worth reporting that no room owns. */
  onError(error: OmniSyncError): void;
}

const ignore = () => {};

/** The rooms socket of one client. */
export class RoomLink {
  readonly #o: RoomLinkOptions;
  readonly #rooms = new Map<string, RoomMembership>();
  /** Rooms whose join is sent and not answered yet, oldest first (a refusal names no room). */
  #joining: string[] = [];
  #ws: WebSocketLike | undefined;
  #open = false;
  #timer: TimerHandle | undefined;
  #beat: TimerHandle | undefined;
  #lastHeard = 0;
  #refresh = false;
  #refreshed = false;
  #stopped = false;

  constructor(options: RoomLinkOptions) {
    this.#o = options;
  }

  /** True while the socket is authenticated. */
  get open(): boolean {
    return this.#open;
  }

  /** Carry `room`: join it now if the socket is up, else once it is. */
  attach(room: RoomMembership): void {
    this.#rooms.set(room.name, room);
    if (this.#open) this.#join(room);
    else this.#connect();
  }

  /** Stop carrying a room (leave it on the server); the last one closes the socket. */
  detach(name: string): void {
    if (!this.#rooms.delete(name)) return;
    this.#joining = this.#joining.filter((r) => r !== name);
    if (this.#open) this.send({ type: 'leave', room: name });
    if (this.#rooms.size === 0) this.#close();
  }

  /** Send a message if the socket is up; false when it is not (fire-and-forget). */
  send(message: unknown): boolean {
    if (!this.#open || this.#ws?.readyState !== WEBSOCKET_OPEN) return false;
    this.#ws.send(JSON.stringify(message));
    return true;
  }

  /** Close for good (the client closes). */
  stop(): void {
    this.#stopped = true;
    this.#rooms.clear();
    this.#close();
  }

  #join(room: RoomMembership): void {
    if (this.send(room.joinMessage())) this.#joining.push(room.name);
  }

  #connect(): void {
    if (this.#stopped || this.#ws || this.#timer || this.#rooms.size === 0) return;
    const o = this.#o;
    let ws: WebSocketLike;
    try {
      ws = new o.WebSocket(o.url);
    } catch (err) {
      this.#lost(new NetworkError(`Cannot open the rooms connection to ${o.url}: ${String(err)}.`));
      return;
    }
    this.#ws = ws;
    this.#lastHeard = o.scheduler.now();
    ws.onopen = () => void this.#hello(ws);
    ws.onmessage = (event: { data?: unknown }) => this.#receive(ws, event?.data);
    ws.onerror = ignore;
    ws.onclose = (event: { code?: unknown; reason?: unknown }) =>
      this.#closed(ws, typeof event?.code === 'number' ? event.code : 1006, String(event?.reason ?? ''));
    this.#heartbeat(ws);
  }

  async #hello(ws: WebSocketLike): Promise<void> {
    const o = this.#o;
    let token: string | undefined;
    if (o.auth) {
      const refresh = this.#refresh;
      this.#refresh = false;
      try {
        token = (await o.auth({ refresh })) || undefined;
      } catch (err) {
        this.#refused(new UnauthorizedError(`The token function threw: ${String(err)}.`, { cause: err }));
        return;
      }
    }
    if (this.#ws !== ws || ws.readyState !== WEBSOCKET_OPEN) return;
    ws.send(
      JSON.stringify({
        type: 'hello',
        protocolVersion: PROTOCOL_VERSION,
        ...(token === undefined ? {} : { token }),
        clientId: o.clientId(),
      }),
    );
  }

  #receive(ws: WebSocketLike, data: unknown): void {
    if (this.#ws !== ws) return;
    this.#lastHeard = this.#o.scheduler.now();
    let message: LiveServerMessage;
    try {
      const text = typeof data === 'string' ? data : String(data);
      message = decodeLiveServerMessage(JSON.parse(text));
    } catch (err) {
      this.#o.onError(
        err instanceof ProtocolError ? err : new ProtocolError(`Unreadable room message: ${String(err)}.`),
      );
      return;
    }
    switch (message.type) {
      case 'welcome':
        this.#open = true;
        this.#refreshed = false;
        this.#o.backoff.reset();
        this.#joining = [];
        for (const room of this.#rooms.values()) this.#join(room);
        return;
      case 'room':
        this.#joining = this.#joining.filter((r) => r !== message.room);
        this.#rooms.get(message.room)?.receive(message);
        return;
      case 'presence':
      case 'event':
        this.#rooms.get(message.room)?.receive(message);
        return;
      case 'error': {
        const { code, message: text, details } = message.error;
        // "Nothing to leave": the answer to a leave of a room the server never let this
        // connection join (its join was refused). Leaving was the goal: nothing to report.
        if (
          code === 'invalid_state' &&
          typeof details?.['room'] === 'string' &&
          !this.#rooms.has(details['room'])
        )
          return;
        const error =
          code === 'forbidden'
            ? new ForbiddenError(`The server refused: ${text}`)
            : new ProtocolError(`The server refused a room message: ${code}: ${text}`, { details: { code } });
        // A refused join (the authorize hook): the oldest join still waiting for its answer.
        const waiting = code === 'forbidden' ? this.#joining.shift() : undefined;
        const room = waiting === undefined ? undefined : this.#rooms.get(waiting);
        if (room) {
          this.#rooms.delete(room.name);
          room.refused(error);
          if (this.#rooms.size === 0) this.#close();
        } else this.#o.onError(error);
        return;
      }
      default:
        return;
    }
  }

  #heartbeat(ws: WebSocketLike): void {
    const beat = this.#o.heartbeatMs;
    this.#beat?.cancel();
    this.#beat = this.#o.scheduler.setTimeout(() => {
      if (this.#ws !== ws) return;
      if (this.#o.scheduler.now() - this.#lastHeard >= 2 * beat) {
        this.#drop(ws);
        try {
          ws.close(4000, 'silent');
        } catch {
          // already closing
        }
        this.#lost(new NetworkError(`The rooms connection was silent for ${2 * beat} ms; reconnecting.`));
        return;
      }
      if (this.#open) ws.send(JSON.stringify({ type: 'ping' }));
      this.#heartbeat(ws);
    }, beat);
  }

  #closed(ws: WebSocketLike, code: number, reason: string): void {
    if (this.#ws !== ws) return;
    this.#drop(ws);
    const text = reason ? `: ${reason}` : '';
    if (code === LIVE_CLOSE_CODES.forbidden)
      return this.#refused(
        new ForbiddenError(
          `The server refused the rooms connection${text}: the token does not grant this app.`,
        ),
      );
    if (code === LIVE_CLOSE_CODES.unauthorized && this.#refreshed)
      return this.#refused(
        new UnauthorizedError(`The server refused the rooms connection as unauthorized${text}.`),
      );
    if (code === LIVE_CLOSE_CODES.unauthorized) {
      // A stale token: ask for a fresh one and retry at once (a second refusal fails).
      this.#refresh = true;
      this.#refreshed = true;
      for (const room of this.#rooms.values())
        room.down(
          new UnauthorizedError(`The rooms connection was refused${text}; retrying with a fresh token.`),
        );
      this.#schedule(0);
      return;
    }
    this.#lost(new NetworkError(`The rooms connection closed (code ${code}${text}); reconnecting.`));
  }

  #lost(error: OmniSyncError): void {
    for (const room of this.#rooms.values()) room.down(error);
    this.#schedule(this.#o.backoff.next());
  }

  #refused(error: OmniSyncError): void {
    const rooms = [...this.#rooms.values()];
    this.#rooms.clear();
    this.#close();
    for (const room of rooms) room.refused(error);
  }

  #schedule(ms: number): void {
    if (this.#stopped || this.#rooms.size === 0) return;
    this.#timer?.cancel();
    this.#timer = this.#o.scheduler.setTimeout(() => {
      this.#timer = undefined;
      this.#connect();
    }, ms);
  }

  /** Forget the socket (its events are ignored from now on). */
  #drop(ws: WebSocketLike): void {
    if (this.#ws !== ws) return;
    this.#ws = undefined;
    this.#open = false;
    this.#joining = [];
    this.#beat?.cancel();
    this.#beat = undefined;
    ws.onopen = null;
    ws.onmessage = null;
    ws.onclose = null;
    ws.onerror = ignore;
  }

  #close(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    const ws = this.#ws;
    if (!ws) return;
    this.#drop(ws);
    try {
      ws.close(1000, 'rooms closed');
    } catch {
      // already closing
    }
  }
}
