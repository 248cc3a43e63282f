/**
 * Time and randomness are injected. This file is the one place in core that reads the
 * system clock and the platform's random source; everything else takes a `Clock`,
 * `Scheduler` or `Random`, so tests and simulations can drive time by hand.
 */

/** A source of physical time in milliseconds since the epoch. */
export interface Clock {
  now(): number;
}

/** The system clock. */
export const systemClock: Clock = { now: () => Date.now() };

/** A handle to cancel a scheduled callback. */
export interface TimerHandle {
  cancel(): void;
}

/** Schedules callbacks after a delay: setTimeout in production, a manual queue in tests. */
export interface Scheduler extends Clock {
  setTimeout(fn: () => void, delayMs: number): TimerHandle;
}

// core compiles without DOM or Node typings; these two exist in every runtime we support.
const timers = globalThis as unknown as {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
};

/** The real scheduler (system clock + setTimeout). */
export const systemScheduler: Scheduler = {
  now: () => Date.now(),
  setTimeout(fn, delayMs) {
    const t = timers.setTimeout(fn, delayMs);
    // Node keeps the process alive for pending timers; retries and reconnects must not.
    (t as { unref?: () => void }).unref?.();
    return { cancel: () => timers.clearTimeout(t) };
  },
};

/** A manually driven scheduler for tests and deterministic simulation. */
export interface ManualScheduler extends Scheduler {
  /** Move time forward, running every callback that falls due, in order. */
  advance(ms: number): void;
  /** Run timers until none is left (or `maxSteps` have run). */
  runAll(maxSteps?: number): void;
  /** Number of timers waiting. */
  readonly pending: number;
}

/** Create a manual scheduler starting at `startMs`. */
export function createManualScheduler(startMs = 1_700_000_000_000): ManualScheduler {
  let now = startMs;
  let seq = 0;
  const timers: { at: number; seq: number; fn: () => void; cancelled: boolean }[] = [];
  const next = () => {
    let best = -1;
    for (let i = 0; i < timers.length; i++) {
      const t = timers[i]!;
      const b = timers[best];
      if (best < 0 || t.at < b!.at || (t.at === b!.at && t.seq < b!.seq)) best = i;
    }
    return best;
  };
  return {
    now: () => now,
    setTimeout(fn, delayMs) {
      const timer = { at: now + Math.max(0, delayMs), seq: seq++, fn, cancelled: false };
      timers.push(timer);
      return {
        cancel: () => {
          timer.cancelled = true;
          const i = timers.indexOf(timer);
          if (i >= 0) timers.splice(i, 1);
        },
      };
    },
    advance(ms) {
      const target = now + ms;
      for (;;) {
        const i = next();
        if (i < 0 || timers[i]!.at > target) break;
        const [t] = timers.splice(i, 1);
        now = Math.max(now, t!.at);
        t!.fn();
      }
      now = target;
    },
    runAll(maxSteps = 100_000) {
      for (let step = 0; step < maxSteps; step++) {
        const i = next();
        if (i < 0) return;
        const [t] = timers.splice(i, 1);
        now = Math.max(now, t!.at);
        t!.fn();
      }
    },
    get pending() {
      return timers.length;
    },
  };
}

/** A random source in [0, 1). */
export type Random = () => number;

/** The platform's random source. */
export const systemRandom: Random = () => Math.random();

/** A small seeded PRNG (mulberry32) for simulations and jitter in tests. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const ID_ALPHABET = 'useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict';
/** A random 21-character id (nanoid alphabet) from the given random source. */
export function randomId(random: Random = systemRandom, size = 21): string {
  let id = '';
  for (let i = 0; i < size; i++) id += ID_ALPHABET[(random() * 64) | 0];
  return id;
}
