/**
 * The sync engine: everything the HTTP handler and the WebSocket server share — apps and
 * their storage, auth, the server HLC, push/pull/snapshot, fan-out, graceful close.
 */
import {
  checkKey,
  checkPushKeys,
  createHlc,
  type CursorRequest,
  type CursorResponse,
  type HlcClock,
  LIVE_CLOSE_CODES,
  MESSAGE_MAX_BYTES,
  MESSAGE_MAX_DEPTH,
  OmniSyncError,
  type PullRequest,
  type PullResponse,
  type PushRequest,
  type PushResponse,
  randomId,
  type RulesEvaluator,
  type SnapshotRequest,
  type SnapshotResponse,
} from '@omnisync/core';
import { LiveServer } from '../live/live-engine.js';
import { counted, createServerMetrics, noMetrics, type ServerMetrics } from '../observability/metrics.js';
import { createServerTracing, type ServerTracing } from '../observability/tracing.js';
import type { DeviceCursor, GcOptions, GcResult } from '../storage/storage.js';
import { createLogger, type Logger } from '../util/logger.js';
import { AppRegistry } from './app-registry.js';
import { CommitFeed } from './commit-feed.js';
import { Compactor, resolveCompaction } from './compaction.js';
import { type AuthContext, type Authenticator, createAuthenticator } from './auth.js';
import {
  type AuthorizeRequest,
  resolveLiveOptions,
  type ResolvedLiveOptions,
  type SyncServerOptions,
} from './options.js';
import { type AppState } from './app-registry.js';
import { GroupCommit } from './group-commit.js';
import { applyPush } from './push.js';
import { RateLimiter } from './rate-limit.js';
import { createServerRules } from './rules.js';
import { type ExplainRequest, type ExplainResult, explainDocument } from './explain.js';
import { createPushSchemaCheck } from './schema.js';
import { readPull, readSnapshot } from './read.js';
import type { DocChangeEvent } from './working-doc.js';

/** The shared core of a sync server. */
export interface SyncEngine {
  readonly log: Logger;
  readonly hlc: HlcClock;
  readonly limits: { readonly maxBytes: number; readonly maxDepth: number };
  readonly liveOptions: ResolvedLiveOptions;
  /** Token buckets per caller and per connection (see `rateLimit` in the options). */
  readonly rateLimiter: RateLimiter;
  readonly live: LiveServer;
  readonly authRequired: boolean;
  /** The permission rules' evaluator (undefined: no rules, only the `authorize` hook). */
  readonly rules: RulesEvaluator | undefined;
  /** Prometheus metrics of this server (a no-op set with `metrics: false`). */
  readonly metrics: ServerMetrics;
  /** OpenTelemetry spans (no-op without an SDK, skipped with `tracing: false`). */
  readonly tracing: ServerTracing;
  /** Throws unless `app` is a valid, existing app name (400/404); opens nothing. */
  checkApp(app: string): void;
  /** Validate the app name and the token (400/401/403/404). */
  authenticate(app: string, token: string | undefined): Promise<AuthContext>;
  push(app: string, auth: AuthContext, req: PushRequest): Promise<PushResponse>;
  pull(app: string, auth: AuthContext, req: PullRequest): Promise<PullResponse>;
  snapshot(app: string, auth: AuthContext, req: SnapshotRequest): Promise<SnapshotResponse>;
  /** Seed 004 `updateCursor`. */
  updateCursor(app: string, auth: AuthContext, req: CursorRequest): Promise<CursorResponse>;
  /** Current head version of an app. */
  head(app: string): Promise<number>;
  /** Every device's reported cursor (to choose a safe compaction version). */
  deviceCursors(app: string): Promise<DeviceCursor[]>;
  /** Compact an app (see SyncStorage.gc). */
  gc(app: string, options: GcOptions): Promise<GcResult>;
  /**
   * Why a stored document is or is not visible, updatable and deletable for `principal`
   * under the rules (which rule, which clause; hidden fields); says so when it is missing or
   * when the server has no rules. No token is checked: callers are trusted (admin).
   */
  explain(req: ExplainRequest): Promise<ExplainResult>;
  /** True once close() began. */
  readonly closing: boolean;
  /** Stop serving, close sockets (1001), finish in-flight commits, close storages. */
  close(): Promise<void>;
}

/** A push waiting for its app's write lock. */
interface QueuedPush {
  readonly auth: AuthContext;
  readonly req: PushRequest;
}

