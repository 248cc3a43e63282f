/**
 * Live list results. Three shapes, chosen from the query:
 *
 * - `map` (no orderBy, limit, offset or cursor): an insertion-ordered Map id → document.
 *   A change costs O(1); rows keep their place, newly matching rows go last.
 * - `tree` (orderBy/offset/cursor, no limit): every matching document in a B+ tree
 *   ordered by (orderBy…, id). A change costs O(log n).
 * - `window` (limit): only the first offset+limit matching rows, in a small sorted array,
 *   plus the `bound` (the last row's key; null when every match is inside). A row entering
 *   below the bound is inserted, the overflow dropped; when a row leaves and the window
 *   falls short, it refills from a sorted index on (required equalities…, orderBy…, id)
 *   starting after the bound: O(log n + refill). The first fill needs no index: it picks
 *   the first rows in one pass over the candidates (top-k, O(n log k)), and the index is
 *   built when a refill first needs it (or taken at once when another query built it).
 *
 * Value arrays are built on read and kept until the next change, so `value` is the same
 * array while nothing in it changed.
 */
import type { OrderTerm, QueryAst } from './ast.js';
import type { Tree } from './btree.js';
import { treeFromSorted } from './btree.js';
import type { Change, CollectionState, Route } from './collection-state.js';
import {
  compileComparator,
  compileCursor,
  compilePredicate,
  conjuncts,
  type Doc,
  type DocComparator,
  type DocPredicate,
  makeProbe,
  requiredEqualities,
  requiredInLists,
} from './compile.js';
import type { SortedIndex } from './indexes.js';
import { compareValues, fieldGetter, HIGH_ID } from './values.js';
import { IncludeSupport, lowerBound, sameElements, ScanPlanner, View, type ViewContext } from './view.js';

type Mode = 'map' | 'tree' | 'window' | 'empty';

/** The route a list or aggregate query needs on its base collection. */
export function baseRoute(ast: QueryAst): Route {
  const eqs = requiredEqualities(ast.where);
  const first = eqs.entries().next();
  if (!first.done) return { kind: 'value', field: first.value[0], values: [first.value[1]] };
  const ins = requiredInLists(ast.where);
  const firstIn = ins.entries().next();
  if (!firstIn.done) return { kind: 'value', field: firstIn.value[0], values: firstIn.value[1] };
  return { kind: 'all' };
}

/** The effective predicate of a list query: `where` and the cursor. */
export function listPredicate(ast: QueryAst, cmp: DocComparator): DocPredicate {
  const where = compilePredicate(ast.where);
  const cursor = compileCursor(ast.orderBy ?? [], ast.after, cmp);
  return cursor ? (d) => where(d) && cursor(d) : where;
}

/** The live state of a list query. */
export class ListView extends View {
  readonly #mode: Mode;
  readonly #order: readonly OrderTerm[];
  readonly #cmp: DocComparator;
  readonly #pred: DocPredicate;
  readonly #offset: number;
  readonly #k: number;
  readonly #includes: IncludeSupport | undefined;
  readonly #touched = new Set<string>();
  #state: CollectionState | undefined;
  #planner: ScanPlanner | undefined;
  #dirty = false;
  /** Rebuilt in bulk this batch: compare the new value with the old one. */
  #bulked = false;
  #value: readonly Doc[] | undefined;
  // map mode
  #map = new Map<string, Doc>();
  // tree mode
  #tree: Tree<Doc, undefined> | undefined;
  // window mode
  #rows: Doc[] = [];
  #rowsShared = false;
  #bound: Doc | null = null;
  #index: SortedIndex | undefined;
  #low: Doc | undefined;
  /** `#low` and `#past` are set (the index itself may not be built yet). */
  #planned = false;
  /** Past the range's far end: no later index entry can match. */
  #past: ((d: Doc) => boolean) | undefined;

  constructor(ctx: ViewContext, ast: QueryAst) {
    super(ctx, ast);
    this.#order = ast.orderBy ?? [];
    this.#cmp = compileComparator(this.#order);
    this.#pred = listPredicate(ast, this.#cmp);
    this.#offset = ast.offset ?? 0;
    this.#k = this.#offset + (ast.limit ?? 0);
    this.#mode =
      ast.limit !== undefined
        ? ast.limit === 0
          ? 'empty'
          : 'window'
        : ast.orderBy || ast.offset || ast.after
          ? 'tree'
          : 'map';
    this.#includes = ast.include ? new IncludeSupport(ctx, ast) : undefined;
  }

