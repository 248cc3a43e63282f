/**
 * Reactive primitives (seed 002 in TypeScript idiom) on alien-signals' dependency graph.
 *
 * We reuse alien-signals' proven graph algorithm (`createReactiveSystem`: link, propagate,
 * checkDirty) and write only the node classes around it, as its README recommends for a
 * custom API. Why not wrap its function API: each wrapper call then goes through a bound
 * function and, to get the error handling below, a closure per node, which measured up to
 * 2.4× slower than raw alien-signals (bench/signals.bench.ts; the goal is ≤ 1.2×). As
 * classes that *are* the graph nodes, `get()`/`set()` do the work directly.
 *
 * - `signal(v)`: `get()` (tracked), `peek()` (untracked), `set(v)`, `update(fn)`.
 * - `computed(fn)`: lazy, cached until a dependency changes; `get()`, `peek()`. A computed
 *   that throws rethrows that error on every read until a dependency changes.
 * - `effect(fn)`: runs at once, re-runs on change; returns `{ stop() }`. `fn` may return a
 *   cleanup. An effect that throws on its first run is stopped and `effect()` throws.
 * - `batch(fn)`: effects run once, after `fn`.
 *
 * An effect (or cleanup) that throws when it re-runs never keeps the other effects of the
 * same change from running (a bare graph would leave them unrun): all run, then the first
 * error is rethrown from the `set()` / `batch()` / `stop()` that caused the run.
 */
import { createReactiveSystem, type Link, type ReactiveNode } from 'alien-signals/system';

/** Something readable and trackable. */
export interface ReadonlySignal<T> {
  /** The value; subscribes the running computed/effect. */
  get(): T;
  /** The value, without subscribing. */
  peek(): T;
}

/** A writable reactive value. */
export interface Signal<T> extends ReadonlySignal<T> {
  /** Set the value; effects that read it re-run (unless inside a batch) before this returns. */
  set(value: T): void;
  /** Set the value from the current one (read without subscribing). */
  update(fn: (current: T) => T): void;
}

/** A running effect. */
export interface EffectHandle {
  /** Stop re-running and run the last cleanup. Idempotent. */
  stop(): void;
}

// alien-signals' ReactiveFlags (a const enum in its types, so spelled out here).
const MUTABLE = 1;
const WATCHING = 2;
const RECURSED_CHECK = 4;
const DIRTY = 16;
const PENDING = 32;
const HAS_CHILD_EFFECT = 64;

/** What the graph needs of a dependency (every node of ours). */
interface Dep {
  subs: Link | undefined;
  subsTail: Link | undefined;
  flags: number;
}
/** What the graph needs of a subscriber (computeds and effects). */
interface Sub extends Dep {
  deps: Link | undefined;
  depsTail: Link | undefined;
}
/** A node of ours: the graph calls back into it. */
interface GraphNode extends Dep {
  /** Bring the value up to date; true if it changed. */
  refresh(): boolean;
  /** The last subscriber went away. */
  unwatched(): void;
}
/**
 * alien-signals' algorithm, typed for our nodes (its own types declare the node fields
 * optional, which `exactOptionalPropertyTypes` will not match with `field = undefined`).
 */
interface System {
  link(dep: Dep, sub: Sub, version: number): void;
  unlink(link: Link, sub?: Sub): Link | undefined;
  propagate(link: Link, innerWrite: boolean): void;
  checkDirty(link: Link, sub: Sub): boolean;
  shallowPropagate(link: Link): void;
}

const { link, unlink, propagate, checkDirty, shallowPropagate } = createReactiveSystem({
  update: (node) => (node as unknown as GraphNode).refresh(),
  notify: enqueue,
  unwatched: (node) => (node as unknown as GraphNode).unwatched(),
}) as unknown as System;

let cycle = 0;
let runDepth = 0;
let batchDepth = 0;
let activeSub: Sub | undefined;
const queued: (EffectNode | undefined)[] = [];
let queuedLength = 0;
let notifyIndex = 0;
/** The first error thrown by an effect re-run or a cleanup, until it is rethrown. */
let pendingError: { error: unknown } | undefined;

function recordError(error: unknown): void {
  pendingError ??= { error };
}

/** Rethrow a recorded effect error, once back outside every effect and batch. */
function rethrowPending(): void {
  if (pendingError !== undefined && runDepth === 0 && batchDepth === 0) {
    const { error } = pendingError;
    pendingError = undefined;
    throw error;
  }
}

/** Queue an effect and its not-yet-queued parent effects, parents first (alien-signals' order). */
function enqueue(node: ReactiveNode): void {
  let e: ReactiveNode | undefined = node;
  let insert = queuedLength;
  let first = insert;
  do {
    queued[insert++] = e as EffectNode;
    e.flags &= ~WATCHING;
    e = e.subs?.sub;
  } while (e !== undefined && e.flags & WATCHING);
  queuedLength = insert;
  while (first < --insert) {
    const left = queued[first];
    queued[first++] = queued[insert];
    queued[insert] = left;
  }
}

