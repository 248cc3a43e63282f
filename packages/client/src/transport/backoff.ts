/**
 * Capped exponential backoff with jitter, for reconnects and transport retries. Pure in its
 * inputs (attempt number, injected random), so a seeded random gives an exact schedule and
 * many clients that lost the same server spread their reconnects out.
 */
import { type Random, ValidationError } from '@omnisync/core';

/** Backoff policy. */
export interface BackoffOptions {
  /** Delay before the first retry, in ms (default 500). */
  readonly baseDelayMs?: number;
  /** Largest delay, in ms (default 30 000). */
  readonly maxDelayMs?: number;
  /** Growth per failure (default 2). */
  readonly factor?: number;
  /** Random share of each delay, 0..1 (default 0.5): `raw × (1 − jitter + jitter × random())`. */
  readonly jitter?: number;
}

/** Default delay before the first reconnect. */
export const BACKOFF_BASE_DELAY_MS = 500;
/** Default cap of one reconnect delay. */
export const BACKOFF_MAX_DELAY_MS = 30_000;
/** Default growth per failure. */
export const BACKOFF_FACTOR = 2;
/** Default random share of each delay. */
export const BACKOFF_JITTER = 0.5;

/** A backoff policy with every option filled in. */
export type ResolvedBackoff = Required<BackoffOptions>;

/** Fill in defaults and check values; throws {@link ValidationError} on a bad one. */
export function resolveBackoff(options: BackoffOptions = {}): ResolvedBackoff {
  const b: ResolvedBackoff = {
    baseDelayMs: options.baseDelayMs ?? BACKOFF_BASE_DELAY_MS,
    maxDelayMs: options.maxDelayMs ?? BACKOFF_MAX_DELAY_MS,
    factor: options.factor ?? BACKOFF_FACTOR,
    jitter: options.jitter ?? BACKOFF_JITTER,
  };
  const bad = (name: keyof ResolvedBackoff, rule: string) =>
    new ValidationError(`backoff.${name} is ${String(b[name])}; it must be ${rule}.`, {
      details: { option: `backoff.${name}` },
    });
  if (!(b.baseDelayMs >= 0) || !Number.isFinite(b.baseDelayMs))
    throw bad('baseDelayMs', 'a non-negative number of ms');
  if (!(b.maxDelayMs >= b.baseDelayMs) || !Number.isFinite(b.maxDelayMs))
    throw bad('maxDelayMs', 'a finite number of ms ≥ baseDelayMs');
  if (!(b.factor >= 1) || !Number.isFinite(b.factor)) throw bad('factor', 'a number ≥ 1');
  if (!(b.jitter >= 0 && b.jitter <= 1)) throw bad('jitter', 'between 0 and 1');
  return b;
}

/**
 * Delay after the `failures`-th consecutive failure (1 = first):
 * `min(maxDelayMs, baseDelayMs × factor^(failures−1)) × (1 − jitter + jitter × random())`.
 */
export function backoffDelay(policy: ResolvedBackoff, failures: number, random: Random): number {
  const n = Math.max(1, failures);
  // Exponent capped so a long outage never overflows to Infinity before the min().
  const raw = Math.min(policy.maxDelayMs, policy.baseDelayMs * policy.factor ** Math.min(n - 1, 64));
  return Math.round(raw * (1 - policy.jitter + policy.jitter * random()));
}

/** Counts consecutive failures and hands out the next delay; `reset()` after a success. */
export class Backoff {
  readonly #policy: ResolvedBackoff;
  readonly #random: Random;
  #failures = 0;

  constructor(policy: ResolvedBackoff, random: Random) {
    this.#policy = policy;
    this.#random = random;
  }

  /** Consecutive failures so far. */
  get failures(): number {
    return this.#failures;
  }

  /** Record a failure and return how long to wait before the next try. */
  next(): number {
    this.#failures++;
    return backoffDelay(this.#policy, this.#failures, this.#random);
  }

  /** Record a success. */
  reset(): void {
    this.#failures = 0;
  }
}

/** Wait used for a 429 that says nothing about when to come back. */
export const RETRY_AFTER_DEFAULT_MS = 1_000;

/**
 * How long a `rate_limited` (429) answer asks the client to wait, in ms: the server's exact
 * `details.retryAfterMs` when it sent one, else the `Retry-After` header (seconds or an HTTP
 * date, read against `nowMs`), else {@link RETRY_AFTER_DEFAULT_MS}.
 */
export function retryAfterMs(header: string | null | undefined, details: unknown, nowMs: number): number {
  const exact = (details as { retryAfterMs?: unknown } | undefined)?.retryAfterMs;
  if (typeof exact === 'number' && Number.isFinite(exact) && exact >= 0) return Math.ceil(exact);
  if (header) {
    const trimmed = header.trim();
    if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
    const at = Date.parse(trimmed);
    if (Number.isFinite(at)) return Math.max(0, at - nowMs);
  }
  return RETRY_AFTER_DEFAULT_MS;
}
