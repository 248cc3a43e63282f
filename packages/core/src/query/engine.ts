/**
 * The query engine: live queries over a {@link QuerySource}, kept up to date
 * incrementally. See ARCHITECTURE.md in this folder for the loop.
 *
 * The source (the client's visible state, a server replica, a test Map) calls
 * `applyChanges` after every visible change, once per batch, when it already reflects
 * the change. The engine compares each changed document's new object with the one it
 * holds (its "before"), updates the indexes, routes the change to the views it can
 * affect, lets them finish the batch, then notifies the live queries whose value changed.
 */
import { type Scheduler, systemScheduler } from '../clock.js';
import type { DocChange } from '../replica.js';
import { batch, type Signal, signal } from '../reactive/signals.js';
import { AggregateView } from './aggregate-view.js';
import { type AggregateRow, queryShape, type QueryAst, type Row } from './ast.js';
import { Query, toQueryAst } from './builder.js';
import { CollectionState } from './collection-state.js';
import type { DocPredicate } from './compile.js';
import { evaluateOnce } from './evaluate.js';
import { GetView } from './get-view.js';
import { includeFootprint, compileIncludes } from './include.js';
import { ListView } from './list-view.js';
import { type EngineLink, type LiveQuery, LiveQueryImpl } from './live-query.js';
import { queryHash } from './hash.js';
import { compileQueryFilter } from './matcher.js';
import type { QuerySource, View, ViewContext } from './view.js';

/** Options of {@link createQueryEngine}. */
export interface QueryEngineOptions {
  /**
   * Keep a live query active this long after its last subscriber leaves (and after an
   * unsubscribed read), so a quick re-subscribe (React StrictMode, route changes) does not
   * rebuild it. Default 0: released at once.
   */
  gcTimeMs?: number;
  /** Timers for `gcTimeMs` (default: the system scheduler). */
  scheduler?: Scheduler;
  /** A live query became active: the source adapter may start loading it, set its status… */
  onActivate?(query: LiveQuery): void;
  /** A live query stopped being active. */
  onDeactivate?(query: LiveQuery): void;
  /** A subscriber threw (default: `console.error`). Other subscribers still run. */
  onListenerError?(error: unknown): void;
  /**
   * A batch with more changes than this for one collection (and more than a quarter of
   * its documents) rebuilds that collection's indexes and views instead of applying the
   * changes one by one. Default 1000.
   */
  bulkThreshold?: number;
}

/** Counters for tests and diagnostics. */
export interface QueryEngineStats {
  /** Live query instances the registry still knows (weakly held). */
  registered: number;
  /** Live queries currently maintained (subscribed or retained). */
  active: number;
  /** Collections with engine state. */
  collections: number;
  /** Field indexes alive. */
  indexes: number;
}

/** Anything accepted as a query: a builder {@link Query} or an AST (validated). */
export type QueryInput<T = unknown> = Query<T, any> | QueryAst;

/** The query engine. */
export interface QueryEngine {
  /**
   * The live query for `query`: the same instance for the same hash while it is referenced.
   * Throws {@link QueryError} for a malformed query.
   */
  live<T>(query: Query<T, any>): LiveQuery<T>;
  live(query: QueryAst | unknown): LiveQuery<unknown>;
  /** The result now, once (uses existing indexes; builds no lasting state). */
  run<T>(query: Query<T, any>): T;
  run(query: QueryAst | unknown): unknown;
  /**
   * Does `doc` pass the query's filter (its `where`, cursor and, for get, id)? Windows
   * (limit/offset) are not considered. For servers: test a document before and after a
   * change to decide who hears about it.
   */
  matches(query: QueryInput | unknown, doc: Readonly<Record<string, unknown>>): boolean;
  /** Report visible changes (the source already reflects them). One call per batch. */
  applyChanges(changes: readonly DocChange[]): void;
  /**
   * Re-read everything from the source (of one collection, or all): for when the source
   * was replaced wholesale without per-document changes.
   */
  refresh(collection?: string): void;
  /**
   * Build the engine's per-collection state (its map of current documents, from which it
   * knows every change's "before") now, and keep it current even while no query uses the
   * collection. Without this it is built by the first query on the collection and dropped
   * with the last. Returns a function that stops tracking.
   */
  track(collection: string): () => void;
  /** Counters. */
  stats(): QueryEngineStats;
  /** The live queries maintained now (subscribed or retained), for diagnostics such as devtools. */
  activeQueries(): LiveQuery[];
}

const BULK_THRESHOLD = 1_000;
const MATCH_CACHE_MAX = 1_000;

function emptyValue(ast: QueryAst): unknown {
  return queryShape(ast) === 'get' ? undefined : [];
}

/**
 * Per document, the union of changed fields over a batch (a document may appear more than
 * once; the engine sees only its first and last state). undefined = unknown (insert,
 * delete, or an update without fields).
 */
