/**
 * The OmniSync-server source (DESIGN.md "Sources", protocol v1): cells with their HLCs,
 * pushed in ordered batches, pulled by cursor, kept live over a WebSocket (polling when
 * there is none). See ARCHITECTURE.md beside this file for the loop and its invariants.
 */
import {
  type Cell,
  type JsonValue,
  NonRetriableError,
  type OmniSyncError,
  randomId,
  type Random,
  type ReadonlySignal,
  type Scheduler,
  signal,
  systemRandom,
  toOmniSyncError,
  ValidationError,
  type WireMutation,
  type WireQuery,
} from '@omnisync/core';
import { Backoff, type BackoffOptions, resolveBackoff } from '../../transport/backoff.js';
import { classifyError } from '../../transport/errors.js';
import {
  createHttpTransport,
  type HttpTransport,
  REQUEST_TIMEOUT_MS,
  validateEndpoint,
} from '../../transport/http-transport.js';
import type { FetchLike, TokenFunction, WebSocketConstructor } from '../../transport/types.js';
import { fromWireCells, toWireCells } from '../../transport/wire.js';
import type { PersistRequest, Source, SourceContext } from '../types.js';
import { LiveLink } from './live-link.js';
import { Outbox, type OutboxEntry } from './outbox.js';
import {
  initialStatus,
  PARTITION_TIMEOUT_MS,
  publicStatus,
  reduceStatus,
  type ServerSyncStatus,
  type StatusAction,
  type StatusState,
  subscriptionStatusOf,
} from './sync-status.js';

/** Default largest number of transactions in one push. */
export const PUSH_BATCH_SIZE = 100;
/** Default pause between pulls when there is no live connection. */
export const POLL_INTERVAL_MS = 10_000;
/** Default heartbeat of the live connection. */
export const HEARTBEAT_MS = 20_000;
/** Meta keys this source persists (through the client's persistence). */
export const META_CURSOR = 'cursor';
export const META_CLIENT_ID = 'clientId';

/** Options of {@link createServerSource}. */
export interface ServerSourceOptions {
  /** The app (tenant) id. */
  readonly app: string;
  /** Base URL of the sync server, e.g. `http://127.0.0.1:8787`. */
  readonly server: string;
  /** Token function, called before each request and on each (re)connect (seed 000). */
  readonly auth?: TokenFunction;
  /** Fetch implementation (default the global one). */
  readonly fetch?: FetchLike;
  /**
   * WebSocket constructor for live changes (default `globalThis.WebSocket`; in Node < 22 pass
   * the `ws` package's). `null` or `false`: no live connection, poll instead.
   */
  readonly WebSocket?: WebSocketConstructor | null | false;
  /** This device's id for push idempotency (default: generated once, kept in the client's persistence). */
  readonly clientId?: string;
  /** Collections to sync (default: every collection the client gives this source). */
  readonly collections?: readonly string[];
  /** Queries to sync instead of whole collections. */
  readonly queries?: readonly WireQuery[];
  /** Largest number of transactions in one push (default 100). */
  readonly batchSize?: number;
  /** Pull page size (change-log entries; default: the server's). */
  readonly pullLimit?: number;
  /** Pause between pulls without a live connection, in ms (default 10 000). */
  readonly pollIntervalMs?: number;
  /** A request not answered within this many ms counts as lost (default 30 000). */
  readonly requestTimeoutMs?: number;
  /** Live heartbeat, in ms (default 20 000). */
  readonly heartbeatMs?: number;
  /** After this long offline the status says `partitioned` (default 60 000, seed 003). */
  readonly partitionTimeoutMs?: number;
  /** Reconnect and retry backoff (capped exponential with jitter). */
  readonly backoff?: BackoffOptions;
  /** `changes` (default): the socket carries cells; `poke`: it only says "pull now". */
  readonly liveMode?: 'changes' | 'poke';
  /** Time (default: the client's scheduler). */
  readonly scheduler?: Scheduler;
  /** Randomness for jitter and the client id (default Math.random). */
  readonly random?: Random;
  /** Source id (default `omnisync:<app>`). */
  readonly id?: string;
}

