/**
 * Rate limits: token buckets per caller and operation (push, pull, snapshot) and per
 * WebSocket connection (messages). A request over its bucket is refused before it changes
 * anything, with `rate_limited` (HTTP 429, `Retry-After`) and the wait in `details`.
 *
 * Hand-written rather than a library: the Hono middlewares (hono-rate-limiter) count fixed
 * windows and key a request before its body is read, so a push could not be charged to its
 * client id; rate-limiter-flexible and limiter read the system clock themselves. These
 * buckets take the server's injected {@link Clock} (tests and simulations drive time) and
 * are keyed by the authenticated app and client. The defaults only stop floods: a normal
 * client, the simulation and the benchmarks never meet them.
 */
import { type Clock, RateLimitedError, systemClock, ValidationError } from '@omnisync/core';

/** A bucket that refills `perSecond` tokens a second and holds at most `burst`. */
export interface BucketLimit {
  readonly perSecond: number;
  readonly burst: number;
}

/** The operations with a bucket per caller. */
export type RateLimitedOp = 'push' | 'pull' | 'snapshot';

/** Rate limit settings (`rateLimit` of the server options); `false` turns a limit off. */
export interface RateLimitOptions {
  /** Pushes per app and client id (HTTP). Default 200/s, burst 2 000. */
  push?: BucketLimit | false;
  /** Pulls and cursor reports per app and caller (token subject, else address). Default 200/s, burst 2 000. */
  pull?: BucketLimit | false;
  /** Snapshots per app and caller. Default 50/s, burst 500. */
  snapshot?: BucketLimit | false;
  /**
   * Messages per WebSocket connection. Default `live.maxMessagesPerSecond` (1 000/s), burst
   * 5 s worth. Messages over it are dropped and answered with `rate_limited`; a connection
   * whose dropped messages outrun the rate by ten bursts (it keeps sending at over twice its
   * rate) is flooding and is closed with 4029.
   */
  liveMessages?: BucketLimit | false;
  /** Time source (default the system clock). */
  clock?: Clock;
  /** Callers remembered per operation; the least recently seen are forgotten past it. Default 100 000. */
  maxKeys?: number;
}

/** Default limits (see {@link RateLimitOptions}). */
export const RATE_LIMIT_DEFAULTS = {
  push: { perSecond: 200, burst: 2000 },
  pull: { perSecond: 200, burst: 2000 },
  snapshot: { perSecond: 50, burst: 500 },
} as const satisfies Record<RateLimitedOp, BucketLimit>;
/** Live message bursts hold this many seconds of the rate by default. */
export const LIVE_BURST_SECONDS = 5;
/** A connection whose dropped messages outrun its rate by this many bursts is closed (4029). */
export const LIVE_FLOOD_BURSTS = 10;
const MAX_KEYS_DEFAULT = 100_000;

function checkLimit(name: string, limit: BucketLimit | false | undefined): void {
  if (limit === undefined || limit === false) return;
  if (
    typeof limit !== 'object' ||
    !(limit.perSecond > 0) ||
    !Number.isFinite(limit.perSecond) ||
    !(limit.burst >= 1) ||
    !Number.isFinite(limit.burst)
  )
    throw new ValidationError(
      `rateLimit.${name} must be false or { perSecond: > 0, burst: ≥ 1 } (finite numbers); got ${JSON.stringify(limit)}.`,
      { details: { option: `rateLimit.${name}` } },
    );
}

/** One token bucket. */
export class TokenBucket {
  readonly limit: BucketLimit;
  #tokens: number;
  #at: number;

  constructor(limit: BucketLimit, now: number) {
    this.limit = limit;
    this.#tokens = limit.burst;
    this.#at = now;
  }

  /** Take one token: 0 when there was one, else the ms until there is one (nothing taken). */
  take(now: number): number {
    if (now > this.#at) {
      this.#tokens = Math.min(
        this.limit.burst,
        this.#tokens + ((now - this.#at) * this.limit.perSecond) / 1000,
      );
      this.#at = now;
    }
    if (this.#tokens >= 1) {
      this.#tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.#tokens) * 1000) / this.limit.perSecond));
  }
}

/** Token buckets by key (least recently used forgotten past `maxKeys`). */
class KeyedBuckets {
  readonly #buckets = new Map<string, TokenBucket>();
  constructor(
    readonly limit: BucketLimit,
    readonly maxKeys: number,
  ) {}

  take(key: string, now: number): number {
    let bucket = this.#buckets.get(key);
    if (bucket)
      this.#buckets.delete(key); // re-inserted below: Map order is recency
    else {
      bucket = new TokenBucket(this.limit, now);
      if (this.#buckets.size >= this.maxKeys) {
        const oldest = this.#buckets.keys().next().value as string;
        this.#buckets.delete(oldest);
      }
    }
    this.#buckets.set(key, bucket);
    return bucket.take(now);
  }
}

/** The server's rate limiter. */
export class RateLimiter {
  readonly clock: Clock;
  readonly #ops: Partial<Record<RateLimitedOp, KeyedBuckets>> = {};
  /** Per-connection message limit (undefined = off). */
  readonly liveMessages: BucketLimit | undefined;

  constructor(options: RateLimitOptions | false | undefined, liveMessagesPerSecond: number) {
    const o: RateLimitOptions =
      options === false
        ? { push: false, pull: false, snapshot: false, liveMessages: false }
        : (options ?? {});
    for (const op of ['push', 'pull', 'snapshot', 'liveMessages'] as const) checkLimit(op, o[op]);
    const maxKeys = o.maxKeys ?? MAX_KEYS_DEFAULT;
    if (!Number.isInteger(maxKeys) || maxKeys < 1)
      throw new ValidationError(`rateLimit.maxKeys must be a positive integer; got ${String(maxKeys)}.`, {
        details: { option: 'rateLimit.maxKeys' },
      });
    this.clock = o.clock ?? systemClock;
    for (const op of ['push', 'pull', 'snapshot'] as const) {
      const limit = o[op] === undefined ? RATE_LIMIT_DEFAULTS[op] : o[op];
      if (limit) this.#ops[op] = new KeyedBuckets(limit, maxKeys);
    }
    this.liveMessages =
      o.liveMessages === undefined
        ? { perSecond: liveMessagesPerSecond, burst: liveMessagesPerSecond * LIVE_BURST_SECONDS }
        : o.liveMessages || undefined;
  }

  /**
   * Charge one `op` to `caller` (already scoped to the app). Throws {@link RateLimitedError}
   * with `details.retryAfterMs` when its bucket is empty; nothing is charged then.
   */
  check(op: RateLimitedOp, caller: string): void {
    const buckets = this.#ops[op];
    if (!buckets) return;
    const wait = buckets.take(caller, this.clock.now());
    if (wait === 0) return;
    const { perSecond, burst } = buckets.limit;
    throw new RateLimitedError(
      `Too many ${op} requests: this caller may send ${perSecond} a second (bursts of ${burst}). Retry after ${wait} ms (the Retry-After header says when); batch changes into fewer pushes.`,
      { details: { retryAfterMs: wait, op, perSecond, burst } },
    );
  }

  /** A message bucket for a new WebSocket connection (undefined = unlimited). */
  connectionBucket(): TokenBucket | undefined {
    return this.liveMessages && new TokenBucket(this.liveMessages, this.clock.now());
  }
}
