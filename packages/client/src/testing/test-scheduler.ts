/**
 * A manual scheduler for async tests: like core's `createManualScheduler`, but `advance`
 * lets promise callbacks run between timers, so a persist that resolves, schedules a retry,
 * and resolves again all happen within one `await advance(ms)`, with no real waiting.
 */
import { createManualScheduler, type Scheduler, type TimerHandle } from '@omnisync/core';

/** A scheduler driven by the test. */
export interface TestScheduler extends Scheduler {
  /** Move time forward by `ms`, running due timers in order and settling promises between them. */
  advance(ms: number): Promise<void>;
  /** Run every timer (and the promises they release) until none is left. */
  runAll(maxSteps?: number): Promise<void>;
  /** Let pending promise callbacks run (no time passes). */
  settle(): Promise<void>;
  /** Number of timers waiting. */
  readonly pending: number;
  /** When the next timer is due, if any. */
  nextAt(): number | undefined;
}

/** How many microtask turns {@link TestScheduler.settle} yields: deep enough for the client's promise chains. */
const SETTLE_TURNS = 200;

/** Create a test scheduler starting at `startMs`. */
export function createTestScheduler(startMs = 1_700_000_000_000): TestScheduler {
  const inner = createManualScheduler(startMs);
  const due = new Set<{ at: number }>();
  const settle = async () => {
    for (let i = 0; i < SETTLE_TURNS; i++) await Promise.resolve();
  };
  const nextAt = () => {
    let next: number | undefined;
    for (const d of due) if (next === undefined || d.at < next) next = d.at;
    return next;
  };
  return {
    now: () => inner.now(),
    setTimeout(fn: () => void, delayMs: number): TimerHandle {
      const rec = { at: inner.now() + Math.max(0, delayMs) };
      due.add(rec);
      const h = inner.setTimeout(() => {
        due.delete(rec);
        fn();
      }, delayMs);
      return {
        cancel() {
          due.delete(rec);
          h.cancel();
        },
      };
    },
    async advance(ms: number) {
      const target = inner.now() + ms;
      for (;;) {
        await settle();
        const next = nextAt();
        if (next === undefined || next > target) break;
        inner.advance(Math.max(0, next - inner.now()));
      }
      inner.advance(Math.max(0, target - inner.now()));
      await settle();
    },
    async runAll(maxSteps = 10_000) {
      for (let i = 0; i < maxSteps; i++) {
        await settle();
        const next = nextAt();
        if (next === undefined) return;
        inner.advance(Math.max(0, next - inner.now()));
      }
      await settle();
    },
    settle,
    get pending() {
      return due.size;
    },
    nextAt,
  };
}
