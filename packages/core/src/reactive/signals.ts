/**
 * Reactive primitives (seed 002 in TypeScript idiom) on alien-signals: we reuse a proven
 * dependency graph instead of writing a new one, and add only the object API.
 *
 * - `signal(v)`: `get()` (tracked), `peek()` (untracked), `set(v)`, `update(fn)`.
 * - `computed(fn)`: lazy, cached until a dependency changes; `get()`.
 * - `effect(fn)`: runs at once, re-runs on change; returns `{ stop() }`. `fn` may return a cleanup.
 * - `batch(fn)`: effects run once, after `fn`.
 */
import {
  computed as alienComputed,
  effect as alienEffect,
  endBatch,
  getActiveSub,
  setActiveSub,
  signal as alienSignal,
  startBatch,
} from 'alien-signals';

/** Something readable and trackable. */
export interface ReadonlySignal<T> {
  /** The value; subscribes the running computed/effect. */
  get(): T;
  /** The value, without subscribing. */
  peek(): T;
}

/** A writable reactive value. */
export interface Signal<T> extends ReadonlySignal<T> {
  set(value: T): void;
  update(fn: (current: T) => T): void;
}

class SignalImpl<T> implements Signal<T> {
  readonly #fn: { (): T; (value: T): void };
  constructor(initial: T) {
    this.#fn = alienSignal(initial);
  }
  get(): T {
    return this.#fn();
  }
  peek(): T {
    const prev = setActiveSub(undefined);
    try {
      return this.#fn();
    } finally {
      setActiveSub(prev);
    }
  }
  set(value: T): void {
    this.#fn(value);
  }
  update(fn: (current: T) => T): void {
    this.#fn(fn(this.peek()));
  }
}

class ComputedImpl<T> implements ReadonlySignal<T> {
  readonly #fn: () => T;
  constructor(fn: (previous?: T) => T) {
    this.#fn = alienComputed(fn);
  }
  get(): T {
    return this.#fn();
  }
  peek(): T {
    const prev = setActiveSub(undefined);
    try {
      return this.#fn();
    } finally {
      setActiveSub(prev);
    }
  }
}

/**
 * A reactive value.
 * @example
 * const count = signal(0);
 * effect(() => console.log(count.get()));
 * count.set(1); // logs 1
 */
export function signal<T>(initial: T): Signal<T> {
  return new SignalImpl(initial);
}

/** A derived value: lazy, cached until one of the signals it read changes. */
export function computed<T>(fn: (previous?: T) => T): ReadonlySignal<T> {
  return new ComputedImpl(fn);
}

/** A running effect. */
export interface EffectHandle {
  stop(): void;
}

/** Run `fn` now and again whenever a signal it read changes, until `stop()`. */
export function effect(fn: () => void | (() => void)): EffectHandle {
  const stop = alienEffect(fn);
  return { stop };
}

/** Run `fn` with effects deferred until it returns; returns what `fn` returns. */
export function batch<T>(fn: () => T): T {
  startBatch();
  try {
    return fn();
  } finally {
    endBatch();
  }
}

/** Run `fn` without subscribing the running computed/effect to what it reads. */
export function untracked<T>(fn: () => T): T {
  const prev = setActiveSub(undefined);
  try {
    return fn();
  } finally {
    setActiveSub(prev);
  }
}

/** True while a computed or effect is running (reads are being tracked). */
export function isTracking(): boolean {
  return getActiveSub() !== undefined;
}
