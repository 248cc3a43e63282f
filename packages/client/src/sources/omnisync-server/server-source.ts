/**
 * The OmniSync-server source (DESIGN.md "Sources", protocol v1): cells with their HLCs,
 * pushed in ordered batches, pulled by cursor, kept live over a WebSocket (polling when
 * there is none). See ARCHITECTURE.md beside this file for the loop and its invariants.
 */
import {
  type Cell,
  type OmniSyncError,
  PULL_LIMIT_MAX,
  type QueryAst,
  type Random,
  type ReadonlySignal,
  type Scheduler,
  signal,
  systemRandom,
  toOmniSyncError,
  ValidationError,
  type WireDocKey,
  type WireQuery,
} from '@omnisync/core';
import { Backoff, resolveBackoff } from '../../transport/backoff.js';
import { classifyError } from '../../transport/errors.js';
import {
  createHttpTransport,
  type HttpTransport,
  REQUEST_TIMEOUT_MS,
  validateEndpoint,
} from '../../transport/http-transport.js';
import type { WebSocketConstructor } from '../../transport/types.js';
import { fromWireCells, toWireCells } from '../../transport/wire.js';
import type { PersistRequest, SourceContext } from '../types.js';
import { LiveLink } from './live-link.js';
import { Outbox } from './outbox.js';
import { pushHead } from './push-head.js';
import { QuerySet, scopeKey, scopeOf, type SyncQueryInput } from './query-set.js';
import {
  HEARTBEAT_MS,
  META_CLIENT_ID,
  META_CURSOR,
  CURSOR_REPORT_MS,
  QUERY_TTL_MS,
  POLL_INTERVAL_MS,
  PUSH_BATCH_SIZE,
  type OutboxItem,
  type ServerSource,
  type ServerSourceOptions,
} from './server-source-types.js';
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

interface SyncWaiter {
  resolve: () => void;
  reject: (e: Error) => void;
  /** Pulls sent before this waiter came: only a later one that reaches the head counts. */
  after: number;
  /** A pull sent after this waiter came reached the head. */
  pulled: boolean;
  /** The run in progress when it came: that run failing does not fail this waiter. */
  duringRun: number | undefined;
  /** Resolve on a failure too (the first sync of `start`: offline first). */
  settleOnFailure: boolean;
}

/** A live batch: its cells, its cursor (undefined: not gap-free yet), the documents it evicted. */
interface LiveBatch {
  readonly cells: readonly Cell[];
  readonly cursor: number | undefined;
  readonly evicted?: readonly WireDocKey[];
}

/** Key prefix of the timers retrying a dropped scope's documents kept back for pending writes. */
const LEFTOVER = 'leftover:';

const positive = (name: string, v: number | undefined, dflt: number): number => {
  const n = v ?? dflt;
  if (!(n > 0) || !Number.isFinite(n))
    throw new ValidationError(`${name} must be a positive number of the right unit, got ${String(v)}.`);
  return n;
};

/**
 * Create the source that syncs collections with an OmniSync server.
 * @example
 * import WebSocket from 'ws';
 * const source = createServerSource({ app: 'todo', server: 'http://127.0.0.1:8787', auth: () => token, WebSocket });
 * const todos = client.collection({ id: 'todos', source });
 * effect(() => console.log(source.status.get().state, source.status.get().pending));
 */
export function createServerSource(options: ServerSourceOptions): ServerSource {
  return new ServerSourceImpl(options);
}

class ServerSourceImpl implements ServerSource {
  readonly id: string;
  readonly kind = 'remote' as const;
  readonly runsMutators = true as const;

