/**
 * Options of the sync server (shared by {@link createSyncHandler} and {@link createServer}).
 */
import { type Clock, type Mutators, systemClock } from '@omnisync/core';
import type { StorageFactory } from '../storage/storage.js';
import type { Durability } from '../storage/sqlite-storage.js';
import type { Logger, LogLevel } from '../util/logger.js';
import type { AuthContext, AuthOptions } from './auth.js';
import type { CompactionOptions } from './compaction.js';
import type { Rules } from '@omnisync/core';
import type { ServerSchema, UnknownCollectionPolicy } from './schema.js';
import { type BucketLimit, LIVE_BURST_SECONDS, type RateLimitOptions } from './rate-limit.js';

/** What a caller wants to do, as the `authorize` hook sees it. */
export type AuthorizeRequest =
  | { readonly op: 'read'; readonly collection: string; readonly id: string }
  | { readonly op: 'write'; readonly collection: string; readonly id: string }
  | { readonly op: 'mutate'; readonly name: string }
  | { readonly op: 'join'; readonly room: string };

/**
 * Permission hook: return false to refuse. A refused write rejects its mutation
 * (`forbidden`); a refused read leaves the document out of pulls, snapshots and fan-out.
 */
export type Authorize = (ctx: AuthContext, request: AuthorizeRequest) => boolean | Promise<boolean>;

/** WebSocket (live) settings. */
export interface LiveOptions {
  /** Interval of protocol pings; a connection that missed one pong is closed. Default 30 000. */
  heartbeatMs?: number;
  /** Time a new connection has to send hello. Default 10 000. */
  helloTimeoutMs?: number;
  /**
   * Most bytes queued to one connection; past it the connection is closed with 4008
   * ("slow consumer, resume by cursor") so it never delays anyone else. Default 4 MiB.
   */
  maxBufferedBytes?: number;
  /** After a 4008 close, time the client gets to read its buffer before the socket is destroyed. Default 10 000. */
  slowConsumerGraceMs?: number;
  /** On shutdown, time open sockets get to finish their close handshake. Default 5 000. */
  closeDrainMs?: number;
  /** Most subscriptions (and rooms) per connection. Default 100. */
  maxSubscriptions?: number;
  /**
   * Messages per second a connection may send (token bucket, bursts up to 5 s worth); past
   * it messages are dropped and answered with `rate_limited` (429). Default 1 000.
   * `rateLimit.liveMessages` takes precedence.
   */
  maxMessagesPerSecond?: number;
}

/** Options of the sync server. */
export interface SyncServerOptions {
  /** Directory of the per-app SQLite files (`<app>.sqlite`). Default `./data`. Ignored when `storage` is given. */
  dataDir?: string;
  /** Open an app's storage (default: SQLite in `dataDir`). */
  storage?: StorageFactory;
  /** SQLite durability; default `'full'` (see createSqliteStorage). */
  durability?: Durability;
  /** JWT settings; without secret or JWKS URL the server is open (development mode, logged as a warning). */
  auth?: AuthOptions;
  /** Named mutators run authoritatively on push. */
  mutators?: Mutators;
  /** Permission hook. */
  authorize?: Authorize;
  /**
   * Permission rules (`defineRules` from `@omnisync/core`): read filters, write checks and
   * field masks per collection, evaluated against the token's claims. Once given, a
   * collection without rules is denied. Without rules the server logs a warning at start.
   */
  rules?: Rules;
  /**
   * Validate every pushed cell with the app's schema (the `defineSchema` the client uses), or
   * with the newest schema of a `defineSchemaVersions` chain, after upcasting the writes of
   * older clients through it. Invalid writes: 400 `invalid_input`, nothing applied; a version
   * outside the chain: 409 `schema_outdated`. See the README, "Schema and evolution".
   */
  schema?: ServerSchema;
  /** A push to a collection the schema does not define: `'reject'` (default, 400) or `'allow'` (stored unvalidated). */
  unknownCollections?: UnknownCollectionPolicy;
  /** When set, only these apps exist (others get 404). */
  apps?: readonly string[];
  /** A pino logger; default one is created at `logLevel`. */
  logger?: Logger;
  /** Default `OMNISYNC_LOG_LEVEL` or `info`. */
  logLevel?: LogLevel;
  /** Largest request body / WebSocket message, bytes. Default 1 MiB (413 past it). */
  maxBodyBytes?: number;
  /** Deepest nesting of a message. Default 64. */
  maxDepth?: number;
  /** HLC node id of this server (default `srv_<random>`). */
  nodeId?: string;
  /** Refuse pushes whose HLCs run further ahead of the server clock. Default 5 minutes. */
  maxClockDriftMs?: number;
  /** The wall clock of this server's HLC (default the system clock; the simulation injects its own). */
  hlcClock?: { now(): number };
  /** WebSocket settings. */
  live?: LiveOptions;
  /**
   * Token-bucket limits per caller on push, pull and snapshot, and per WebSocket connection
   * on messages (429 `rate_limited` with `Retry-After`); `false` turns them all off. The
   * defaults only stop floods. See {@link RateLimitOptions}.
   */
  rateLimit?: RateLimitOptions | false;
  /**
   * Compact each open app's change log on a timer, keeping its newest `keepChanges` entries
   * (clients further behind snapshot). Default off: `engine.gc()` compacts on demand.
   */
  compaction?: CompactionOptions | false;
  /** Prometheus metrics at `GET /metrics` (default on); `false` turns counting and the endpoint off. */
  metrics?: boolean;
  /**
   * Bearer token `GET /metrics` requires (`--metrics-token`). With auth on and no token,
   * `/metrics` is refused (403); with auth off it is open unless a token is set.
   */
  metricsToken?: string;
  /**
   * Bearer token of the admin endpoints (`--admin-token`): `POST /v1/apps/:app/explain` says
   * why a document is or is not visible or writable for a principal. Without it they answer
   * 404 `not_found`.
   */
  adminToken?: string;
  /**
   * OpenTelemetry spans through `@opentelemetry/api` (default on: a no-op until the app
   * registers an SDK); `false` skips the API entirely.
   */
  tracing?: boolean;
}

/** Live options with defaults filled in, plus what each connection's message bucket needs. */
export type ResolvedLiveOptions = Required<LiveOptions> & {
  /** Messages per connection (undefined = unlimited); see `rateLimit.liveMessages`. */
  readonly messageLimit: BucketLimit | undefined;
  /** Time of the message buckets. */
  readonly clock: Clock;
};

/** Fill in live defaults; `limiter` (the server's rate limiter) sets the message bucket. */
export function resolveLiveOptions(
  o: LiveOptions = {},
  limiter?: { readonly liveMessages: BucketLimit | undefined; readonly clock: Clock },
): ResolvedLiveOptions {
  const maxMessagesPerSecond = o.maxMessagesPerSecond ?? 1000;
  return {
    heartbeatMs: o.heartbeatMs ?? 30_000,
    helloTimeoutMs: o.helloTimeoutMs ?? 10_000,
    maxBufferedBytes: o.maxBufferedBytes ?? 4 * 1024 * 1024,
    slowConsumerGraceMs: o.slowConsumerGraceMs ?? 10_000,
    closeDrainMs: o.closeDrainMs ?? 5_000,
    maxSubscriptions: o.maxSubscriptions ?? 100,
    maxMessagesPerSecond,
    messageLimit: limiter
      ? limiter.liveMessages
      : { perSecond: maxMessagesPerSecond, burst: maxMessagesPerSecond * LIVE_BURST_SECONDS },
    clock: limiter?.clock ?? systemClock,
  };
}