function flush(): void {
  try {
    while (notifyIndex < queuedLength) {
      const e = queued[notifyIndex]!;
      queued[notifyIndex++] = undefined;
      e.run();
    }
  } finally {
    // Only reached early on a bug of ours (runs catch user errors): keep the rest runnable.
    while (notifyIndex < queuedLength) {
      const e = queued[notifyIndex]!;
      queued[notifyIndex++] = undefined;
      e.flags |= WATCHING | 8;
    }
    notifyIndex = 0;
    queuedLength = 0;
  }
}

/** Unlink the child effects among a node's dependencies (they are re-created by the re-run). */
function dropChildEffects(sub: Sub): void {
  let l = sub.depsTail;
  while (l !== undefined) {
    const prev = l.prevDep;
    if (l.dep instanceof EffectNode) unlink(l, sub);
    l = prev;
  }
}

function purgeDeps(sub: Sub): void {
  const tail = sub.depsTail;
  let l = tail !== undefined ? tail.nextDep : sub.deps;
  while (l !== undefined) l = unlink(l, sub);
}

function disposeDeps(sub: Sub): void {
  let l = sub.depsTail;
  while (l !== undefined) {
    const prev = l.prevDep;
    unlink(l, sub);
    l = prev;
  }
}

// Graph fields (subs, deps, flags…) are public because alien-signals' algorithm reads and
// writes them; the returned objects are typed by the interfaces above, which hide them.
class SignalNode<T> implements Signal<T>, GraphNode {
  subs: Link | undefined = undefined;
  subsTail: Link | undefined = undefined;
  flags = MUTABLE;
  #current: T;
  #pending: T;
  constructor(initial: T) {
    this.#current = initial;
    this.#pending = initial;
  }
  refresh(): boolean {
    this.flags = MUTABLE;
    return this.#current !== (this.#current = this.#pending);
  }
  unwatched(): void {}
  get(): T {
    if (this.flags & DIRTY && this.refresh()) {
      const subs = this.subs;
      if (subs !== undefined) shallowPropagate(subs);
    }
    const sub = activeSub;
    if (sub !== undefined) link(this, sub, cycle);
    return this.#current;
  }
  peek(): T {
    if (this.flags & DIRTY && this.refresh()) {
      const subs = this.subs;
      if (subs !== undefined) shallowPropagate(subs);
    }
    return this.#current;
  }
  set(value: T): void {
    if (this.#pending !== (this.#pending = value)) {
      this.flags = MUTABLE | DIRTY;
      const subs = this.subs;
      if (subs !== undefined) {
        propagate(subs, runDepth > 0);
        if (batchDepth === 0) flush();
      }
    }
    if (pendingError !== undefined) rethrowPending();
  }
  update(fn: (current: T) => T): void {
    this.set(fn(this.peek()));
  }
}