  activate(): void {
    if (this.#mode === 'empty') return;
    this.#state = this.ctx.state(this.ast.collection);
    // Changes must carry their "before" state from now on.
    this.#state.want();
    this.#planner = new ScanPlanner(this.#state, this.ast.where);
    this.#includes?.acquire();
    if (this.#mode === 'window') this.#openIndex(this.#state, false);
    this.#materialize();
    this.listen(baseRoute(this.ast), this.#includes?.tracker.collections ?? new Set());
  }

  protected releaseResources(): void {
    if (this.#index) this.#state!.releaseSorted(this.#index);
    this.#index = undefined;
    this.#planner?.release();
    this.#includes?.release();
  }

  /**
   * Plan the window's scans; with `build`, or when the index exists already, acquire it.
   * Without, the first fill is a top-k pass and the index waits for the first refill.
   */
  #openIndex(st: CollectionState, build: boolean): void {
    // A partial index over the documents with the required equalities, ordered by the
    // remaining order terms: the window is then a prefix of the index (or starts at the cursor).
    const eqs = requiredEqualities(this.ast.where);
    const terms = this.#order.filter((t) => !eqs.has(t.field));
    if (build || st.peekSorted(terms, eqs) !== undefined)
      this.#index = st.acquireSorted(terms, eqs, () => this.#planner!.candidates());
    if (this.#planned) return;
    this.#planned = true;
    // A cursor can place the scan start only when no order field is pinned by an equality
    // (the pinned field's cursor value may lie before or after the pinned value); otherwise
    // the scan starts at the beginning and the predicate applies the cursor.
    const after = this.ast.after && terms.length === this.#order.length ? this.ast.after : undefined;
    this.#low = after
      ? makeProbe(
          terms.map((t) => t.field),
          after.values,
          after.id ?? HIGH_ID,
        )
      : undefined;
    this.#openRange(terms);
  }

  /**
   * A range filter on the (single) order field bounds the scan: start at the bound the order
   * meets first, stop after the other one. Ranges match only their operand's type, and every
   * other type sorts wholly before or after it, so nothing past the stop can match.
   */
  #openRange(terms: readonly OrderTerm[]): void {
    if (terms.length !== 1) return;
    const { field, dir } = terms[0]!;
    let lower: unknown;
    let upper: unknown;
    for (const c of conjuncts(this.ast.where)) {
      if (c.op !== 'gt' && c.op !== 'gte' && c.op !== 'lt' && c.op !== 'lte') continue;
      if (c.field !== field) continue;
      if (c.op === 'gt' || c.op === 'gte') lower ??= c.value;
      else upper ??= c.value;
    }
    const [start, stop] = dir === 'asc' ? [lower, upper] : [upper, lower];
    if (start !== undefined && !this.#low) this.#low = makeProbe([field], [start], '');
    if (stop !== undefined) {
      const get = fieldGetter(field);
      this.#past =
        dir === 'asc' ? (d) => compareValues(get(d), stop) > 0 : (d) => compareValues(get(d), stop) < 0;
    }
  }

  #materialize(): void {
    const pred = this.#pred;
    if (this.#mode === 'map') {
      const m = new Map<string, Doc>();
      for (const d of this.#planner!.candidates()) if (pred(d)) m.set(d.id as string, d);
      this.#map = m;
    } else if (this.#mode === 'tree') {
      const arr: Doc[] = [];
      for (const d of this.#planner!.candidates()) if (pred(d)) arr.push(d);
      arr.sort(this.#cmp);
      this.#tree = treeFromSorted(arr, this.#cmp);
    } else {
      this.#rows = [];
      this.#rowsShared = false;
      this.#bound = null;
      if (this.#index === undefined) this.#topK();
      else this.#refill(undefined);
    }
  }

  /**
   * Fill the window with the first k matches in one pass over the candidates, without the
   * index: what a refill from the start of the index finds (the predicate holds the cursor
   * and the range that bound an index scan), at O(n log k) instead of a sort of every match.
   */
  #topK(): void {
    const pred = this.#pred;
    const cmp = this.#cmp;
    const k = this.#k;
    const rows: Doc[] = [];
    let last: Doc | undefined;
    for (const d of this.#planner!.candidates()) {
      if (last !== undefined && cmp(d, last) >= 0) continue;
      if (!pred(d)) continue;
      rows.splice(lowerBound(rows, d, cmp), 0, d);
      if (rows.length > k) rows.length = k;
      if (rows.length === k) last = rows[k - 1];
    }
    this.#rows = rows;
    this.#bound = rows.length >= k ? rows[k - 1]! : null;
  }

  /** Append matching rows from the index after `from` (exclusive) until the window is full. */
  #refill(from: Doc | undefined): void {
    if (this.#index === undefined) this.#openIndex(this.#state!, true);
    const ix = this.#index!;
    const rows = this.#writableRows();
    const pred = this.#pred;
    const past = this.#past;
    const k = this.#k;
    let full = rows.length >= k;
    if (!full) {
      for (const d of ix.keysFrom(from ?? this.#low)) {
        if (from && ix.compare(d, from) <= 0) continue;
        if (past?.(d)) break;
        if (!pred(d)) continue;
        rows.push(d);
        if (rows.length >= k) {
          full = true;
          break;
        }
      }
    }
    this.#bound = full ? rows[k - 1]! : null;
  }

  #writableRows(): Doc[] {
    if (this.#rowsShared) {
      this.#rows = this.#rows.slice();
      this.#rowsShared = false;
    }
    return this.#rows;
  }

  onChange(collection: string, ch: Change): void {
    const inc = this.#includes;
    if (inc && inc.tracker.collections.has(collection)) inc.tracker.invalidate(collection, ch, this.#touched);
    if (collection !== this.ast.collection) return;
    const a = ch.after;
    const b = ch.before;
    const pred = this.#pred;
    let changed = false;
    switch (this.#mode) {
      case 'map': {
        const had = this.#map.get(ch.id);
        const isIn = a !== undefined && pred(a);
        if (isIn) {
          if (had !== a) {
            this.#map.set(ch.id, a);
            changed = true;
          }
        } else if (had) {
          this.#map.delete(ch.id);
          changed = true;
        }
        break;
      }
      case 'tree': {
        const t = this.#tree!;
        const wasIn = b !== undefined && pred(b);
        const isIn = a !== undefined && pred(a);
        if (wasIn && isIn && this.#cmp(a, b) === 0) t.set(a, undefined, true);
        else {
          if (wasIn) t.delete(b);
          if (isIn) t.set(a, undefined, true);
        }
        changed = wasIn || isIn;
        break;
      }
      case 'window': {
        const cmp = this.#cmp;
        const bound = this.#bound;
        const wasIn = b !== undefined && pred(b) && (bound === null || cmp(b, bound) <= 0);
        const isIn = a !== undefined && pred(a) && (bound === null || cmp(a, bound) <= 0);
        if (!wasIn && !isIn) break;
        const rows = this.#writableRows();
        changed = true;
        if (wasIn) {
          const i = lowerBound(rows, b, cmp);
          if (rows[i]?.id === ch.id) {
            if (isIn && cmp(a, b) === 0) {
              rows[i] = a;
              break;
            }
            rows.splice(i, 1);
          } else {
            const j = rows.findIndex((r) => r.id === ch.id);
            if (j >= 0) rows.splice(j, 1);
          }
        }
        if (isIn) {
          rows.splice(lowerBound(rows, a, cmp), 0, a);
          if (rows.length > this.#k) {
            rows.length = this.#k;
            this.#bound = rows[this.#k - 1]!;
          }
        }
        break;
      }
      case 'empty':
        return;
    }
    if (changed) {
      this.#dirty = true;
      if (inc) this.#touched.add(ch.id);
    }
  }

  onBulk(collection: string): void {
    const inc = this.#includes;
    if (inc && inc.tracker.collections.has(collection)) inc.tracker.invalidateAll(this.#touched);
    if (collection !== this.ast.collection || this.#mode === 'empty') return;
    this.#materialize();
    this.#dirty = true;
    this.#bulked = true;
    if (inc) {
      const keep = new Set<string>();
      for (const d of this.#docsInResult()) keep.add(d.id as string);
      inc.tracker.retainOnly(keep);
    }
  }

  flush(): boolean {
    if (this.#mode === 'window' && this.#bound !== null && this.#rows.length < this.#k) {
      // Every match up to the bound is in the window, so the next ones come right after it
      // (the bound may be a stale object: only its key matters).
      this.#refill(this.#bound);
    }
    const inc = this.#includes;
    if (inc && this.#touched.size) {
      for (const id of this.#touched) {
        const doc = this.#currentDoc(id);
        if (!doc) {
          inc.tracker.forget(id);
          continue;
        }
        const before = inc.tracker.peek(id);
        if (inc.row(doc) !== before) this.#dirty = true;
      }
      this.#touched.clear();
    }
    if (!this.#dirty) return false;
    this.#dirty = false;
    const old = this.#value;
    this.#value = undefined;
    // Hidden rows (before an offset) may change without the visible ones changing.
    const compare = this.#mode === 'window' || this.#bulked || this.#offset > 0;
    this.#bulked = false;
    if (old && compare) {
      // Windows are small, and bulk rebuilds cost O(n) anyway: compare, so an edit that
      // left every visible row in place keeps the array.
      const next = this.value;
      if (sameElements(old, next)) {
        this.#value = old;
        return false;
      }
    }
    return true;
  }

  #currentDoc(id: string): Doc | undefined {
    switch (this.#mode) {
      case 'map':
        return this.#map.get(id);
      case 'tree': {
        const d = this.#state!.docs.get(id);
        return d && this.#tree!.has(d) ? d : undefined;
      }
      case 'window': {
        const d = this.#state!.docs.get(id);
        if (!d) return undefined;
        return this.#rows[lowerBound(this.#rows, d, this.#cmp)] === d ? d : undefined;
      }
      default:
        return undefined;
    }
  }

  #docsInResult(): readonly Doc[] {
    switch (this.#mode) {
      case 'map':
        return Array.from(this.#map.values());
      case 'tree': {
        const all = this.#tree!.keysArray();
        return this.#offset ? all.slice(this.#offset) : all;
      }
      case 'window':
        if (this.#offset === 0) {
          this.#rowsShared = true;
          return this.#rows;
        }
        return this.#rows.slice(this.#offset);
      default:
        return [];
    }
  }

  get value(): readonly Doc[] {
    if (this.#value) return this.#value;
    const docs = this.#docsInResult();
    const inc = this.#includes;
    this.#value = inc ? docs.map((d) => inc.row(d)) : docs;
    return this.#value;
  }
}
