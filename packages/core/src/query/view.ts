/**
 * A view is the incremental state of one active live query: it materialises the result
 * once, then receives routed changes (`onChange`), and at the end of each batch finishes
 * its work (`flush`: window refills, include rebuilds) and reports whether its value
 * changed. Its value is the same object until then.
 */
import type { QueryAst } from './ast.js';
import type { Change, ChangeSink, CollectionState, Route } from './collection-state.js';
import { type Doc, requiredEqualities, requiredInLists } from './compile.js';
import { type IncludeReader, IncludeTracker, compileIncludes } from './include.js';
import type { HashIndex } from './indexes.js';

/** What the engine reads: the visible documents (client: synced base + optimistic overlay). */
export interface QuerySource {
  /** Every visible document of a collection (each with a string `id`). */
  documents(collection: string): Iterable<Readonly<Record<string, unknown>>>;
  /**
   * One visible document, or undefined. The same object until the document changes; a
   * changed document is a new object (the engine keeps old objects as "before" states).
   */
  get(collection: string, id: string): Readonly<Record<string, unknown>> | undefined;
  /**
   * Optional: call `fn` once, synchronously, just before the next change to a visible
   * document of `collection` (before the source's state moves). Returns a function that
   * cancels it. With it, the engine copies a collection's documents (its "before" states)
   * only once they are about to change, not when a query opens.
   */
  beforeChange?(collection: string, fn: () => void): () => void;
}

/** What views need from the engine. */
export interface ViewContext {
  readonly source: QuerySource;
  /** The state of a collection, created on demand. */
  state(collection: string): CollectionState;
  /** Drop a collection's state if nothing uses it any more. */
  settle(collection: string): void;
}

/** The incremental state of one active query. */
export abstract class View implements ChangeSink {
  routeStamp = 0;
  readonly ast: QueryAst;
  protected readonly ctx: ViewContext;
  #routes: [CollectionState, Route][] = [];

  constructor(ctx: ViewContext, ast: QueryAst) {
    this.ctx = ctx;
    this.ast = ast;
  }

  /** The current result. */
  abstract readonly value: unknown;
  /** Build the result from the source and start listening. */
  abstract activate(): void;
  /** A routed change. */
  abstract onChange(collection: string, change: Change): void;
  /** Many changes at once in `collection`: rebuild rather than apply one by one. */
  abstract onBulk(collection: string): void;
  /** Finish a batch; true when `value` is a new object. */
  abstract flush(): boolean;
  /** Release indexes; called once. */
  protected abstract releaseResources(): void;

  /** Register for changes: the base collection under `baseRoute`, included ones under 'all'. */
  protected listen(baseRoute: Route, includeCollections: ReadonlySet<string>): void {
    const base = this.ast.collection;
    const all: Route = { kind: 'all' };
    const st = this.ctx.state(base);
    const r = includeCollections.has(base) ? all : baseRoute;
    st.addSink(this, r);
    this.#routes.push([st, r]);
    for (const c of includeCollections) {
      if (c === base) continue;
      const s = this.ctx.state(c);
      s.addSink(this, all);
      this.#routes.push([s, all]);
    }
  }