  /** The schema version this build writes (`schemaVersion` option), stamped on each transaction. */
  get schemaVersion(): number | undefined {
    return this.#o.schemaVersion;
  }
  readonly scope: 'collections' | 'queries';
  readonly #o: ServerSourceOptions;
  /** Queries wanted before start: added to the query set when it exists. */
  #early: { query: SyncQueryInput; resolve: () => void; reject: (e: unknown) => void }[] = [];
  readonly #batchSize: number;
  readonly #pollMs: number;
  readonly #partitionMs: number;
  readonly #heartbeatMs: number;
  readonly #timeoutMs: number;
  /** Cursor reports at most this often (0: never). */
  readonly #reportMs: number;
  /** The cursor last reported to the server, and when (scheduler time). */
  /** Live batches applied while a snapshot request is in flight (see #snapshot). */
  #duringSnapshot: LiveBatch[] | undefined;
  #reportedCursor: number | undefined;
  #reportedAt = -Infinity;
  #reportTimer: { cancel(): void } | undefined;
  /** A query nobody uses stays synced this long (0: for good). */
  readonly #queryTtlMs: number;
  /** Scopes without users, by key: the timer that drops them. */
  readonly #dropTimers = new Map<string, { cancel(): void }>();
  readonly #status = signal<ServerSyncStatus>(publicStatus(initialStatus()));
  #state: StatusState = initialStatus();
  readonly #outbox = new Outbox();
  #ctx: SourceContext | undefined;
  #scheduler!: Scheduler;
  #http!: HttpTransport;
  #backoff!: Backoff;
  #live: LiveLink | undefined;
  #clientId: string | undefined;
  #queries!: QuerySet;
  #cursor: number | undefined;
  /** The live session delivers every change after this cursor (undefined: no session ready). */
  #liveFrom: number | undefined;
  /** The cursor moved past what persistence holds (saved once nothing is pending). */
  #cursorUnsaved = false;
  #checkpointing: Promise<void> | undefined;
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
  /** Named mutations applied by the server: the cursor their result is visible at, by transaction id. */
  readonly #appliedAt = new Map<string, number>();
  /** awaitSync callers waiting for the cursor to reach a version. */
  #cursorWaiters: { at: number; resolve: () => void }[] = [];
  #runId = 0;
  #pullSeq = 0;

