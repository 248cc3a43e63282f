/**
 * The engine's state for one collection, alive while an active query needs it:
 * - `docs`: id → the document object as last seen, loaded from the source when a view or
 *   index first needs "before" states (a `get` view or a ref include does not). Sources
 *   replace a document's object on every change (never mutate it), so the object held
 *   here *is* the "before" state of the next change: no copies are kept.
 * - lazily built, reference-counted indexes;
 * - the routing table that sends a change only to the views it can affect: views with a
 *   required equality (or `in` list) are found by the changed document's old and new
 *   value of that field; `get` views by id; the rest are always visited.
 */
import type { OrderTerm } from './ast.js';
import type { Doc } from './compile.js';
import { HashIndex, type Pins, SortedIndex, sortedIndexKey } from './indexes.js';
import { fieldGetter, valueKey } from './values.js';

/** One visible change, resolved against the engine's own "before" state. */
export interface Change {
  readonly id: string;
  readonly before: Doc | undefined;
  readonly after: Doc | undefined;
  /** Changed field paths (cell form, e.g. `meta.n`, `tags[t1]`); undefined = unknown. */
  readonly fields: readonly string[] | undefined;
}

/** Something that receives routed changes (a view). */
export interface ChangeSink {
  /** Set by the router to visit a sink once per change. @internal */
  routeStamp: number;
  onChange(collection: string, change: Change): void;
}

/** How a sink wants to be routed for one collection. */
export type Route =
  | { readonly kind: 'all' }
  | { readonly kind: 'id'; readonly id: string }
  | { readonly kind: 'value'; readonly field: string; readonly values: readonly unknown[] };

let stampSeq = 0;

/** Per-collection engine state. */
export class CollectionState {
  readonly name: string;
  #docs: Map<string, Doc> | undefined;
  readonly #load: () => Iterable<Doc>;
  readonly #beforeChange: ((fn: () => void) => () => void) | undefined;
  /** Cancels the pending copy of `docs` (see {@link want}). */
  #cancel: (() => void) | undefined;
  readonly #hash = new Map<string, HashIndex>();
  readonly #sorted = new Map<string, SortedIndex>();
  readonly #all = new Set<ChangeSink>();
  readonly #byId = new Map<string, Set<ChangeSink>>();
  readonly #byValue = new Map<string, Map<unknown, Set<ChangeSink>>>();
  #sinks = 0;
  /** Kept (and kept current) even when no view uses it: see `engine.track`. */
  pinned = false;

  constructor(name: string, load: () => Iterable<Doc>, beforeChange?: (fn: () => void) => () => void) {
    this.name = name;
    this.#load = load;
    this.#beforeChange = beforeChange;
  }