function mergeFields(list: readonly DocChange[]): Map<string, readonly string[] | undefined> {
  const docs = new Map<string, readonly string[] | undefined>();
  for (const ch of list) {
    const known = ch.kind === 'update' && ch.fields.length > 0;
    if (!docs.has(ch.id)) docs.set(ch.id, known ? ch.fields : undefined);
    else {
      const f = docs.get(ch.id);
      docs.set(ch.id, f && known ? [...f, ...ch.fields] : undefined);
    }
  }
  return docs;
}

function collectionsOf(ast: QueryAst): string[] {
  const fp = includeFootprint(compileIncludes(ast.include));
  return [ast.collection, ...[...fp.collections].filter((c) => c !== ast.collection)];
}

class Engine implements QueryEngine, ViewContext, EngineLink {
  readonly source: QuerySource;
  readonly gcTimeMs: number;
  readonly #bulk: number;
  readonly #scheduler: Scheduler;
  readonly #options: QueryEngineOptions;
  readonly #registry = new Map<string, WeakRef<LiveQueryImpl<unknown>>>();
  readonly #finalizer = new FinalizationRegistry<{ hash: string; ref: WeakRef<LiveQueryImpl<unknown>> }>(
    ({ hash, ref }) => {
      if (this.#registry.get(hash) === ref) this.#registry.delete(hash);
    },
  );
  readonly #active = new Map<View, LiveQueryImpl<unknown>>();
  readonly #states = new Map<string, CollectionState>();
  readonly #versions = new Map<string, number>();
  readonly #signals = new Map<string, Signal<number>>();
  readonly #matchCache = new Map<string, DocPredicate>();
  #applying = false;
  readonly #queue: (readonly DocChange[])[] = [];

  constructor(source: QuerySource, options: QueryEngineOptions) {
    this.source = source;
    this.#options = options;
    this.gcTimeMs = options.gcTimeMs ?? 0;
    this.#bulk = options.bulkThreshold ?? BULK_THRESHOLD;
    this.#scheduler = options.scheduler ?? systemScheduler;
  }