const closedError = () => new OmniSyncError('closed', 'The server is shutting down; retry in a moment.');

/** Create the engine from server options. */
export function createSyncEngine(options: SyncServerOptions = {}): SyncEngine {
  const log = options.logger ?? createLogger(options.logLevel);
  const authenticator: Authenticator = createAuthenticator(options.auth);
  if (!authenticator.required)
    log.warn(
      'auth is not configured: every app is open to anyone (development mode). Pass --auth-secret or --jwks-url in production.',
    );
  const compaction = resolveCompaction(options.compaction);
  const registry = new AppRegistry(options);
  const hlc = createHlc({
    nodeId: options.nodeId ?? `srv_${randomId(undefined, 10)}`,
    ...(options.maxClockDriftMs !== undefined ? { maxDriftMs: options.maxClockDriftMs } : {}),
    ...(options.hlcClock !== undefined ? { clock: options.hlcClock } : {}),
  });
  const limits = {
    maxBytes: options.maxBodyBytes ?? MESSAGE_MAX_BYTES,
    maxDepth: options.maxDepth ?? MESSAGE_MAX_DEPTH,
  };
  const authorize = options.authorize;
  const rules = createServerRules(options.rules, log);
  const rateLimiter = new RateLimiter(options.rateLimit, options.live?.maxMessagesPerSecond ?? 1000);
  const liveOptions = resolveLiveOptions(options.live, rateLimiter);
  let closing = false;
  let closePromise: Promise<void> | undefined;
  const checkOpen = () => {
    if (closing) throw closedError();
  };
  const allowed = (auth: AuthContext, request: AuthorizeRequest) =>
    authorize ? authorize(auth, request) : true;
  const metrics =
    options.metrics === false
      ? noMetrics
      : createServerMetrics({ connections: () => engine.live.size, appSizes: () => registry.sizes() });
  const tracing = createServerTracing(options.tracing !== false);
  const observed = metrics.enabled || options.tracing !== false;
  /** Fan a commit out, timed (only commits someone listens to) and in a span. */
  const publish = (app: string, changes: () => readonly DocChangeEvent[], cursor: number) => {
    if (!observed) return void engine.live.publish(app, changes, cursor);
    const t0 = performance.now();
    const reached = tracing.spanSync(
      'omnisync.fanout',
      { 'omnisync.app': app, 'omnisync.cursor': cursor },
      () => engine.live.publish(app, changes, cursor),
    );
    if (reached > 0) metrics.fannedOut((performance.now() - t0) / 1000);
  };

  const pushContext = { hlc, mutators: options.mutators, authorize, rules, log };
  // Upcast and validate before the push joins a group: a refused push fails alone, nothing applied.
  const checkSchema = createPushSchemaCheck(
    options.schema,
    options.unknownCollections,
    (m) => m.name !== undefined && options.mutators !== undefined,
  );
  const groups = new WeakMap<AppState, GroupCommit<QueuedPush, PushResponse>>();
  /** The app's group committer: pushes waiting for its write lock commit in one transaction. */
  const groupOf = (state: AppState) => {
    let g = groups.get(state);
    if (!g) {
      g = new GroupCommit(state.lock, async (items) => {
        const attributes = { 'omnisync.app': state.app, 'omnisync.pushes': items.length };
        const outcomes = await tracing.span('omnisync.storage.write', attributes, () =>
          state.storage.write(async (w) => {
            const out = [];
            for (const { auth, req } of items) out.push(await applyPush(pushContext, w, auth, req));
            return out;
          }),
        );
        return outcomes.map((outcome) => {
          metrics.ingested(outcome.cellsWritten);
          // In commit order (under the lock); on a shared storage through the app's feed, which
          // sends other processes' commits before this one (never awaited: the push is committed).
          if (state.feed) void state.feed.own(outcome.from, outcome.cursor, outcome.events).catch(feedFailed);
          else publish(state.app, outcome.events, outcome.cursor);
          return { results: outcome.results, cursor: outcome.cursor };
        });
      });
      groups.set(state, g);
    }
    return g;
  };

  const engine: SyncEngine = {
    log,
    hlc,
    limits,
    liveOptions,
    rateLimiter,
    live: undefined as unknown as LiveServer,
    authRequired: authenticator.required,
    rules,
    metrics,
    tracing,
    get closing() {
      return closing;
    },
    checkApp(app) {
      registry.check(app);
    },
    async authenticate(app, token) {
      checkOpen();
      // The name is checked first, without opening anything: no file exists for an unauthenticated caller.
      registry.check(app);
      return authenticator.authenticate(app, token);
    },
    async push(app, auth, req) {
      checkOpen();
      const attributes = { 'omnisync.app': app, 'omnisync.mutations': req.mutations.length };
      return tracing.span('omnisync.push', attributes, async () => {
        // Keys every storage keeps exactly (no U+0000, no lone surrogate), before anything applies.
        checkPushKeys(req);
        if (checkSchema) req = checkSchema(req);
        // Advance the server clock past the newest client stamp; refuse stamps far in the future.
        let newest = '';
        for (const m of req.mutations) for (const c of m.changes) if (c.hlc > newest) newest = c.hlc;
        if (newest) hlc.receive(newest);
        const state = await registry.get(app);
        return groupOf(state).run({ auth, req });
      });
    },
    async pull(app, auth, req) {
      checkOpen();
      const attributes = { 'omnisync.app': app, 'omnisync.cursor': req.cursor };
      return tracing.span('omnisync.pull', attributes, async () => {
        const state = await registry.get(app);
        return tracing.span('omnisync.storage.read', attributes, () =>
          state.storage.read((r) => readPull(r, auth, req, authorize, rules)),
        );
      });
    },
    async snapshot(app, auth, req) {
      checkOpen();
      const attributes = { 'omnisync.app': app };
      return tracing.span('omnisync.snapshot', attributes, async () => {
        const state = await registry.get(app);
        return tracing.span('omnisync.storage.read', attributes, () =>
          state.storage.read((r) => readSnapshot(r, auth, req, authorize, rules)),
        );
      });
    },
    async updateCursor(app, _auth, req) {
      checkOpen();
      checkKey(req.clientId, 'clientId');
      const state = await registry.get(app);
      await state.storage.updateCursor(req.clientId, req.cursor);
      return { ok: true };
    },
    async head(app) {
      const state = await registry.get(app);
      return state.storage.read((r) => r.head());
    },
    async deviceCursors(app) {
      const state = await registry.get(app);
      return state.storage.deviceCursors();
    },
    async gc(app, gcOptions) {
      const state = await registry.get(app);
      try {
        const res = await state.lock.run(() => state.storage.gc(gcOptions));
        metrics.compacted('manual', 'ok', res.changesDropped);
        return res;
      } catch (err) {
        metrics.compacted('manual', 'failed', 0);
        throw err;
      }
    },
    async explain(req) {
      checkOpen();
      registry.check(req.app);
      return explainDocument((await registry.get(req.app)).storage, rules, req);
    },
    close() {
      closePromise ??= (async () => {
        closing = true;
        await compactor?.stop();
        for (const feed of feeds) feed.close();
        await engine.live.close(1001, 'server shutting down', liveOptions.closeDrainMs);
        await registry.closeAll();
        log.info('sync engine closed');
      })();
      return closePromise;
    },
  };
  const compactor = compaction
    ? new Compactor(
        compaction,
        () => registry.opened(),
        log,
        (result, dropped) => metrics.compacted('timer', result, dropped),
      )
    : undefined;
  const feeds = new Set<CommitFeed>();
  const feedFailed = (err: unknown) =>
    log.warn({ err }, 'live fan-out of a commit failed; its changes reach clients at their next pull');
  registry.onShared = (app, storage) => {
    const feed = new CommitFeed(
      storage,
      (changes, cursor) => publish(app, changes, cursor),
      () =>
        engine.live.closeApp(
          app,
          LIVE_CLOSE_CODES.goingAway,
          'missed commits were compacted: resume by cursor',
        ),
      log,
    );
    feeds.add(feed);
    return feed;
  };
  (engine as { live: LiveServer }).live = new LiveServer(
    {
      log,
      hlc,
      limits,
      authorizes: authorize !== undefined,
      rules,
      metrics,
      authenticate: (app, token) => engine.authenticate(app, token),
      allowed,
      // Over the socket, counted here (HTTP requests are counted by the handler).
      push: (app, auth, req) => counted(metrics, 'push', 'ws', () => engine.push(app, auth, req)),
      pull: (app, auth, req) => counted(metrics, 'pull', 'ws', () => engine.pull(app, auth, req)),
      snapshot: (app, auth, req) => counted(metrics, 'snapshot', 'ws', () => engine.snapshot(app, auth, req)),
      head: (app) => engine.head(app),
    },
    liveOptions,
  );
  return engine;
}
