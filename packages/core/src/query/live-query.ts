/**
 * A live query: the value of one query, kept up to date while anyone holds it.
 *
 * Lifecycle. `engine.live(query)` returns the same instance for the same hash while it is
 * referenced. Subscribing or `retain()` makes it *active*: its view is materialised and
 * maintained incrementally. When the last subscriber/retain goes, it is deactivated (after
 * `gcTimeMs`, when the engine has one) and its incremental state released. An inactive
 * live query still answers `value` (computed once and cached until one of its collections
 * changes) and `get()` (tracked through its collections' version signals). The registry
 * holds live queries weakly: dropped instances are collected.
 *
 * Status and Suspense (seed 000): `status` is 'ready' unless the source adapter says
 * otherwise (`setStatus('loading')` while data is on its way). While loading, `promise` is
 * the same pending Promise instance (throw it for Suspense); it resolves when the status
 * leaves 'loading' (also on 'error': the reader then finds `error` set).
 *
 * Completeness: 'complete' (the source holds everything this query can match), 'partial'
 * (a prefix or window of what the server holds), 'optimistic' (local, unconfirmed rows
 * only). Set by the source adapter with `setCompleteness`.
 */
import { type OmniSyncError, toOmniSyncError, InvalidStateError } from '../errors.js';
import type { TimerHandle } from '../clock.js';
import { type Signal, signal } from '../reactive/signals.js';
import type { QueryAst } from './ast.js';
import { sameElements, type View } from './view.js';

/** Where a live query's data stands. */
export type QueryStatus = 'loading' | 'ready' | 'error';

/** How much of what the query can match is present locally. */
export type Completeness = 'complete' | 'partial' | 'optimistic';

/** A live query result. `T` is the type of `value`. */
export interface LiveQuery<T = unknown> {
  /** The stable hash (the registry key). */
  readonly hash: string;
  /** The validated AST. */
  readonly ast: QueryAst;
  /** The result: the same object while nothing in it changed. Not tracked; see {@link get}. */
  readonly value: T;
  readonly status: QueryStatus;
  readonly error: OmniSyncError | undefined;
  readonly completeness: Completeness;
  /** While loading, the same pending promise (Suspense); otherwise a resolved one. */
  readonly promise: Promise<void>;
  /** True while subscribed or retained (maintained incrementally). */
  readonly active: boolean;
  /** The value, read through a signal: a running computed/effect re-runs when it changes. */
  get(): T;
  /** Call `listener` after every change of value, status or completeness. Returns unsubscribe. */
  subscribe(listener: () => void): () => void;
  /** Keep active without a listener (pair with {@link release}). */
  retain(): void;
  /** Undo one {@link retain}. */
  release(): void;
  /** For source adapters: set the status (and the error, for 'error'). */
  setStatus(status: QueryStatus, error?: unknown): void;
  /** For source adapters: set the completeness. */
  setCompleteness(completeness: Completeness): void;
}

/** What a live query needs from its engine. @internal */
export interface EngineLink {
  readonly gcTimeMs: number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Create and activate the view; registers it for changes. */
  open(lq: LiveQueryImpl<unknown>): View;
  /** Deactivate and unregister the view. */
  close(lq: LiveQueryImpl<unknown>, view: View): void;
  /** Evaluate once (inactive reads), reusing unchanged parts of `previous`. */
  evaluate(ast: QueryAst, previous: unknown): unknown;
  /** The versions of the query's collections, as a comparable string. */
  stamp(lq: LiveQueryImpl<unknown>): string;
  /** Track the query's collections' version signals in the running computed/effect. */
  trackSignals(lq: LiveQueryImpl<unknown>): void;
  listenerError(err: unknown): void;
}

const RESOLVED = Promise.resolve();

function sameValue(a: unknown, b: unknown): boolean {
  return a === b || (Array.isArray(a) && Array.isArray(b) && sameElements(a, b));
}

/** @internal */
export class LiveQueryImpl<T> implements LiveQuery<T> {
  readonly hash: string;
  readonly ast: QueryAst;
  /** Collections read (base first, then includes). */
  readonly collections: readonly string[];
  readonly #link: EngineLink;
  readonly #version: Signal<number> = signal(0);
  readonly #listeners = new Set<{ fn: () => void }>();
  #refs = 0;
  #retains = 0;
  #view: View | undefined;
  #value: unknown;
  #stale = false;
  #coldStamp: string | undefined;
  #timer: TimerHandle | undefined;
  #status: QueryStatus = 'ready';
  #error: OmniSyncError | undefined;
  #completeness: Completeness = 'complete';
  #pending: { promise: Promise<void>; resolve: () => void } | undefined;
  /** The error status was set by the engine (a failed evaluation), not by the source. */
  #engineError = false;

  constructor(link: EngineLink, ast: QueryAst, hash: string, collections: readonly string[], empty: unknown) {
    this.#link = link;
    this.ast = ast;
    this.hash = hash;
    this.collections = collections;
    this.#value = empty;
  }

  get active(): boolean {
    return this.#view !== undefined;
  }

