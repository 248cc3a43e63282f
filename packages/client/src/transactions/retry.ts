/**
 * Retry policy: exponential backoff with jitter (seed 001: 4 retries by default, all
 * configurable). Pure: the delay depends only on the attempt number and the random draw,
 * so a seeded random gives exact, testable schedules.
 */
import { type Random, systemRandom, ValidationError } from '@omnisync/core';
import type { RetryOptions } from '../types.js';

/** Default retries after the first attempt (five attempts in all). */
export const RETRY_DEFAULT_RETRIES = 4;
/** Default delay before the first retry. */
export const RETRY_BASE_DELAY_MS = 1000;
/** Default cap of one delay. */
export const RETRY_MAX_DELAY_MS = 30_000;
/** Default growth per retry. */
export const RETRY_FACTOR = 2;
/** Default random share of each delay. */
export const RETRY_JITTER = 0.5;

/** A retry policy with every option filled in. */
export type ResolvedRetry = Required<RetryOptions>;

/** Fill in defaults and check the values; throws {@link ValidationError} on a bad one. */
export function resolveRetry(
  options: RetryOptions = {},
  fallbackRandom: Random = systemRandom,
): ResolvedRetry {
  const r: ResolvedRetry = {
    random: options.random ?? fallbackRandom,
    retries: options.retries ?? RETRY_DEFAULT_RETRIES,
    baseDelay: options.baseDelay ?? RETRY_BASE_DELAY_MS,
    maxDelay: options.maxDelay ?? RETRY_MAX_DELAY_MS,
    factor: options.factor ?? RETRY_FACTOR,
    jitter: options.jitter ?? RETRY_JITTER,
  };
  const bad = (name: string, rule: string) =>
    new ValidationError(`retry.${name} is ${String(r[name as keyof ResolvedRetry])}; it must be ${rule}.`, {
      details: { option: `retry.${name}` },
    });
  if (!Number.isInteger(r.retries) || r.retries < 0) throw bad('retries', 'a non-negative integer');
  if (!(r.baseDelay >= 0) || !Number.isFinite(r.baseDelay))
    throw bad('baseDelay', 'a non-negative number of ms');
  if (!(r.maxDelay >= 0) || !Number.isFinite(r.maxDelay))
    throw bad('maxDelay', 'a non-negative number of ms');
  if (!(r.factor >= 1) || !Number.isFinite(r.factor)) throw bad('factor', 'a number ≥ 1');
  if (!(r.jitter >= 0 && r.jitter <= 1)) throw bad('jitter', 'between 0 and 1');
  return r;
}

/**
 * Delay before retry number `retry` (1 = the first retry):
 * `min(maxDelay, baseDelay × factor^(retry−1)) × (1 − jitter + jitter × random())`, rounded.
 */
export function retryDelay(policy: ResolvedRetry, retry: number, random: Random = policy.random): number {
  const raw = Math.min(policy.maxDelay, policy.baseDelay * policy.factor ** (retry - 1));
  return Math.round(raw * (1 - policy.jitter + policy.jitter * random()));
}