  // ── ViewContext ──
  state(collection: string): CollectionState {
    let st = this.#states.get(collection);
    if (!st)
      this.#states.set(
        collection,
        (st = new CollectionState(
          collection,
          () => this.source.documents(collection),
          this.source.beforeChange ? (fn) => this.source.beforeChange!(collection, fn) : undefined,
        )),
      );
    return st;
  }

  settle(collection: string): void {
    const st = this.#states.get(collection);
    if (st?.idle) {
      st.dispose();
      this.#states.delete(collection);
    }
  }

  // ── EngineLink ──
  setTimeout(fn: () => void, ms: number) {
    return this.#scheduler.setTimeout(fn, ms);
  }

  open(lq: LiveQueryImpl<unknown>): View {
    const ast = lq.ast;
    const shape = queryShape(ast);
    const view: View =
      shape === 'get'
        ? new GetView(this, ast)
        : shape === 'aggregate'
          ? new AggregateView(this, ast)
          : new ListView(this, ast);
    try {
      view.activate();
    } catch (err) {
      view.deactivate();
      throw err;
    }
    this.#active.set(view, lq);
    this.#options.onActivate?.(lq);
    return view;
  }

  close(lq: LiveQueryImpl<unknown>, view: View): void {
    this.#active.delete(view);
    view.deactivate();
    this.#options.onDeactivate?.(lq);
  }

  evaluate(ast: QueryAst, previous?: unknown): unknown {
    return evaluateOnce({ source: this.source, peekState: (c) => this.#states.get(c) }, ast, previous);
  }

  stamp(lq: LiveQueryImpl<unknown>): string {
    let s = '';
    for (const c of lq.collections) s += (this.#versions.get(c) ?? 0) + ',';
    return s;
  }

  trackSignals(lq: LiveQueryImpl<unknown>): void {
    for (const c of lq.collections) {
      let sig = this.#signals.get(c);
      if (!sig) this.#signals.set(c, (sig = signal(this.#versions.get(c) ?? 0)));
      sig.get();
    }
  }

  listenerError(err: unknown): void {
    if (this.#options.onListenerError) this.#options.onListenerError(err);
    // core has no DOM/Node typings; every runtime has a console.
    else
      (globalThis as { console?: { error(...args: unknown[]): void } }).console?.error(
        'OmniSync: a live query subscriber threw',
        err,
      );
  }

  // ── QueryEngine ──
  live(query: unknown): LiveQuery<any> {
    const ast = toQueryAst(query);
    const hash = query instanceof Query ? query.hash : queryHash(ast);
    const existing = this.#registry.get(hash)?.deref();
    if (existing) return existing;
    const lq = new LiveQueryImpl<unknown>(this, ast, hash, collectionsOf(ast), emptyValue(ast));
    const ref = new WeakRef(lq);
    this.#registry.set(hash, ref);
    this.#finalizer.register(lq, { hash, ref });
    return lq;
  }

  run(query: unknown): any {
    return this.evaluate(toQueryAst(query));
  }

  matches(query: unknown, doc: Readonly<Record<string, unknown>>): boolean {
    const ast = toQueryAst(query);
    const hash = query instanceof Query ? query.hash : queryHash(ast);
    let pred = this.#matchCache.get(hash);
    if (!pred) {
      pred = compileQueryFilter(ast);
      if (this.#matchCache.size >= MATCH_CACHE_MAX)
        this.#matchCache.delete(this.#matchCache.keys().next().value!);
      this.#matchCache.set(hash, pred);
    }
    return pred(doc);
  }

  applyChanges(changes: readonly DocChange[]): void {
    if (this.#applying) {
      // A subscriber wrote during notification: apply after the current batch.
      this.#queue.push(changes);
      return;
    }
    this.#applying = true;
    try {
      let next: readonly DocChange[] | undefined = changes;
      while (next) {
        this.#apply(next);
        next = this.#queue.shift();
      }
    } finally {
      this.#applying = false;
      this.#queue.length = 0;
    }
  }

  #apply(changes: readonly DocChange[]): void {
    if (changes.length === 0) return;
    const byCollection = new Map<string, DocChange[]>();
    for (const ch of changes) {
      const list = byCollection.get(ch.collection);
      if (list) list.push(ch);
      else byCollection.set(ch.collection, [ch]);
    }
    const touched = new Set<View>();
    const failed = new Map<View, unknown>();
    for (const [collection, list] of byCollection) {
      this.#versions.set(collection, (this.#versions.get(collection) ?? 0) + 1);
      const st = this.#states.get(collection);
      if (!st) continue;
      const docs = mergeFields(list);
      if (st.loaded && docs.size > this.#bulk && docs.size * 4 > st.size) {
        const applied = st.applyBulk(
          [...docs].map(([id, fields]) => ({ id, after: this.source.get(collection, id), fields })),
        );
        if (applied.length === 0) continue;
        for (const sink of st.sinks()) {
          const view = sink as View;
          touched.add(view);
          try {
            view.onBulk(collection);
          } catch (err) {
            failed.set(view, err);
          }
        }
        continue;
      }
      for (const [id, fields] of docs) {
        const change = st.apply(id, this.source.get(collection, id), fields);
        if (!change) continue;
        st.route(change, (sink) => {
          const view = sink as View;
          touched.add(view);
          if (failed.has(view)) return;
          try {
            view.onChange(collection, change);
          } catch (err) {
            failed.set(view, err);
          }
        });
      }
    }
    const changed: LiveQueryImpl<unknown>[] = [];
    for (const view of touched) {
      const lq = this.#active.get(view);
      if (!lq) continue;
      const err = failed.get(view);
      if (err !== undefined) {
        lq.fail(err);
        continue;
      }
      try {
        if (view.flush()) changed.push(lq);
      } catch (e) {
        lq.fail(e);
      }
    }
    batch(() => {
      for (const c of byCollection.keys()) this.#signals.get(c)?.set(this.#versions.get(c)!);
      for (const lq of changed) lq.changed();
    });
  }

  refresh(collection?: string): void {
    const affected = [...this.#active.values()].filter(
      (lq) => collection === undefined || lq.collections.includes(collection),
    );
    for (const c of collection === undefined
      ? [...this.#versions.keys(), ...this.#states.keys()]
      : [collection]) {
      this.#versions.set(c, (this.#versions.get(c) ?? 0) + 1);
    }
    // Close every affected view first so the collections' states are dropped and reloaded.
    for (const lq of affected) lq.suspend();
    for (const c of collection === undefined ? [...this.#states.keys()] : [collection]) {
      this.#states.get(c)?.dispose();
      this.#states.delete(c);
    }
    const changed = affected.filter((lq) => lq.resume());
    batch(() => {
      for (const [c, sig] of this.#signals) sig.set(this.#versions.get(c) ?? 0);
      for (const lq of changed) lq.changed();
    });
  }

  track(collection: string): () => void {
    const st = this.state(collection);
    st.pinned = true;
    st.want();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const cur = this.#states.get(collection);
      if (cur) cur.pinned = false;
      this.settle(collection);
    };
  }

  activeQueries(): LiveQuery[] {
    return [...new Set(this.#active.values())];
  }

  stats(): QueryEngineStats {
    let indexes = 0;
    for (const st of this.#states.values()) indexes += st.indexCount;
    return {
      registered: this.#registry.size,
      active: this.#active.size,
      collections: this.#states.size,
      indexes,
    };
  }
}

/**
 * Create a query engine over a source.
 * @example
 * const engine = createQueryEngine(source);
 * const open = engine.live(q('todos').where({ completed: false }).orderBy({ createdAt: 'desc' }).limit(50));
 * const stop = open.subscribe(() => render(open.value));
 * // after every visible change of the source:
 * engine.applyChanges(changes);
 */
export function createQueryEngine(source: QuerySource, options: QueryEngineOptions = {}): QueryEngine {
  return new Engine(source, options);
}

export type { AggregateRow, Row };
