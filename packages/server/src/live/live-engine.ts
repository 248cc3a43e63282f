/**
 * The live (WebSocket) side of the server: accepts sockets for an app, keeps the
 * authenticated connections of each app (the hub that fan-out walks), the rooms, and the
 * heartbeat that drops dead connections.
 */
import {
  type HlcClock,
  type PullRequest,
  type PullResponse,
  type PushRequest,
  type PushResponse,
  randomId,
  type RulesEvaluator,
  type SnapshotRequest,
  type SnapshotResponse,
} from '@omnisync/core';
import type { WebSocket } from 'ws';
import type { AuthContext } from '../engine/auth.js';
import type { AuthorizeRequest, ResolvedLiveOptions } from '../engine/options.js';
import type { DocChangeEvent } from '../engine/working-doc.js';
import type { ServerMetrics } from '../observability/metrics.js';
import type { Logger } from '../util/logger.js';
import { LiveConnection } from './connection.js';
import { Rooms } from './rooms.js';
import { SubscriptionIndex } from './sub-index.js';
import type { PreparedMessage } from './ws-frame.js';

/** What a live connection needs from the sync engine. */
export interface LiveEngine {
  readonly log: Logger;
  readonly hlc: HlcClock;
  /** Counters of the server (slow-consumer closes). */
  readonly metrics: ServerMetrics;
  readonly options: ResolvedLiveOptions;
  readonly limits: { readonly maxBytes: number; readonly maxDepth: number };
  /** True when an authorize hook is configured. */
  readonly authorizes: boolean;
  /** The permission rules' evaluator (undefined: no rules); fan-out filters each connection's changes by them. */
  readonly rules: RulesEvaluator | undefined;
  authenticate(app: string, token: string | undefined): Promise<AuthContext>;
  allowed(auth: AuthContext, request: AuthorizeRequest): boolean | Promise<boolean>;
  push(app: string, auth: AuthContext, req: PushRequest): Promise<PushResponse>;
  pull(app: string, auth: AuthContext, req: PullRequest): Promise<PullResponse>;
  snapshot(app: string, auth: AuthContext, req: SnapshotRequest): Promise<SnapshotResponse>;
  head(app: string): Promise<number>;
  register(conn: LiveConnection): void;
  unregister(conn: LiveConnection): void;
  rooms(app: string): Rooms;
  /** The app's subscription index (fan-out looks changes up in it). */
  subscriptions(app: string): SubscriptionIndex<LiveConnection>;
}

/** The sync engine's services a live server is built on. */
export type LiveServices = Omit<
  LiveEngine,
  'register' | 'unregister' | 'rooms' | 'subscriptions' | 'options'
>;

/** Accepts and tracks WebSocket connections for every app. */
export class LiveServer {
  readonly #all = new Set<LiveConnection>();
  readonly #indexes = new Map<string, SubscriptionIndex<LiveConnection>>();
  readonly #rooms = new Map<string, Rooms>();
  readonly #engine: LiveEngine;
  readonly #timer: ReturnType<typeof setInterval>;
  #nextId = 0;
  readonly #prefix = randomId(undefined, 6);

  constructor(services: LiveServices, options: ResolvedLiveOptions) {
    const indexes = this.#indexes;
    const rooms = this.#rooms;
    this.#engine = {
      ...services,
      options,
      register() {},
      unregister: (conn) => {
        this.#all.delete(conn);
        if (indexes.get(conn.app)?.size === 0) indexes.delete(conn.app);
        const r = rooms.get(conn.app);
        if (r && r.size === 0) rooms.delete(conn.app);
      },
      subscriptions(app) {
        let index = indexes.get(app);
        if (!index) indexes.set(app, (index = new SubscriptionIndex()));
        return index;
      },
      rooms(app) {
        let r = rooms.get(app);
        if (!r) rooms.set(app, (r = new Rooms()));
        return r;
      },
    };
    this.#timer = setInterval(() => {
      for (const conn of [...this.#all]) conn.heartbeat();
    }, options.heartbeatMs);
    this.#timer.unref?.();
  }

  /** Number of open sockets (authenticated or not). */
  get size(): number {
    return this.#all.size;
  }

  /** Take over an upgraded socket for `app` (name already validated). */
  accept(app: string, ws: WebSocket): LiveConnection {
    const conn = new LiveConnection(
      this.#engine,
      app,
      ws,
      `c_${this.#prefix}_${(this.#nextId++).toString(36)}`,
    );
    this.#all.add(conn);
    return conn;
  }

  /**
   * Fan a committed batch out (called in commit order; events built only if someone
   * listens): the subscription index names the connections each change may concern, and
   * each of those tests its own subscriptions and sends the message, encoded and framed
   * once per distinct content for the whole commit (`cache`). Returns the number of
   * connections the commit was routed to.
   */
  publish(app: string, changes: () => readonly DocChangeEvent[], cursor: number): number {
    const index = this.#indexes.get(app);
    if (!index || index.size === 0) return 0;
    const events = changes();
    if (events.length === 0) return 0;
    const cache = new Map<string, PreparedMessage>();
    let reached = 0;
    for (const [conn, indices] of index.candidates(events)) {
      conn.publish(events, indices, cursor, cache);
      reached++;
    }
    return reached;
  }

  /** Close every socket of one app with `code` (its clients reconnect as the code says). */
  closeApp(app: string, code: number, reason: string): void {
    for (const conn of [...this.#all]) if (conn.app === app) conn.close(code, reason);
  }

  /** Close every socket with `code`, wait up to `drainMs` for the handshakes, then drop the rest. */
  async close(code: number, reason: string, drainMs: number): Promise<void> {
    clearInterval(this.#timer);
    const conns = [...this.#all];
    const closed = conns.map((c) => c.closed());
    for (const c of conns) c.close(code, reason);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.all(closed), new Promise((r) => (timer = setTimeout(r, drainMs)))]);
    clearTimeout(timer);
    for (const c of conns) c.terminate();
    this.#all.clear();
    this.#indexes.clear();
  }
}
