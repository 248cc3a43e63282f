import { seededRandom, ValidationError } from '@omnisync/core';
import { describe, expect, test } from 'vitest';
import { Backoff, backoffDelay, resolveBackoff } from './backoff.js';

describe('backoff', () => {
  test('grows exponentially from the base and is capped', () => {
    const p = resolveBackoff({ baseDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: 0 });
    expect([1, 2, 3, 4, 5, 6, 50, 5000].map((n) => backoffDelay(p, n, () => 0.5))).toEqual([
      100, 200, 400, 800, 1000, 1000, 1000, 1000,
    ]);
  });

  test('jitter spreads each delay within [raw × (1 − jitter), raw]', () => {
    const p = resolveBackoff({ baseDelayMs: 1000, maxDelayMs: 1000, jitter: 0.5 });
    expect(backoffDelay(p, 1, () => 0)).toBe(500);
    expect(backoffDelay(p, 1, () => 0.999999)).toBe(1000);
    const r = seededRandom(7);
    const seen = new Set(Array.from({ length: 50 }, () => backoffDelay(p, 1, r)));
    expect(seen.size).toBeGreaterThan(10);
    for (const d of seen) expect(d >= 500 && d <= 1000).toBe(true);
  });

  test('the same seed gives the same schedule; reset starts over', () => {
    const p = resolveBackoff();
    const a = new Backoff(p, seededRandom(3));
    const b = new Backoff(p, seededRandom(3));
    const sa = [a.next(), a.next(), a.next()];
    expect([b.next(), b.next(), b.next()]).toEqual(sa);
    expect(a.failures).toBe(3);
    a.reset();
    expect(a.failures).toBe(0);
    expect(a.next()).toBeLessThanOrEqual(p.baseDelayMs);
  });

  test('bad options are refused with a ValidationError naming the option', () => {
    expect(() => resolveBackoff({ baseDelayMs: -1 })).toThrow(ValidationError);
    expect(() => resolveBackoff({ baseDelayMs: 10, maxDelayMs: 5 })).toThrow(/maxDelayMs/);
    expect(() => resolveBackoff({ factor: 0.5 })).toThrow(/factor/);
    expect(() => resolveBackoff({ jitter: 2 })).toThrow(/jitter/);
  });
});