  /** The view, while active. @internal */
  get view(): View | undefined {
    return this.#view;
  }

  get value(): T {
    if (this.#view) {
      if (this.#stale) {
        this.#stale = false;
        this.#value = this.#view.value;
      }
      return this.#value as T;
    }
    if (this.#link.gcTimeMs > 0) {
      // Keep it warm for gcTimeMs: a read is usually followed by a subscribe (React).
      this.#hold();
      this.#drop();
      if (this.#view) return this.value;
    }
    const stamp = this.#link.stamp(this);
    if (stamp !== this.#coldStamp) {
      try {
        const next = this.#link.evaluate(this.ast, this.#value);
        if (!sameValue(this.#value, next)) this.#value = next;
        this.#coldStamp = stamp;
        if (this.#engineError) {
          this.#engineError = false;
          this.setStatus('ready');
        }
      } catch (err) {
        this.#fail(err);
      }
    }
    return this.#value as T;
  }

  get(): T {
    this.#version.get();
    if (!this.#view) this.#link.trackSignals(this);
    return this.value;
  }

  get status(): QueryStatus {
    return this.#status;
  }

  get error(): OmniSyncError | undefined {
    return this.#error;
  }

  get completeness(): Completeness {
    return this.#completeness;
  }

  get promise(): Promise<void> {
    return this.#pending?.promise ?? RESOLVED;
  }

  subscribe(listener: () => void): () => void {
    const entry = { fn: listener };
    this.#listeners.add(entry);
    this.#hold();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#listeners.delete(entry);
      this.#drop();
    };
  }

  retain(): void {
    this.#retains++;
    this.#hold();
  }

  release(): void {
    if (this.#retains === 0)
      throw new InvalidStateError(`release() on live query ${this.hash} without a matching retain().`);
    this.#retains--;
    this.#drop();
  }

  setStatus(status: QueryStatus, error?: unknown): void {
    const err = status === 'error' ? toOmniSyncError(error ?? new Error('query failed')) : undefined;
    if (status === this.#status && err === this.#error) return;
    this.#status = status;
    this.#error = err;
    if (status === 'loading') {
      if (!this.#pending) {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => (resolve = r));
        this.#pending = { promise, resolve };
      }
    } else if (this.#pending) {
      this.#pending.resolve();
      this.#pending = undefined;
    }
    this.#notify();
  }

  setCompleteness(completeness: Completeness): void {
    if (completeness === this.#completeness) return;
    this.#completeness = completeness;
    this.#notify();
  }

  #hold(): void {
    if (this.#refs++ === 0) {
      this.#timer?.cancel();
      this.#timer = undefined;
      if (!this.#view) this.#activate();
    }
  }

  #drop(): void {
    if (--this.#refs > 0) return;
    if (this.#link.gcTimeMs > 0) {
      this.#timer?.cancel();
      this.#timer = this.#link.setTimeout(() => {
        this.#timer = undefined;
        if (this.#refs === 0) this.#deactivate();
      }, this.#link.gcTimeMs);
    } else this.#deactivate();
  }

  #activate(): void {
    try {
      const view = this.#link.open(this);
      this.#view = view;
      const next = view.value;
      if (!sameValue(this.#value, next)) this.#value = next;
      this.#stale = false;
      if (this.#engineError) {
        this.#engineError = false;
        this.setStatus('ready');
      }
    } catch (err) {
      this.#fail(err);
    }
  }

  #deactivate(): void {
    const view = this.#view;
    if (!view) return;
    this.#view = undefined;
    if (this.#stale) this.#value = view.value;
    this.#stale = false;
    this.#link.close(this, view);
    // The cached value is current as of now; dependents switch to tracking collections.
    this.#coldStamp = this.#link.stamp(this);
    this.#version.set(this.#version.peek() + 1);
  }

  /** The view changed its value (called by the engine after a batch). @internal */
  changed(): void {
    this.#stale = true;
    this.#notify();
  }

  /** The view failed: keep the last value, report the error, stop maintaining. @internal */
  fail(err: unknown): void {
    this.#fail(err);
  }

  #fail(err: unknown): void {
    const view = this.#view;
    if (view) {
      this.#view = undefined;
      try {
        this.#link.close(this, view);
      } catch {
        // Already failing: the first error is the one to report.
      }
    }
    this.#engineError = true;
    this.setStatus('error', err);
  }

  #notify(): void {
    this.#version.set(this.#version.peek() + 1);
    for (const l of this.#listeners) {
      try {
        l.fn();
      } catch (err) {
        this.#link.listenerError(err);
      }
    }
  }

  /** Close the view but stay held (first half of `engine.refresh`). @internal */
  suspend(): void {
    const view = this.#view;
    if (!view) return;
    if (this.#stale) this.#value = view.value;
    this.#stale = false;
    this.#view = undefined;
    this.#link.close(this, view);
  }

  /** Re-materialise from the source if held; true when the value changed. @internal */
  resume(): boolean {
    if (this.#refs === 0 || this.#view) return false;
    const old = this.#value;
    this.#activate();
    return !sameValue(old, this.#value);
  }
}