class ComputedNode<T> implements ReadonlySignal<T>, GraphNode {
  subs: Link | undefined = undefined;
  subsTail: Link | undefined = undefined;
  deps: Link | undefined = undefined;
  depsTail: Link | undefined = undefined;
  flags = 0;
  #value: T | undefined = undefined;
  /** The error of the last evaluation (boxed: `undefined` can be thrown). */
  #error: { error: unknown } | undefined = undefined;
  readonly #getter: (previous?: T) => T;
  constructor(getter: (previous?: T) => T) {
    this.#getter = getter;
  }
  refresh(): boolean {
    if (this.flags & HAS_CHILD_EFFECT) dropChildEffects(this);
    this.depsTail = undefined;
    this.flags = MUTABLE | RECURSED_CHECK;
    const prevSub = activeSub;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the graph tracks the running node
    activeSub = this;
    ++cycle;
    const old = this.#value;
    const hadError = this.#error !== undefined;
    try {
      const v = this.#getter(hadError ? undefined : old);
      this.#value = v;
      this.#error = undefined;
      return hadError || old !== v;
    } catch (e) {
      // Kept, so every read rethrows it until a dependency changes; dependents re-run.
      this.#value = undefined;
      this.#error = { error: e };
      return true;
    } finally {
      activeSub = prevSub;
      this.flags &= ~RECURSED_CHECK;
      purgeDeps(this);
    }
  }
  unwatched(): void {
    if (this.depsTail !== undefined) {
      this.flags = MUTABLE | DIRTY;
      disposeDeps(this);
    }
  }
  #sync(): void {
    const flags = this.flags;
    if (
      flags & DIRTY ||
      (flags & PENDING && (checkDirty(this.deps!, this) || ((this.flags = flags & ~PENDING), false)))
    ) {
      if (this.refresh()) {
        const subs = this.subs;
        if (subs !== undefined) shallowPropagate(subs);
      }
    } else if (flags === 0) {
      this.refresh();
    }
  }
  get(): T {
    this.#sync();
    const sub = activeSub;
    if (sub !== undefined) link(this, sub, cycle);
    if (this.#error !== undefined) throw this.#error.error;
    return this.#value as T;
  }
  peek(): T {
    const prevSub = activeSub;
    activeSub = undefined;
    try {
      this.#sync();
    } finally {
      activeSub = prevSub;
    }
    if (this.#error !== undefined) throw this.#error.error;
    return this.#value as T;
  }
}

class EffectNode implements EffectHandle, GraphNode {
  subs: Link | undefined = undefined;
  subsTail: Link | undefined = undefined;
  deps: Link | undefined = undefined;
  depsTail: Link | undefined = undefined;
  flags = WATCHING | RECURSED_CHECK;
  #cleanup: (() => void) | undefined = undefined;
  readonly #fn: () => void | (() => void);
  constructor(fn: () => void | (() => void)) {
    this.#fn = fn;
    const prevSub = activeSub;
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the graph tracks the running node
    activeSub = this;
    if (prevSub !== undefined) {
      link(this, prevSub, 0);
      prevSub.flags |= HAS_CHILD_EFFECT;
    }
    ++runDepth;
    let failed: { error: unknown } | undefined;
    try {
      this.#keepCleanup(fn());
    } catch (e) {
      failed = { error: e };
    } finally {
      --runDepth;
      activeSub = prevSub;
      this.flags &= ~RECURSED_CHECK;
    }
    if (failed !== undefined) {
      // Nobody gets a handle to stop it, so it must not stay subscribed.
      this.#dispose();
      throw failed.error;
    }
  }
  #keepCleanup(c: void | (() => void)): void {
    if (typeof c === 'function') this.#cleanup = c;
  }
  refresh(): boolean {
    this.flags = MUTABLE;
    return true;
  }
  unwatched(): void {
    this.#dispose();
  }
  /** Called by flush: re-run if a dependency really changed. */
  run(): void {
    const flags = this.flags;
    if (flags & DIRTY || (flags & PENDING && checkDirty(this.deps!, this))) {
      if (flags & HAS_CHILD_EFFECT) dropChildEffects(this);
      if (this.#cleanup !== undefined) {
        this.#runCleanup();
        if (this.flags === 0) return; // the cleanup stopped it
      }
      this.depsTail = undefined;
      this.flags = WATCHING | RECURSED_CHECK;
      const prevSub = activeSub;
      // eslint-disable-next-line @typescript-eslint/no-this-alias -- the graph tracks the running node
      activeSub = this;
      ++cycle;
      ++runDepth;
      try {
        this.#keepCleanup(this.#fn());
      } catch (e) {
        recordError(e);
      } finally {
        --runDepth;
        activeSub = prevSub;
        this.flags &= ~RECURSED_CHECK;
        purgeDeps(this);
      }
    } else if (this.deps !== undefined) {
      this.flags = WATCHING | (flags & HAS_CHILD_EFFECT);
    }
  }
  #runCleanup(): void {
    const c = this.#cleanup!;
    this.#cleanup = undefined;
    const prevSub = activeSub;
    activeSub = undefined;
    try {
      c();
    } catch (e) {
      recordError(e);
    } finally {
      activeSub = prevSub;
    }
  }
  #dispose(): void {
    this.flags = 0;
    disposeDeps(this);
    const sub = this.subs;
    if (sub !== undefined) unlink(sub);
    if (this.#cleanup !== undefined) this.#runCleanup();
  }
  stop(): void {
    this.#dispose();
    if (pendingError !== undefined) rethrowPending();
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
  return new SignalNode(initial);
}

/**
 * A derived value: lazy (runs on first read), cached until one of the signals it read
 * changes; `fn` gets the previous value. Dependents are not notified when the new value
 * is identical (`===`) to the old one.
 */
export function computed<T>(fn: (previous?: T) => T): ReadonlySignal<T> {
  return new ComputedNode(fn);
}

/**
 * Run `fn` now and again whenever a signal it read changes, until `stop()`. `fn` may return
 * a cleanup, run before the next run and on stop. An effect created inside another one is
 * stopped when its parent re-runs or stops.
 */
export function effect(fn: () => void | (() => void)): EffectHandle {
  return new EffectNode(fn);
}

/**
 * Run `fn` with effects deferred until it returns; returns what `fn` returns. If `fn`
 * throws, effects still run for what it changed, then its error is rethrown (an effect
 * error of that same flush is dropped in favour of it).
 */
export function batch<T>(fn: () => T): T {
  ++batchDepth;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    if (--batchDepth === 0) {
      flush();
      if (runDepth === 0) pendingError = undefined;
    }
    throw e;
  }
  if (--batchDepth === 0) flush();
  if (pendingError !== undefined) rethrowPending();
  return result;
}

/** Run `fn` without subscribing the running computed/effect to what it reads. */
export function untracked<T>(fn: () => T): T {
  const prev = activeSub;
  activeSub = undefined;
  try {
    return fn();
  } finally {
    activeSub = prev;
  }
}

/** True while a computed or effect is running (reads are being tracked). */
export function isTracking(): boolean {
  return activeSub !== undefined;
}