/** The OmniSync-server source: a {@link Source} plus status and on-demand sync. */
export interface ServerSource extends Source {
  readonly kind: 'remote';
  /** Online/offline/syncing, pending count, partition (a signal: read it in an effect or computed). */
  readonly status: ReadonlySignal<ServerSyncStatus>;
  /** This device's id on the server (known once started). */
  readonly clientId: string | undefined;
  /**
   * Push everything waiting and pull until caught up. Resolves when done; rejects with the
   * error when the server cannot be reached (the source keeps retrying in the background).
   */
  sync(): Promise<void>;
  start(context: SourceContext): Promise<void>;
  persist(request: PersistRequest): Promise<void>;
  stop(): Promise<void>;
}

interface SyncWaiter {
  resolve: () => void;
  reject: (e: Error) => void;
  /** A pull that reached the head completed after this waiter came. */
  pulled: boolean;
  /** Resolve on a failure too (the first sync of `start`). */
  settleOnFailure: boolean;
}

const positive = (name: string, v: number | undefined, dflt: number): number => {
  const n = v ?? dflt;
  if (!(n > 0) || !Number.isFinite(n))
    throw new ValidationError(`${name} must be a positive number, got ${String(v)}.`);
  return n;
};

/**
 * Create the source that syncs collections with an OmniSync server.
 * @example
 * import WebSocket from 'ws';
 * const source = createServerSource({ app: 'todo', server: 'http://127.0.0.1:8787', auth: () => token, WebSocket });
 * effect(() => console.log(source.status.get().state));
 */
export function createServerSource(options: ServerSourceOptions): ServerSource {
  return new ServerSourceImpl(options);
}

class ServerSourceImpl implements ServerSource {
  readonly id: string;
  readonly kind = 'remote' as const;
  readonly #o: ServerSourceOptions;
  readonly #batchSize: number;
  readonly #pollMs: number;
  readonly #partitionMs: number;
  readonly #status = signal<ServerSyncStatus>(publicStatus(initialStatus()));
  #state: StatusState = initialStatus();
  readonly #outbox = new Outbox();
  #ctx: SourceContext | undefined;
  #scheduler!: Scheduler;
  #random!: Random;
  #http!: HttpTransport;
  #backoff!: Backoff;
  #live: LiveLink | undefined;
  #clientId: string | undefined;
  #queries: readonly WireQuery[] = [];
  #cursor: number | undefined;
  #cursorSaving: Promise<void> | undefined;
  #needSnapshot = false;
  #needPull = false;
  #running = false;
  #stopped = false;
  /** Stopped by a 403 until the app calls sync(). */
  #paused = false;
  #retryTimer: { cancel(): void } | undefined;
  #pollTimer: { cancel(): void } | undefined;
  #kickTimer: { cancel(): void } | undefined;
  #partitionTimer: { cancel(): void } | undefined;
  #waiters: SyncWaiter[] = [];

  constructor(options: ServerSourceOptions) {
    if (options.queries !== undefined && options.collections !== undefined)
      throw new ValidationError('Pass either `collections` or `queries` to createServerSource, not both.');
    this.#o = options;
    this.id = options.id ?? `omnisync:${options.app}`;
    this.#batchSize = Math.floor(positive('batchSize', options.batchSize, PUSH_BATCH_SIZE));
    this.#pollMs = positive('pollIntervalMs', options.pollIntervalMs, POLL_INTERVAL_MS);
    this.#partitionMs = positive('partitionTimeoutMs', options.partitionTimeoutMs, PARTITION_TIMEOUT_MS);
    // Fail fast on bad options, before the client starts.
    resolveBackoff(options.backoff);
    validateEndpoint(options.server, options.app);
  }

  get status(): ReadonlySignal<ServerSyncStatus> {
    return this.#status;
  }

  get clientId(): string | undefined {
    return this.#clientId;
  }