  /**
   * Changes must carry their "before" state from now on: load `docs` now, or, when the
   * source can say when a change is about to happen, just before the first one (the
   * source's documents are the "before" states until then).
   */
  want(): void {
    if (this.#docs || this.#cancel) return;
    if (!this.#beforeChange) {
      void this.docs;
      return;
    }
    this.#cancel = this.#beforeChange(() => {
      this.#cancel = undefined;
      void this.docs;
    });
  }

  /**
   * Every current document: while `docs` waits for the first change (see {@link want}),
   * the source's own, else `docs` (loaded now if need be).
   */
  scan(): Iterable<Doc> {
    return this.#docs === undefined && this.#cancel !== undefined ? this.#load() : this.docs.values();
  }

  /** Forget a pending {@link want} (the state is dropped). */
  dispose(): void {
    this.#cancel?.();
    this.#cancel = undefined;
  }

  /** id → current document (loaded from the source on first use). */
  get docs(): Map<string, Doc> {
    if (!this.#docs) {
      this.#cancel?.();
      this.#cancel = undefined;
      const m = new Map<string, Doc>();
      for (const d of this.#load()) m.set(d.id as string, d);
      this.#docs = m;
    }
    return this.#docs;
  }

  /** True once `docs` is loaded, or will be before the next change (changes then carry their "before" state). */
  get loaded(): boolean {
    return this.#docs !== undefined || this.#cancel !== undefined;
  }

  /** Current number of documents, if loaded. */
  get size(): number {
    return this.loaded ? this.docs.size : 0;
  }

  /** True when nothing uses this state any more. */
  get idle(): boolean {
    return !this.pinned && this.#sinks === 0 && this.#hash.size === 0 && this.#sorted.size === 0;
  }

  /** Number of live indexes. */
  get indexCount(): number {
    return this.#hash.size + this.#sorted.size;
  }

  /** Acquire (building if needed) the hash index on `field`. */
  acquireHash(field: string): HashIndex {
    let ix = this.#hash.get(field);
    if (!ix) this.#hash.set(field, (ix = new HashIndex(field, this.scan())));
    ix.refs++;
    return ix;
  }

  /** An existing hash index on `field`, without acquiring it. */
  peekHash(field: string): HashIndex | undefined {
    return this.#hash.get(field);
  }

  readonly #demand = new Map<string, number>();

  /**
   * Count active views that could use a hash index on `field` (sign +1/-1). The planner
   * builds one when a second view wants it: one view scans once, many share the index.
   */
  demand(field: string, sign: 1 | -1): number {
    const n = (this.#demand.get(field) ?? 0) + sign;
    if (n <= 0) this.#demand.delete(field);
    else this.#demand.set(field, n);
    return n;
  }

  /** Active views wanting a hash index on `field`. */
  demandOf(field: string): number {
    return this.#demand.get(field) ?? 0;
  }

  /** Release a hash index; dropped at zero references. */
  releaseHash(ix: HashIndex): void {
    if (--ix.refs <= 0) this.#hash.delete(ix.field);
  }

  /** Acquire (building if needed) the sorted index on `terms` over the documents matching `pins`. */
  acquireSorted(terms: readonly OrderTerm[], pins: Pins, candidates?: () => Iterable<Doc>): SortedIndex {
    const key = sortedIndexKey(terms, pins);
    let ix = this.#sorted.get(key);
    if (!ix)
      this.#sorted.set(key, (ix = new SortedIndex(terms, pins, candidates ? candidates() : this.scan())));
    ix.refs++;
    return ix;
  }

  /** An existing sorted index, without acquiring it. */
  peekSorted(terms: readonly OrderTerm[], pins: Pins): SortedIndex | undefined {
    return this.#sorted.get(sortedIndexKey(terms, pins));
  }

  /** Release a sorted index; dropped at zero references. */
  releaseSorted(ix: SortedIndex): void {
    if (--ix.refs <= 0) this.#sorted.delete(ix.key);
  }

  /** Register a sink under a route. */
  addSink(sink: ChangeSink, route: Route): void {
    this.#sinks++;
    if (route.kind === 'all') this.#all.add(sink);
    else if (route.kind === 'id') setIn(this.#byId, route.id, sink);
    else {
      let m = this.#byValue.get(route.field);
      if (!m) this.#byValue.set(route.field, (m = new Map()));
      for (const v of route.values) setIn(m, valueKey(v), sink);
    }
  }

  /** Unregister a sink (same route as registered). */
  removeSink(sink: ChangeSink, route: Route): void {
    this.#sinks--;
    if (route.kind === 'all') this.#all.delete(sink);
    else if (route.kind === 'id') deleteIn(this.#byId, route.id, sink);
    else {
      const m = this.#byValue.get(route.field);
      if (m) {
        for (const v of route.values) deleteIn(m, valueKey(v), sink);
        if (m.size === 0) this.#byValue.delete(route.field);
      }
    }
  }

  /**
   * Bring `docs` and the indexes up to date with `id`'s current object. Returns the change,
   * or undefined when the object did not change.
   */
  apply(id: string, after: Doc | undefined, fields: readonly string[] | undefined): Change | undefined {
    const docs = this.#docs;
    if (!docs) return { id, before: undefined, after, fields };
    const before = docs.get(id);
    if (before === after) return undefined;
    if (after) docs.set(id, after);
    else docs.delete(id);
    for (const ix of this.#hash.values()) ix.update(before, after);
    for (const ix of this.#sorted.values()) ix.update(before, after);
    return { id, before, after, fields };
  }

  /**
   * Apply many changes at once: documents first, then every index rebuilt in one pass
   * (a bulk load costs O(n log n) once instead of one tree insert per document).
   */
  applyBulk(
    updates: readonly { id: string; after: Doc | undefined; fields: readonly string[] | undefined }[],
  ): Change[] {
    const out: Change[] = [];
    const docs = this.docs;
    for (const u of updates) {
      const before = docs.get(u.id);
      if (before === u.after) continue;
      if (u.after) docs.set(u.id, u.after);
      else docs.delete(u.id);
      out.push({ id: u.id, before, after: u.after, fields: u.fields });
    }
    for (const ix of this.#hash.values()) ix.rebuild(this.docs.values());
    for (const ix of this.#sorted.values()) ix.rebuild(this.docs.values());
    return out;
  }

  /** Call `visit` once for every sink a change may affect. */
  route(change: Change, visit: (sink: ChangeSink) => void): void {
    const stamp = ++stampSeq;
    const once = (s: ChangeSink) => {
      if (s.routeStamp === stamp) return;
      s.routeStamp = stamp;
      visit(s);
    };
    for (const s of this.#all) once(s);
    const byId = this.#byId.get(change.id);
    if (byId) for (const s of byId) once(s);
    for (const [field, m] of this.#byValue) {
      const g = fieldGetter(field);
      if (change.before) visitKey(m, g(change.before), once);
      if (change.after) visitKey(m, g(change.after), once);
    }
  }

  /** Every registered sink (for bulk changes, which go to everyone). */
  sinks(): Set<ChangeSink> {
    const out = new Set<ChangeSink>(this.#all);
    for (const set of this.#byId.values()) for (const s of set) out.add(s);
    for (const m of this.#byValue.values()) for (const set of m.values()) for (const s of set) out.add(s);
    return out;
  }
}

function visitKey(m: Map<unknown, Set<ChangeSink>>, v: unknown, once: (s: ChangeSink) => void): void {
  // Routes hold scalars only (required equalities / in lists); an array value matches none.
  const set = m.get(valueKey(v));
  if (set) for (const s of set) once(s);
}

function setIn<K>(m: Map<K, Set<ChangeSink>>, k: K, s: ChangeSink): void {
  let set = m.get(k);
  if (!set) m.set(k, (set = new Set()));
  set.add(s);
}

function deleteIn<K>(m: Map<K, Set<ChangeSink>>, k: K, s: ChangeSink): void {
  const set = m.get(k);
  if (!set) return;
  set.delete(s);
  if (set.size === 0) m.delete(k);
}
