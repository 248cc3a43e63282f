/**
 * The framework-free observer that UI adapters (the React hooks) sit on: it records what a
 * render read, then watches exactly those values and bumps a version when one of them
 * really changed. Adapters read {@link StateObserver.version} as their stable snapshot
 * (React: `useSyncExternalStore(observer.subscribe, observer.getVersion)`).
 *
 *     render ──begin()──► proxy reads ──record(read, seen)──► end() ──► effect over the reads
 *                                                                          │ a value differs
 *     re-render ◄── listeners ◄── version + 1 ◄─────────────────────────────┘
 *
 * Why values and not just signals: a read is recorded with the value it returned, and a
 * change counts only when re-reading gives a different value. A list component that read
 * the ids of its rows is not re-rendered when a field of one row changes; the row that
 * read the field is. That is what makes "toggle one row, re-render one row" hold.
 */
import { effect, type EffectHandle, untracked } from '@omnisync/core';

/** One recorded read: how to read it again (tracked), what it returned, how to compare. */
export interface ObservedRead {
  /** Re-read the value; must read signals so the observer re-runs when it may change. */
  readonly read: () => unknown;
  /** The value the render saw. */
  readonly seen: unknown;
  /** Equality of two reads (default `Object.is`). */
  readonly equals?: (a: unknown, b: unknown) => boolean;
  /**
   * For values that are not signals (a live query): listen for possible changes. The read
   * is then re-checked on each call instead of being tracked.
   */
  readonly subscribe?: (onChange: () => void) => () => void;
  /**
   * Reads of one group (one document, one local node) are watched together: a change
   * re-reads that group only. Default: one group for everything.
   */
  readonly group?: string;
}

const THREW = Symbol('threw');

/** True when re-reading gives another value than the render saw. */
function changedSince(r: ObservedRead): boolean {
  let v: unknown;
  try {
    v = r.read();
  } catch {
    // A read that now throws (an error, or loading) is a change the render must see.
    v = THREW;
  }
  if (v === THREW) return r.seen !== THREW;
  return r.equals ? !r.equals(r.seen, v) : !Object.is(r.seen, v);
}

/**
 * Records reads between {@link begin} and {@link end}, then notifies its listeners once a
 * recorded value changes. One per component (or any other consumer that renders from state).
 */
export class StateObserver {
  #reads: ObservedRead[] = [];
  #keys = new Set<unknown>();
  #recording = false;
  #version = 0;
  #watches: EffectHandle[] = [];
  #unsubs: (() => void)[] = [];
  readonly #listeners = new Set<() => void>();

  /** True between {@link begin} and {@link end}. */
  get recording(): boolean {
    return this.#recording;
  }

  /** The snapshot: a number that changes when something this observer read changed. */
  readonly getVersion = (): number => this.#version;

  /** Start recording a new render's reads (the previous render's are dropped). */
  begin(): void {
    this.#recording = true;
    this.#reads = [];
    this.#keys.clear();
  }

  /**
   * Record one read (ignored when not recording). `key` dedupes: a second read with the same
   * key in one render is not recorded again (a row read ten times is watched once).
   */
  record(key: unknown, read: ObservedRead): void {
    if (!this.#recording) return;
    if (key !== undefined) {
      if (this.#keys.has(key)) return;
      this.#keys.add(key);
    }
    this.#reads.push(read);
  }

  /**
   * Stop recording and watch what was read. If a value already changed since the render saw
   * it (a write landed between render and commit), listeners are notified at once.
   */
  end(): void {
    this.#recording = false;
    // The new subscriptions are made before the old ones are dropped, so a live query read
    // by both renders never sees zero subscribers in between (it would be released).
    const oldWatches = this.#watches;
    const oldUnsubs = this.#unsubs;
    this.#watches = [];
    this.#unsubs = [];
    try {
      this.#watchReads();
    } finally {
      for (const w of oldWatches) w.stop();
      for (const u of oldUnsubs) u();
    }
  }

  #watchReads(): void {
    const all = this.#reads;
    if (all.length === 0) return;
    let stale = false;
    const groups = new Map<string, ObservedRead[]>();
    for (const r of all) {
      if (r.subscribe !== undefined) {
        this.#unsubs.push(
          r.subscribe(() => {
            if (changedSince(r)) this.#bump();
          }),
        );
        if (changedSince(r)) stale = true;
        continue;
      }
      const g = r.group ?? '';
      const list = groups.get(g);
      if (list === undefined) groups.set(g, [r]);
      else list.push(r);
    }
    // One effect per group (a document, a local node): a change re-reads only its group.
    for (const reads of groups.values()) {
      let first = true;
      this.#watches.push(
        effect(() => {
          let changed = false;
          // Every read of the group runs on every pass: the effect re-subscribes to what they read.
          for (const r of reads) if (changedSince(r)) changed = true;
          if (!changed) return;
          if (first) stale = true;
          else untracked(() => this.#bump());
        }),
      );
      first = false;
    }
    if (stale) this.#bump();
  }

  #stopWatching(): void {
    const watches = this.#watches;
    this.#watches = [];
    for (const w of watches) w.stop();
    const unsubs = this.#unsubs;
    this.#unsubs = [];
    for (const u of unsubs) u();
  }

  /** Listen for changes; returns unsubscribe. Stable function, usable as React's `subscribe`. */
  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  };

  /** Stop watching (a component unmounted). Recording can begin again later. */
  dispose(): void {
    this.#stopWatching();
    this.#recording = false;
  }

  #bump(): void {
    this.#version++;
    for (const l of [...this.#listeners]) l();
  }
}