  async start(ctx: SourceContext): Promise<void> {
    const o = this.#o;
    this.#ctx = ctx;
    this.#scheduler = o.scheduler ?? ctx.scheduler;
    this.#random = o.random ?? systemRandom;
    this.#backoff = new Backoff(resolveBackoff(o.backoff), this.#random);
    this.#http = createHttpTransport({
      server: o.server,
      app: o.app,
      ...(o.auth ? { auth: o.auth } : {}),
      ...(o.fetch ? { fetch: o.fetch } : {}),
      scheduler: this.#scheduler,
      requestTimeoutMs: o.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
    });
    this.#queries = o.queries ?? (o.collections ?? ctx.collections).map((collection) => ({ collection }));
    const storedId = ctx.getMeta(META_CLIENT_ID);
    this.#clientId = o.clientId ?? (typeof storedId === 'string' ? storedId : undefined);
    if (this.#clientId === undefined) {
      this.#clientId = randomId(this.#random);
      await ctx.setMeta(META_CLIENT_ID, this.#clientId);
    }
    const storedCursor = ctx.getMeta(META_CURSOR);
    if (typeof storedCursor === 'number' && Number.isSafeInteger(storedCursor) && storedCursor >= 0) {
      this.#cursor = storedCursor;
      this.#dispatch({ type: 'cursor', cursor: storedCursor });
    }
    this.#needSnapshot = this.#cursor === undefined;
    this.#needPull = true;
    this.#dispatch({ type: 'pending', count: this.#outbox.size });
    const WS =
      o.WebSocket === undefined
        ? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
        : o.WebSocket;
    if (WS)
      this.#live = new LiveLink({
        server: o.server,
        app: o.app,
        WebSocket: WS,
        scheduler: this.#scheduler,
        ...(o.auth ? { auth: o.auth } : {}),
        clientId: this.#clientId,
        queries: this.#queries,
        mode: o.liveMode ?? 'changes',
        heartbeatMs: positive('heartbeatMs', o.heartbeatMs, HEARTBEAT_MS),
        connectTimeoutMs: o.requestTimeoutMs ?? REQUEST_TIMEOUT_MS,
        backoff: new Backoff(resolveBackoff(o.backoff), this.#random),
        cursor: () => this.#cursor,
        onChanges: (cells, cursor) => this.#applyLive(cells, cursor),
        onReady: (cursor) => {
          this.#dispatch({ type: 'transport', transport: 'websocket' });
          this.#dispatch({ type: 'reached', at: this.#scheduler.now() });
          this.#advanceCursor(cursor);
          // The socket now carries every change: polling stops until it drops.
          this.#pollTimer?.cancel();
          this.#pollTimer = undefined;
        },
        onPull: () => this.#requestPull(),
        onDown: () => {
          this.#dispatch({ type: 'transport', transport: 'polling' });
          // Catch up by cursor over HTTP while the socket reconnects.
          this.#requestPull();
        },
        onError: (error) => this.#ctx?.reportError(error),
        onForbidden: (error) => this.#forbidden(error),
      });
    // The first sync: start() resolves once it is applied, or once it failed (offline first:
    // the collection is ready with what it has, and the source keeps trying).
    await new Promise<void>((resolve) => {
      this.#waiters.push({ resolve, reject: () => resolve(), pulled: false, settleOnFailure: true });
      this.#wake();
    });
  }

  persist(request: PersistRequest): Promise<void> {
    const meta = request.transaction as unknown as { name?: unknown; args?: unknown };
    const mutation: WireMutation = { id: request.transaction.id, changes: toWireCells(request.cells) };
    if (typeof meta.name === 'string') {
      mutation.name = meta.name;
      if (meta.args !== undefined) mutation.args = meta.args as JsonValue;
    }
    if (mutation.changes.length === 0 && mutation.name === undefined) return Promise.resolve();
    const done = this.#outbox.add(mutation);
    this.#dispatch({ type: 'pending', count: this.#outbox.size });
    // Coalesce persists of the same tick into one push.
    if (this.#kickTimer === undefined && this.#ctx !== undefined && !this.#stopped) {
      this.#kickTimer = this.#scheduler.setTimeout(() => {
        this.#kickTimer = undefined;
        this.#wake();
      }, 0);
    }
    return done;
  }

  sync(): Promise<void> {
    if (this.#stopped || this.#ctx === undefined)
      return Promise.reject(
        new ValidationError(
          'sync() needs a started source: add it to a client (or call start) first, and not after stop.',
        ),
      );
    return new Promise<void>((resolve, reject) => {
      this.#waiters.push({ resolve, reject, pulled: false, settleOnFailure: false });
      this.#paused = false;
      this.#needPull = true;
      // An explicit sync does not wait for the backoff.
      this.#retryTimer?.cancel();
      this.#retryTimer = undefined;
      this.#live?.retryNow();
      this.#wake();
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of [this.#retryTimer, this.#pollTimer, this.#kickTimer, this.#partitionTimer]) t?.cancel();
    this.#live?.stop();
    // Outbox entries stay unsettled: they are the client's persisted transactions, sent
    // again when it restarts. Waiters of sync() learn the source stopped.
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters)
      w.settleOnFailure ? w.resolve() : w.reject(new ValidationError('The server source was stopped.'));
    await this.#cursorSaving;
  }

  // ── the loop ─────────────────────────────────────────────────────────────────────

  #wake(): void {
    if (this.#running || this.#stopped || this.#ctx === undefined) return;
    void this.#run();
  }

  async #run(): Promise<void> {
    this.#running = true;
    this.#dispatch({ type: 'busy', busy: true });
    let failure: unknown;
    try {
      while (!this.#stopped && !this.#paused && this.#retryTimer === undefined) {
        if (this.#needSnapshot) await this.#snapshot();
        else if (this.#outbox.size > 0) await this.#push();
        else if (this.#needPull) await this.#pull();
        else break;
        this.#reached();
      }
    } catch (err) {
      failure = err;
    } finally {
      this.#running = false;
      this.#dispatch({ type: 'busy', busy: false });
    }
    if (this.#stopped) return;
    if (failure !== undefined) this.#failed(failure);
    else if (!this.#paused && this.#retryTimer === undefined) this.#idle();
  }

  async #snapshot(): Promise<void> {
    const res = await this.#http.snapshot(this.#queries.length > 0 ? { queries: [...this.#queries] } : {});
    this.#apply(fromWireCells(res.cells));
    this.#needSnapshot = false;
    this.#needPull = true;
    await this.#setCursor(res.cursor, true);
  }

  async #pull(): Promise<void> {
    const cursor = this.#cursor ?? 0;
    const res = await this.#http.pull({
      cursor,
      ...(this.#queries.length > 0 ? { queries: [...this.#queries] } : {}),
      ...(this.#o.pullLimit ? { limit: this.#o.pullLimit } : {}),
    });
    if ('reset' in res) {
      // Older than the server's compaction horizon: snapshot, then continue from its cursor.
      // Pending transactions stay in the client's overlay and outbox, so nothing is lost.
      this.#needSnapshot = true;
      return;
    }
    this.#apply(fromWireCells(res.changes));
    await this.#setCursor(res.cursor, false);
    this.#needPull = res.hasMore;
    if (!res.hasMore) {
      for (const w of this.#waiters) w.pulled = true;
      this.#dispatch({ type: 'synced', at: this.#scheduler.now(), cursor: this.#cursor });
    }
  }

  async #push(): Promise<void> {
    const batch = this.#outbox.take(this.#batchSize);
    let res;
    try {
      res = await this.#http.push({ clientId: this.#clientId!, mutations: batch.map((e) => e.mutation) });
    } catch (err) {
      const kind = classifyError(err);
      if (kind === 'fatal') {
        this.#refusedBatch(batch, toOmniSyncError(err));
        return;
      }
      if (kind === 'forbidden') this.#rejectAll(batch, toOmniSyncError(err));
      throw err;
    }
    let settled = 0;
    for (const r of res.results) {
      if (r.status === 'applied') settled += Number(this.#outbox.settle(r.id));
      else {
        const reason = `${r.error.code}: ${r.error.message}`;
        const error = new NonRetriableError(`The server rejected transaction ${r.id}: ${reason}`, {
          details: { code: r.error.code, ...(r.error.details ?? {}) },
        });
        settled += Number(this.#outbox.settle(r.id, error));
      }
    }
    this.#dispatch({ type: 'pending', count: this.#outbox.size });
    this.#needPull = true;
    if (settled === 0)
      throw toOmniSyncError(
        new Error(`The server answered a push of ${batch.length} transactions without their results.`),
      );
  }

  /** The server refused a whole batch as malformed: isolate, then fail only the bad one. */
  #refusedBatch(batch: readonly OutboxEntry[], error: OmniSyncError): void {
    if (batch.length > 1) {
      for (const e of batch) e.solo = true;
      return;
    }
    const e = batch[0]!;
    this.#outbox.settle(
      e.id,
      new NonRetriableError(`The server refused transaction ${e.id}: ${error.message}`, {
        cause: error,
        details: { code: error.code },
      }),
    );
    this.#dispatch({ type: 'pending', count: this.#outbox.size });
    this.#ctx?.reportError(error);
  }

  #rejectAll(batch: readonly OutboxEntry[], error: OmniSyncError): void {
    for (const e of batch)
      this.#outbox.settle(
        e.id,
        new NonRetriableError(`The server refused transaction ${e.id}: ${error.message}`, {
          cause: error,
          details: { code: error.code },
        }),
      );
    this.#dispatch({ type: 'pending', count: this.#outbox.size });
  }

  #reached(): void {
    this.#backoff.reset();
    this.#partitionTimer?.cancel();
    this.#partitionTimer = undefined;
    this.#dispatch({ type: 'reached', at: this.#scheduler.now() });
  }

  #idle(): void {
    const waiters = this.#waiters.filter((w) => w.pulled);
    this.#waiters = this.#waiters.filter((w) => !w.pulled);
    for (const w of waiters) w.resolve();
    if (this.#cursor !== undefined) this.#live?.connect();
    if (!this.#live?.ready && this.#pollTimer === undefined)
      this.#pollTimer = this.#scheduler.setTimeout(() => {
        this.#pollTimer = undefined;
        this.#requestPull();
      }, this.#pollMs);
  }

  #failed(err: unknown): void {
    const error = toOmniSyncError(err);
    const kind = classifyError(error);
    const now = this.#scheduler.now();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.settleOnFailure ? w.resolve() : w.reject(error);
    this.#ctx?.reportError(error);
    if (kind === 'forbidden') {
      this.#forbidden(error);
      return;
    }
    if (kind === 'transient') {
      this.#dispatch({ type: 'unreachable', at: now, error });
      if (this.#partitionTimer === undefined) {
        const since = this.#state.offlineSince ?? now;
        this.#partitionTimer = this.#scheduler.setTimeout(
          () =>
            this.#dispatch({
              type: 'partition-check',
              at: this.#scheduler.now(),
              timeoutMs: this.#partitionMs,
            }),
          Math.max(0, since + this.#partitionMs - now),
        );
      }
    } else this.#dispatch({ type: 'failed', at: now, error });
    // Transient, unauthorized (the token function may recover) and fatal pulls alike: back off.
    this.#retryTimer = this.#scheduler.setTimeout(() => {
      this.#retryTimer = undefined;
      this.#needPull = true;
      this.#wake();
    }, this.#backoff.next());
  }

  #forbidden(error: OmniSyncError): void {
    this.#paused = true;
    this.#live?.pause();
    this.#dispatch({ type: 'failed', at: this.#scheduler.now(), error });
  }

  #requestPull(): void {
    this.#needPull = true;
    this.#wake();
  }

  // ── cells and cursor ─────────────────────────────────────────────────────────────

  #apply(cells: readonly Cell[]): void {
    if (cells.length > 0) this.#ctx!.applyCells(cells);
  }

  #applyLive(cells: readonly Cell[], cursor: number | undefined): void {
    if (this.#stopped) return;
    try {
      this.#apply(cells);
    } catch (err) {
      this.#ctx?.reportError(err);
      return;
    }
    if (cursor !== undefined) this.#advanceCursor(cursor);
  }

  #advanceCursor(cursor: number): void {
    if (this.#cursor !== undefined && cursor <= this.#cursor) return;
    void this.#setCursor(cursor, false).catch((err) => this.#ctx?.reportError(err));
  }

  /** Set the cursor (never backwards unless `force`) and persist it, after the cells it covers. */
  #setCursor(cursor: number, force: boolean): Promise<void> {
    if (!force && this.#cursor !== undefined && cursor <= this.#cursor) return Promise.resolve();
    this.#cursor = cursor;
    this.#dispatch({ type: 'cursor', cursor });
    return this.#saveCursor();
  }

  /** Resolves once the current cursor (or a later one) is persisted; one write at a time. */
  #saveCursor(): Promise<void> {
    if (this.#cursorSaving) return this.#cursorSaving;
    const ctx = this.#ctx!;
    this.#cursorSaving = (async () => {
      try {
        let saved: number | undefined;
        // Keep writing until the value written is the latest: a slow write never lands
        // after a newer one, and never lands before the cells it covers were applied.
        while (this.#cursor !== undefined && this.#cursor !== saved) {
          saved = this.#cursor;
          await ctx.setMeta(META_CURSOR, saved);
        }
      } finally {
        this.#cursorSaving = undefined;
      }
    })();
    return this.#cursorSaving;
  }

  #dispatch(action: StatusAction): void {
    const next = reduceStatus(this.#state, action);
    if (next === this.#state) return;
    const before = this.#state;
    this.#state = next;
    this.#status.set(publicStatus(next));
    const was = subscriptionStatusOf(before);
    const now = subscriptionStatusOf(next);
    if (was !== now && this.#ctx !== undefined && !this.#stopped) this.#ctx.setStatus(now);
  }
}