  /** Stop listening and release everything. */
  deactivate(): void {
    for (const [st, r] of this.#routes) st.removeSink(this, r);
    this.releaseResources();
    for (const [st] of this.#routes) this.ctx.settle(st.name);
    // Also after a failed activation, which may have created state before registering.
    this.ctx.settle(this.ast.collection);
    this.#routes = [];
  }
}

/** Includes for a view: compiled nodes, tracker, and the indexes reverse includes use. */
export class IncludeSupport implements IncludeReader {
  readonly tracker: IncludeTracker;
  readonly #ctx: ViewContext;
  readonly #indexes = new Map<string, [CollectionState, HashIndex]>();

  constructor(ctx: ViewContext, ast: { include?: QueryAst['include'] }) {
    this.#ctx = ctx;
    this.tracker = new IncludeTracker(compileIncludes(ast.include));
  }

  /** Acquire the hash indexes reverse includes read. */
  acquire(): void {
    const visit = (nodes: IncludeTracker['nodes']) => {
      for (const n of nodes) {
        if (n.kind === 'reverse') {
          const key = `${n.collection}\u0000${n.field}`;
          if (!this.#indexes.has(key)) {
            const st = this.#ctx.state(n.collection);
            this.#indexes.set(key, [st, st.acquireHash(n.field)]);
          }
        }
        visit(n.children);
      }
    };
    visit(this.tracker.nodes);
  }

  release(): void {
    for (const [st, ix] of this.#indexes.values()) st.releaseHash(ix);
    this.#indexes.clear();
    this.tracker.clear();
  }

  get(collection: string, id: string): Doc | undefined {
    return this.#ctx.source.get(collection, id);
  }

  referencing(collection: string, field: string, id: string): Iterable<Doc> {
    return this.#indexes.get(`${collection}\u0000${field}`)?.[1].lookup(id) ?? [];
  }

  /** Derived row for a document. */
  row(doc: Doc): Doc {
    return this.tracker.rowFor(doc, this);
  }
}

/**
 * The planner's scan for materialising a view: the documents it must look at, from the
 * smallest hash bucket among the required equalities and in-lists (an existing index, or one
 * built now because another active view wants the same field), else every document.
 * Indexes used are acquired into `held` (released with the view).
 */
export class ScanPlanner {
  readonly #st: CollectionState;
  readonly #fields: readonly string[];
  readonly #eqs: ReadonlyMap<string, unknown>;
  readonly #ins: ReadonlyMap<string, readonly unknown[]>;
  readonly #held = new Map<string, HashIndex>();
  #demanded = false;

  constructor(st: CollectionState, where: QueryAst['where']) {
    this.#st = st;
    this.#eqs = requiredEqualities(where);
    this.#ins = requiredInLists(where);
    this.#fields = [...new Set([...this.#eqs.keys(), ...this.#ins.keys()])];
  }

  /** Documents to scan (a superset of the matches). */
  candidates(): Iterable<Doc> {
    const st = this.#st;
    if (!this.#demanded) {
      this.#demanded = true;
      for (const f of this.#fields) st.demand(f, 1);
    }
    let best: Iterable<Doc> | undefined;
    let bestSize = Infinity;
    for (const f of this.#fields) {
      let ix = this.#held.get(f) ?? st.peekHash(f);
      if (!ix && st.demandOf(f) < 2) continue;
      if (!this.#held.has(f)) {
        ix = st.acquireHash(f);
        this.#held.set(f, ix);
      }
      const eq = this.#eqs.get(f);
      const values = eq !== undefined ? [eq] : this.#ins.get(f)!;
      let size = 0;
      const buckets: ReadonlySet<Doc>[] = [];
      for (const v of values) {
        const b = ix!.lookup(v);
        if (b) {
          buckets.push(b);
          size += b.size;
        }
      }
      if (size < bestSize) {
        bestSize = size;
        // Array fields are indexed under each member: merge buckets without duplicates.
        best = buckets.length === 1 ? buckets[0]! : new Set(buckets.flatMap((b) => [...b]));
      }
    }
    return best ?? st.scan();
  }

  release(): void {
    for (const ix of this.#held.values()) this.#st.releaseHash(ix);
    this.#held.clear();
    if (this.#demanded) for (const f of this.#fields) this.#st.demand(f, -1);
    this.#demanded = false;
  }
}

/** Lower bound: the first index whose element is ≥ `key` under `cmp`. */
export function lowerBound<T>(arr: readonly T[], key: T, cmp: (a: T, b: T) => number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cmp(arr[mid]!, key) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Are two arrays element-wise identical? */
export function sameElements(a: readonly unknown[], b: readonly unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