  constructor(options: ServerSourceOptions) {
    if (options.queries !== undefined && options.collections !== undefined)
      throw new ValidationError('Pass either `collections` or `queries` to createServerSource, not both.');
    validateEndpoint(options.server, options.app);
    resolveBackoff(options.backoff);
    this.#o = options;
    this.id = options.id ?? `omnisync:${options.app}`;
    this.#batchSize = Math.floor(positive('batchSize', options.batchSize, PUSH_BATCH_SIZE));
    if (
      options.schemaVersion !== undefined &&
      !(
        Number.isSafeInteger(options.schemaVersion) &&
        options.schemaVersion >= 1 &&
        options.schemaVersion <= 2_147_483_647
      )
    )
      throw new ValidationError(
        `schemaVersion must be an integer ≥ 1 (the version of defineSchemaVersions this build writes), got ${JSON.stringify(options.schemaVersion)}.`,
      );
    this.#pollMs = positive('pollIntervalMs', options.pollIntervalMs, POLL_INTERVAL_MS);
    this.#partitionMs = positive('partitionTimeoutMs', options.partitionTimeoutMs, PARTITION_TIMEOUT_MS);
    this.#heartbeatMs = positive('heartbeatMs', options.heartbeatMs, HEARTBEAT_MS);
    this.#timeoutMs = positive('requestTimeoutMs', options.requestTimeoutMs, REQUEST_TIMEOUT_MS);
    this.#queryTtlMs =
      options.queryTtlMs === false ? 0 : positive('queryTtlMs', options.queryTtlMs, QUERY_TTL_MS);
    this.#reportMs =
      options.cursorReportMs === false
        ? 0
        : positive('cursorReportMs', options.cursorReportMs, CURSOR_REPORT_MS);
    const limit = options.pullLimit;
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1 && limit <= PULL_LIMIT_MAX))
      throw new ValidationError(
        `pullLimit must be an integer from 1 to ${PULL_LIMIT_MAX}, got ${String(limit)}.`,
      );
    if (options.liveMode !== undefined && options.liveMode !== 'changes' && options.liveMode !== 'poke')
      throw new ValidationError(
        `liveMode must be "changes" or "poke", got ${JSON.stringify(options.liveMode)}.`,
      );
    if (options.scope !== undefined && options.scope !== 'collections' && options.scope !== 'queries')
      throw new ValidationError(
        `scope must be "collections" or "queries", got ${JSON.stringify(options.scope)}.`,
      );
    if (options.scope === 'queries' && options.collections !== undefined)
      throw new ValidationError(
        'scope "queries" syncs what live queries ask for; pass `queries` (synced from the start), not `collections`.',
      );
    this.scope = options.scope ?? 'collections';
    // A malformed query fails here (QueryError), not later in the background.
    options.queries?.forEach(scopeOf);
  }

  get status(): ReadonlySignal<ServerSyncStatus> {
    return this.#status;
  }

  get clientId(): string | undefined {
    return this.#clientId;
  }

  experimental_outbox(): readonly OutboxItem[] {
    return this.#outbox.entries().map((e) => ({
      id: e.id,
      ...(e.mutation.name !== undefined ? { name: e.mutation.name } : {}),
      changes: e.mutation.changes,
      solo: e.solo,
    }));
  }

  async start(ctx: SourceContext): Promise<void> {
    if (this.#ctx)
      throw new ValidationError(`Source ${this.id} is already started; one source serves one client.`);
    const o = this.#o;
    this.#ctx = ctx;
    this.#scheduler = o.scheduler ?? ctx.scheduler;
    const random: Random = o.random ?? systemRandom;
    this.#backoff = new Backoff(resolveBackoff(o.backoff), random);
    const timeoutMs = this.#timeoutMs;
    this.#http = createHttpTransport({
      server: o.server,
      app: o.app,
      ...(o.auth ? { auth: o.auth } : {}),
      ...(o.fetch ? { fetch: o.fetch } : {}),
      ...(o.compressRequests !== undefined ? { compressRequests: o.compressRequests } : {}),
      scheduler: this.#scheduler,
      requestTimeoutMs: timeoutMs,
    });
    this.#queries = new QuerySet(ctx, o.queries, o.collections, this.scope);
    for (const e of this.#early.splice(0)) {
      try {
        this.#queries.want(e.query).then(e.resolve, e.reject);
      } catch (err) {
        e.reject(err);
      }
    }
    // Scopes remembered from an earlier run that no live query wants again in time stop syncing.
    for (const key of this.#queries.idle()) this.#scheduleDrop(key);
    const storedId = ctx.getMeta(META_CLIENT_ID);
    // Default: the client's replica id, which its persistence keeps; push idempotency needs an
    // id that survives restarts exactly as long as the outbox does.
    this.#clientId = o.clientId ?? (typeof storedId === 'string' ? storedId : ctx.hlc.nodeId);
    if (storedId !== this.#clientId) await ctx.setMeta(META_CLIENT_ID, this.#clientId);
    const storedCursor = ctx.getMeta(META_CURSOR);
    if (typeof storedCursor === 'number' && Number.isSafeInteger(storedCursor) && storedCursor >= 0) {
      this.#cursor = storedCursor;
      this.#dispatch({ type: 'cursor', cursor: storedCursor });
    }
    this.#needPull = true;
    this.#dispatch({ type: 'pending', count: this.#outbox.size });
    const WS =
      o.WebSocket === undefined
        ? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
        : o.WebSocket;
    if (WS) this.#live = this.#createLive(WS, new Backoff(resolveBackoff(o.backoff), random), timeoutMs);
    // start() resolves once the first sync is applied, or once it failed: offline first, the
    // collection is ready with what it has and the source keeps trying in the background.
    await new Promise<void>((resolve) => {
      this.#waiters.push(this.#waiter(resolve, () => resolve(), true));
      this.#wake();
    });
  }

  #createLive(WS: WebSocketConstructor, backoff: Backoff, timeoutMs: number): LiveLink {
    const o = this.#o;
    const poke = o.liveMode === 'poke';
    return new LiveLink({
      server: o.server,
      app: o.app,
      WebSocket: WS,
      scheduler: this.#scheduler,
      ...(o.auth ? { auth: o.auth } : {}),
      clientId: this.#clientId!,
      queries: () => this.#queries.synced(),
      mode: poke ? 'poke' : 'changes',
      heartbeatMs: this.#heartbeatMs,
      connectTimeoutMs: timeoutMs,
      backoff,
      cursor: () => this.#cursor,
      onChanges: (cells, cursor, evicted) => this.#applyLive(cells, cursor, evicted),
      onReady: (cursor, complete) => {
        this.#dispatch({ type: 'transport', transport: 'websocket' });
        this.#reached();
        // From here the socket carries every change after `cursor`: the poll timer stops
        // pulling (see #idle), and live cursors count once ours reaches `cursor`.
        this.#liveFrom = cursor;
        // A catch-up by pull covered everything since our cursor. One by snapshot (cursor 0,
        // a reset) left out tombstones, and in poke mode `subscribed` only carries the head:
        // a pull from our own cursor fills the gap first.
        if (complete && !poke) this.#advanceCursor(cursor);
        else this.#requestPull();
      },
      onPull: () => this.#requestPull(),
      onDown: () => {
        this.#liveFrom = undefined;
        this.#dispatch({ type: 'transport', transport: 'polling' });
        // Catch up by cursor over HTTP while the socket reconnects.
        this.#requestPull();
      },
      onError: (error) => this.#ctx?.reportError(error),
      onForbidden: (error) => this.#forbidden(error),
    });
  }

  want(query: SyncQueryInput): Promise<void> {
    if (this.scope !== 'queries')
      throw new ValidationError(
        `want(): the server source ${this.id} syncs whole collections; create it with scope: "queries" to sync by query.`,
      );
    if (this.#queries === undefined) {
      scopeOf(query); // malformed: throw now
      return new Promise<void>((resolve, reject) => this.#early.push({ query, resolve, reject }));
    }
    const done = this.#queries.want(query);
    const key = scopeKey(query);
    for (const k of [key, LEFTOVER + key]) {
      this.#dropTimers.get(k)?.cancel();
      this.#dropTimers.delete(k);
    }
    if (this.#queries.unsynced().length > 0) this.#wake();
    return done;
  }

  isSynced(query: SyncQueryInput): boolean {
    return this.#queries?.covers(query) ?? false;
  }

  release(query: SyncQueryInput): void {
    if (this.scope !== 'queries' || this.#stopped) return;
    if (this.#queries === undefined) {
      // Not started: the want is still queued; take it back.
      const key = scopeKey(query);
      const i = this.#early.findIndex((e) => scopeKey(e.query) === key);
      if (i >= 0) this.#early.splice(i, 1)[0]!.resolve();
      return;
    }
    if (this.#queries.release(query)) this.#scheduleDrop(scopeKey(query));
  }

  /** In `queryTtlMs`, stop syncing the scope `key` if still nobody uses it, and forget what only it synced. */
  #scheduleDrop(key: string): void {
    if (this.#queryTtlMs === 0 || this.#dropTimers.has(key)) return;
    this.#dropTimers.set(
      key,
      this.#scheduler.setTimeout(() => {
        this.#dropTimers.delete(key);
        if (this.#stopped) return;
        const dropped = this.#queries.drop(key);
        if (dropped === undefined) return;
        this.#forgetLeftovers(key, dropped);
        this.#live?.restart(); // subscribe the remaining queries only
        this.#checkpoint().catch((e: unknown) => this.#ctx?.reportError(toOmniSyncError(e)));
      }, this.#queryTtlMs),
    );
  }

  /** Forget what only the dropped scope synced; documents kept back for pending writes, a TTL later. */
  #forgetLeftovers(key: string, dropped: QueryAst): void {
    if (this.#stopped || this.#queries.has(key)) return; // wanted again
    if (this.#ctx!.forgetScope?.(dropped, this.#queries.all()) !== false) return;
    this.#dropTimers.set(
      LEFTOVER + key,
      this.#scheduler.setTimeout(() => {
        this.#dropTimers.delete(LEFTOVER + key);
        this.#forgetLeftovers(key, dropped);
      }, this.#queryTtlMs),
    );
  }

  persist(request: PersistRequest): Promise<void> {
    const tx = request.transaction;
    const named = tx.mutator;
    if (request.cells.length === 0 && !named) return Promise.resolve();
    const changes = toWireCells(request.cells);
    const added = this.#outbox.add(
      named === undefined
        ? { id: tx.id, changes }
        : named.args === undefined
          ? { id: tx.id, name: named.name, changes }
          : { id: tx.id, name: named.name, args: named.args, changes },
      // Written before an app update: still the version it was written in.
      tx.schemaVersion ?? this.#o.schemaVersion,
    );
    // Upcast by the server (written before an app update): like a named mutation, the server's
    // cells are the result, and the write completes once they are here.
    const upcast = tx.schemaVersion !== undefined && tx.schemaVersion !== this.#o.schemaVersion;
    const done: Promise<void> =
      named === undefined && !upcast
        ? (added as Promise<unknown> as Promise<void>)
        : added.then((cursor) => {
            if (cursor !== undefined) this.#appliedAt.set(tx.id, cursor);
          });
    this.#dispatch({ type: 'pending', count: this.#outbox.size });
    // Stopped by a 403: each new write still gets one try (the token function may hand out a
    // valid token by now); refused again, it fails with NonRetriableError.
    this.#paused = false;
    // Persists of the same tick go out in one push.
    if (this.#kickTimer === undefined && this.#ctx !== undefined && !this.#stopped) {
      this.#kickTimer = this.#scheduler.setTimeout(() => {
        this.#kickTimer = undefined;
        this.#wake();
      }, 0);
    }
    return done;
  }

  /**
   * A named mutation completes once the server's own cells for it are here: the server re-ran
   * the mutator, and its result (not the client's optimistic guess) is what stays. The push
   * that applied it answered with the version it is visible at; wait for the cursor to get
   * there (the pull after every push, or the live socket, takes it). Others: at once.
   */
  awaitSync(request: PersistRequest): Promise<void> {
    const id = request.transaction.id;
    const at = this.#appliedAt.get(id);
    if (at === undefined) return Promise.resolve();
    this.#appliedAt.delete(id);
    if (this.#cursor !== undefined && this.#cursor >= at) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.#cursorWaiters.push({ at, resolve });
      this.#requestPull();
    });
  }

  /** The cursor moved: wake the awaitSync callers it reached. */
  #cursorReached(): void {
    const cursor = this.#cursor;
    if (this.#cursorWaiters.length === 0 || cursor === undefined) return;
    const reached = this.#cursorWaiters.filter((w) => w.at <= cursor);
    if (reached.length === 0) return;
    this.#cursorWaiters = this.#cursorWaiters.filter((w) => w.at > cursor);
    for (const w of reached) w.resolve();
  }

  sync(): Promise<void> {
    if (this.#stopped)
      return Promise.reject(
        new ValidationError(`sync(): the server source ${this.id} is stopped (its client was closed).`),
      );
    return new Promise<void>((resolve, reject) => {
      // Before start, the waiter rides along with the first sync.
      this.#waiters.push(this.#waiter(resolve, reject, false));
      this.#paused = false;
      this.#needPull = true;
      // An explicit sync does not wait out the backoff.
      this.#retryTimer?.cancel();
      this.#retryTimer = undefined;
      this.#live?.retryNow();
      this.#wake();
    });
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const t of [
      this.#retryTimer,
      this.#pollTimer,
      this.#kickTimer,
      this.#partitionTimer,
      this.#reportTimer,
    ])
      t?.cancel();
    for (const t of this.#dropTimers.values()) t.cancel();
    this.#dropTimers.clear();
    this.#live?.stop();
    // Outbox entries stay unsettled: they are the client's persisted transactions, sent again
    // when it restarts (settling them would fail or complete them here). sync() callers learn.
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters)
      if (w.settleOnFailure) w.resolve();
      else w.reject(new ValidationError(`The server source ${this.id} was stopped before it synced.`));
    await this.#checkpointing?.catch(() => {});
  }

  #waiter(resolve: () => void, reject: (e: Error) => void, settleOnFailure: boolean): SyncWaiter {
    return {
      resolve,
      reject,
      after: this.#pullSeq,
      pulled: false,
      duringRun: this.#running ? this.#runId : undefined,
      settleOnFailure,
    };
  }

  // ── the loop: one step at a time, snapshot > push > pull ─────────────────────────

  #wake(): void {
    if (this.#running || this.#stopped || this.#ctx === undefined) return;
    void this.#run();
  }

  async #run(): Promise<void> {
    this.#running = true;
    this.#runId++;
    this.#dispatch({ type: 'busy', busy: true });
    let failure: unknown;
    try {
      while (!this.#stopped && !this.#paused && this.#retryTimer === undefined) {
        this.#queries.refresh();
        if (this.#needSnapshot) await this.#snapshot();
        else if (this.#queries.unsynced().length > 0) {
          // Before the first pull (no cursor) that pull, from 0, brings new queries too.
          if (this.#cursor === undefined) this.#queries.markSynced(this.#queries.unsynced());
          else await this.#catchUpNew();
        } else if (this.#outbox.size > 0) await this.#push();
        else if (this.#needPull) await this.#pull();
        else if (this.#reportDue()) await this.#reportCursor();
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

  /**
   * The cursor is older than the server's compaction horizon: everything by snapshot, then
   * on from its cursor. (A first start pulls from cursor 0 instead: unlike a snapshot, the
   * change log carries the tombstones of documents this client may hold from its own writes.)
   */
  async #snapshot(): Promise<void> {
    const queries = this.#queries.all();
    // Live changes keep arriving while the snapshot is in flight; those committed after the
    // snapshot's cursor are not in it, and forgetting what the snapshot lacks would drop them
    // (a document inserted meanwhile would vanish from this client for good).
    const during: LiveBatch[] = [];
    this.#duringSnapshot = during;
    let res: Awaited<ReturnType<HttpTransport['snapshot']>>;
    try {
      res = await this.#http.snapshot(this.#queriesBody(queries));
    } finally {
      this.#duringSnapshot = undefined;
    }
    const cells = fromWireCells(res.cells);
    // The snapshot replaces what this client holds of these queries (seed 002): documents
    // gone from the server (deleted, their tombstones compacted) or out of the queries go,
    // and one the server re-created after such a compaction is rebuilt from the snapshot.
    const scope = queries.length > 0 ? queries : this.#ctx!.collections.map((collection) => ({ collection }));
    this.#ctx!.forgetAbsent?.(scope, cells);
    this.#apply(cells);
    // Then what is newer than the snapshot again, on top (LWW: applying it twice changes nothing).
    const snapshotCursor = res.cursor;
    for (const batch of during)
      if (batch.cursor === undefined || batch.cursor > snapshotCursor)
        this.#apply(batch.cells, batch.evicted);
    this.#needSnapshot = false;
    this.#needPull = true;
    this.#cursor = res.cursor;
    this.#cursorUnsaved = true;
    this.#dispatch({ type: 'cursor', cursor: res.cursor });
    this.#cursorReached();
    this.#queries.markSynced(queries);
    this.#queries.coverOnlyKnown();
    await this.#checkpoint();
  }

  /** The `queries` of a pull or snapshot: absent means everything, so a scoped source always sends its list. */
  #queriesBody(queries: readonly WireQuery[]): { queries?: WireQuery[] } {
    return queries.length > 0 || this.#scoped ? { queries: [...queries] } : {};
  }

  /**
   * Collections added after the cursor was set: their history by a pull of their own from
   * cursor 0, page by page. The main cursor stays: this pull covers them up to its end
   * (≥ ours), the next main pull everything after ours.
   */
  async #catchUpNew(): Promise<void> {
    const fresh = this.#queries.unsynced();
    let cursor = 0;
    for (;;) {
      const res = await this.#http.pull({
        cursor,
        queries: [...fresh],
        ...(this.#o.pullLimit ? { limit: this.#o.pullLimit } : {}),
      });
      if ('reset' in res) {
        this.#needSnapshot = true;
        return;
      }
      this.#apply(fromWireCells(res.changes), res.evicted);
      cursor = res.cursor;
      if (!res.hasMore) break;
    }
    this.#needPull = true;
    this.#queries.markSynced(fresh);
    this.#live?.restart();
    await this.#checkpoint();
  }

  async #pull(): Promise<void> {
    const queries = this.#queries.synced();
    const seq = ++this.#pullSeq;
    // Cleared before the request, so a pull asked for while this one is in flight (sync(),
    // a poke, the poll timer) still happens after it.
    this.#needPull = false;
    const res = await this.#http.pull({
      cursor: this.#cursor ?? 0,
      ...this.#queriesBody(queries),
      ...(this.#o.pullLimit ? { limit: this.#o.pullLimit } : {}),
    });
    if ('reset' in res) {
      // Older than the server's compaction horizon: snapshot, then continue from its cursor.
      // Pending transactions stay in the client's overlay and this outbox: nothing is lost.
      this.#needSnapshot = true;
      return;
    }
    this.#apply(fromWireCells(res.changes), res.evicted);
    if (res.hasMore) this.#needPull = true;
    await this.#setCursor(res.cursor);
    if (!res.hasMore) {
      for (const w of this.#waiters) if (w.after < seq) w.pulled = true;
      this.#dispatch({ type: 'synced', at: this.#scheduler.now(), cursor: this.#cursor });
    }
  }

  async #push(): Promise<void> {
    try {
      await pushHead(this.#http, this.#outbox, this.#clientId!, this.#batchSize, (e) =>
        this.#ctx?.reportError(e),
      );
    } finally {
      this.#dispatch({ type: 'pending', count: this.#outbox.size });
    }
    this.#needPull = true;
  }

  #reached(): void {
    if (this.#state.state === 'error' && this.#state.error?.code === 'forbidden') this.#live?.retryNow();
    this.#backoff.reset();
    this.#partitionTimer?.cancel();
    this.#partitionTimer = undefined;
    this.#dispatch({ type: 'reached', at: this.#scheduler.now() });
  }

  #idle(): void {
    const done = this.#waiters.filter((w) => w.pulled);
    this.#waiters = this.#waiters.filter((w) => !w.pulled);
    for (const w of done) w.resolve();
    if (this.#cursor !== undefined) this.#live?.connect();
    if (this.#pollTimer === undefined)
      this.#pollTimer = this.#scheduler.setTimeout(() => {
        this.#pollTimer = undefined;
        // Live and caught up: the socket carries the changes; only look for collections the
        // client registered since (they need their history). Otherwise poll.
        if (!this.#live?.ready) this.#requestPull();
        else if (this.#queries.refresh() || this.#queries.unsynced().length > 0) this.#wake();
        else this.#idle();
      }, this.#pollMs);
  }

  #failed(err: unknown): void {
    const error = toOmniSyncError(err);
    const kind = classifyError(error);
    const now = this.#scheduler.now();
    // A sync() that came while this run was already under way gets one fresh attempt of its own.
    const failedRun = this.#runId;
    const fresh =
      kind === 'forbidden' || error.code === 'schema_outdated'
        ? []
        : this.#waiters.filter((w) => w.duringRun === failedRun && !w.settleOnFailure);
    for (const w of this.#waiters)
      if (fresh.includes(w)) w.duringRun = undefined;
      else if (w.settleOnFailure) w.resolve();
      else w.reject(error);
    this.#waiters = fresh;
    this.#ctx?.reportError(error);
    // Like a 403: stop (outbox kept) until sync() or a new write; retrying cannot help before an update.
    if (kind === 'forbidden' || error.code === 'schema_outdated') return this.#forbidden(error);
    if (kind === 'transient') {
      this.#dispatch({ type: 'unreachable', at: now, error });
      if (this.#partitionTimer === undefined) {
        const since = this.#state.offlineSince ?? now;
        this.#partitionTimer = this.#scheduler.setTimeout(
          () => {
            this.#partitionTimer = undefined;
            this.#dispatch({
              type: 'partition-check',
              at: this.#scheduler.now(),
              timeoutMs: this.#partitionMs,
            });
          },
          Math.max(0, since + this.#partitionMs - now),
        );
      }
    } else this.#dispatch({ type: 'failed', at: now, error });
    // Transient, unauthorized (the token function may recover) and fatal alike: back off.
    const delay = this.#backoff.next();
    this.#retryTimer = this.#scheduler.setTimeout(
      () => {
        this.#retryTimer = undefined;
        this.#needPull = true;
        this.#wake();
      },
      fresh.length > 0 ? 0 : delay,
    );
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

  #apply(cells: readonly Cell[], evicted?: readonly WireDocKey[]): void {
    // Documents the caller may no longer read (rules on reads): forgotten, nothing pushed.
    if (evicted && evicted.length > 0) this.#ctx!.forgetDocuments?.(evicted);
    if (cells.length === 0) return;
    this.#ctx!.applyCells(cells);
    // Syncing by query: a document that moved out of every query gets no more updates; drop it.
    if (this.#scoped) this.#ctx!.forgetUnmatched?.(this.#queries.all(), cells);
  }

  /** Only some documents sync (queries), not whole collections. */
  get #scoped(): boolean {
    return this.scope === 'queries' || this.#o.queries !== undefined;
  }

  #applyLive(cells: readonly Cell[], cursor: number | undefined, evicted?: readonly WireDocKey[]): void {
    if (this.#stopped) return;
    try {
      this.#apply(cells, evicted);
      this.#duringSnapshot?.push(evicted ? { cells, cursor, evicted } : { cells, cursor });
    } catch (err) {
      this.#ctx?.reportError(err);
      return;
    }
    // A live cursor covers everything before it only from the session's start point on.
    const from = this.#liveFrom;
    if (cursor !== undefined && from !== undefined && this.#cursor !== undefined && this.#cursor >= from)
      this.#advanceCursor(cursor);
  }

  #advanceCursor(cursor: number): void {
    this.#setCursor(cursor).catch((err) => this.#ctx?.reportError(err));
  }

  /** Move the cursor forward (never back) once the cells it covers are applied; checkpoint. */
  async #setCursor(cursor: number): Promise<void> {
    if (this.#cursor === undefined || cursor > this.#cursor) {
      this.#cursor = cursor;
      this.#cursorUnsaved = true;
      this.#dispatch({ type: 'cursor', cursor });
      this.#cursorReached();
      // The cursor moved with the queries synced now: saved ones not among them lose their coverage.
      this.#queries.coverOnlyKnown();
    }
    await this.#checkpoint();
  }

  /**
   * Persist the cursor (and the synced query list) after the cells it covers were handed to
   * `applyCells`. The client stores those cells before `applyCells` returns, held ones (for a
   * document with a pending ordered write) included, and its persistence writes commit in
   * call order: the cursor never lands before the cells it covers. Both keys go in one
   * commit (the client groups writes of one tick).
   */
  #checkpoint(): Promise<void> {
    if (!this.#cursorUnsaved && !this.#queries.dirty) return Promise.resolve();
    if (this.#checkpointing) return this.#checkpointing;
    const ctx = this.#ctx!;
    this.#checkpointing = (async () => {
      try {
        // Write until what is written is the latest: a slow write never lands after a newer one.
        while (this.#cursorUnsaved || this.#queries.dirty) {
          const writes: Promise<void>[] = [this.#queries.save()];
          if (this.#cursorUnsaved && this.#cursor !== undefined) {
            this.#cursorUnsaved = false;
            writes.push(
              ctx.setMeta(META_CURSOR, this.#cursor).catch((err: unknown) => {
                this.#cursorUnsaved = true;
                throw err;
              }),
            );
          }
          await Promise.all(writes);
        }
      } finally {
        this.#checkpointing = undefined;
      }
    })();
    return this.#checkpointing;
  }

  /**
   * Whether to report the cursor now: it moved since the last report and is persisted (a
   * restart resumes from it). Too soon after the last report, a timer wakes the loop later.
   */
  #reportDue(): boolean {
    const cursor = this.#cursor;
    if (
      this.#reportMs === 0 ||
      cursor === undefined ||
      cursor === this.#reportedCursor ||
      this.#cursorUnsaved
    )
      return false;
    const wait = this.#reportedAt + this.#reportMs - this.#scheduler.now();
    if (wait <= 0) return true;
    this.#reportTimer ??= this.#scheduler.setTimeout(() => {
      this.#reportTimer = undefined;
      this.#wake();
    }, wait);
    return false;
  }

  /** `POST cursor`. Advisory: a failure is not a sync failure; it is tried again after the interval. */
  async #reportCursor(): Promise<void> {
    const cursor = this.#cursor!;
    this.#reportedAt = this.#scheduler.now();
    try {
      await this.#http.cursor({ clientId: this.#clientId!, cursor });
      this.#reportedCursor = cursor;
    } catch {
      // Offline, or refused: the next report, an interval from now, says it again.
    }
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
