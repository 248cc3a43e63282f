/**
 * Live aggregates and distinct. Each group keeps running counts and sums, and for min/max
 * a B+ tree of its documents ordered by the column's field, so every change is O(log n)
 * and a group's row object is rebuilt only when one of its values changed. Rows are
 * ordered by the group values; without groupBy there is exactly one row, even when no
 * document matches (count 0, other columns null).
 *
 * Sums are kept by adding and subtracting: exact for integers (up to 2^53); for fractions
 * the running sum can drift from a fresh one by rounding.
 */
import type { AggregateFn, AggregateRow, QueryAst } from './ast.js';
import { createTree, type Tree } from './btree.js';
import type { Change } from './collection-state.js';
import {
  compileComparator,
  compilePredicate,
  type Doc,
  type DocComparator,
  type DocPredicate,
  predicateFields,
} from './compile.js';
import { baseRoute } from './list-view.js';
import { canonicalJson, compareValues, type FieldGetter, fieldGetter, valueKey } from './values.js';
import { sameElements, ScanPlanner, View, type ViewContext } from './view.js';

interface Column {
  readonly name: string;
  readonly fn: AggregateFn;
  readonly get: FieldGetter | undefined;
  readonly cmp: DocComparator | undefined;
}

interface Acc {
  count: number;
  sum: number;
  tree: Tree<Doc, undefined> | undefined;
}

interface Group {
  readonly key: unknown;
  readonly values: readonly unknown[];
  n: number;
  readonly accs: Acc[];
  row: AggregateRow | undefined;
  dirty: boolean;
  placed: boolean;
}

const compareGroups = (a: Group, b: Group): number => {
  for (let i = 0; i < a.values.length; i++) {
    const c = compareValues(a.values[i], b.values[i]);
    if (c !== 0) return c;
  }
  return 0;
};

/** The first segment of a field path (`meta.n` → `meta`, `tags[t1]` → `tags`). */
export function topField(path: string): string {
  let end = path.length;
  const dot = path.indexOf('.');
  if (dot >= 0) end = dot;
  const br = path.indexOf('[');
  if (br >= 0 && br < end) end = br;
  return end === path.length ? path : path.slice(0, end);
}

/** Groups and aggregate columns over a stream of added/removed documents. */
export class Aggregator {
  readonly #fields: readonly string[];
  readonly #getters: readonly FieldGetter[];
  readonly #columns: readonly Column[];
  readonly #groups = new Map<unknown, Group>();
  #sorted: Group[] = [];
  #value: readonly AggregateRow[] | undefined;
  #changed = false;
  /** Rows before a reset, by group key: rebuilt groups with equal values keep their row. */
  #previous: Map<unknown, AggregateRow> | undefined;
  #wasReset = false;

  constructor(ast: QueryAst) {
    this.#fields = ast.distinct ?? ast.groupBy ?? [];
    this.#getters = this.#fields.map(fieldGetter);
    const agg = ast.aggregate ?? {};
    this.#columns = Object.keys(agg).map((name) => {
      const s = agg[name]!;
      return {
        name,
        fn: s.fn,
        get: s.field === undefined ? undefined : fieldGetter(s.field),
        cmp:
          s.fn === 'min' || s.fn === 'max' ? compileComparator([{ field: s.field!, dir: 'asc' }]) : undefined,
      };
    });
    if (this.#fields.length === 0) {
      this.#group(doclessKey, []);
      this.#changed = true;
    }
  }

  #group(key: unknown, values: readonly unknown[]): Group {
    let g = this.#groups.get(key);
    if (!g) {
      g = {
        key,
        values,
        n: 0,
        accs: this.#columns.map((c) => ({
          count: 0,
          sum: 0,
          tree: c.cmp ? createTree<Doc>(c.cmp) : undefined,
        })),
        row: this.#previous?.get(key),
        dirty: true,
        placed: false,
      };
      this.#groups.set(key, g);
    }
    return g;
  }

  #valuesOf(doc: Doc): unknown[] {
    return this.#getters.map((get) => {
      const v = get(doc);
      return v === undefined ? null : v;
    });
  }

  /** Add (sign 1) or remove (sign -1) a matching document. */
  add(doc: Doc, sign: 1 | -1): void {
    const gs = this.#getters;
    // One group field (the common case) keys by the value itself: no allocation per document.
    const key =
      gs.length === 0
        ? doclessKey
        : gs.length === 1
          ? valueKey(gs[0]!(doc))
          : canonicalJson(this.#valuesOf(doc));
    let g = this.#groups.get(key);
    if (!g) {
      if (sign < 0) return;
      g = this.#group(key, this.#valuesOf(doc));
    }
    g.n += sign;
    g.dirty = true;
    this.#changed = true;
    const cols = this.#columns;
    for (let i = 0; i < cols.length; i++) {
      const c = cols[i]!;
      if (!c.get) continue;
      const acc = g.accs[i]!;
      const v = c.get(doc);
      if (c.fn === 'sum' || c.fn === 'avg') {
        if (typeof v === 'number') {
          acc.count += sign;
          acc.sum = acc.count === 0 ? 0 : acc.sum + sign * v;
        }
      } else if (v !== undefined && v !== null) {
        if (c.fn === 'count') acc.count += sign;
        else if (sign > 0) acc.tree!.set(doc, undefined, true);
        else acc.tree!.delete(doc);
      }
    }
  }

  #row(g: Group): AggregateRow {
    const out: Record<string, unknown> = {};
    for (let i = 0; i < this.#fields.length; i++) out[this.#fields[i]!] = g.values[i];
    const cols = this.#columns;
    for (let i = 0; i < cols.length; i++) {
      const c = cols[i]!;
      const acc = g.accs[i]!;
      let v: unknown;
      switch (c.fn) {
        case 'count':
          v = c.get ? acc.count : g.n;
          break;
        case 'sum':
          v = acc.count ? acc.sum : null;
          break;
        case 'avg':
          v = acc.count ? acc.sum / acc.count : null;
          break;
        case 'min':
        case 'max': {
          const t = acc.tree!;
          const d = t.size ? (c.fn === 'min' ? t.minKey() : t.maxKey()) : undefined;
          v = d ? c.get!(d) : null;
          break;
        }
      }
      out[c.name] = v;
    }
    const old = g.row;
    if (old) {
      let same = true;
      for (const k in out) if (out[k] !== old[k]) same = false;
      if (same) return old;
    }
    return out;
  }

  /** Settle dirty groups; true when the value changed. */
  flush(): boolean {
    if (!this.#changed) return false;
    this.#changed = false;
    let changed = this.#wasReset;
    this.#wasReset = false;
    const keepEmpty = this.#fields.length === 0;
    for (const g of this.#groups.values()) {
      if (!g.dirty) continue;
      g.dirty = false;
      if (g.n === 0 && !keepEmpty) {
        this.#groups.delete(g.key);
        if (g.placed) {
          const i = this.#sorted.indexOf(g);
          if (i >= 0) this.#sorted.splice(i, 1);
        }
        changed = true;
        continue;
      }
      const row = this.#row(g);
      if (row !== g.row) {
        g.row = row;
        changed = true;
      }
      if (!g.placed) {
        g.placed = true;
        let lo = 0;
        let hi = this.#sorted.length;
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (compareGroups(this.#sorted[mid]!, g) < 0) lo = mid + 1;
          else hi = mid;
        }
        this.#sorted.splice(lo, 0, g);
        changed = true;
      }
    }
    this.#previous = undefined;
    if (!changed) return false;
    const old = this.#value;
    this.#value = undefined;
    if (old && sameElements(old, this.value)) {
      this.#value = old;
      return false;
    }
    return true;
  }

  /** Drop every group (their rows are reused where the rebuilt values are equal). */
  reset(): void {
    this.#previous = new Map([...this.#groups].map(([k, g]) => [k, g.row!]));
    this.#groups.clear();
    this.#sorted = [];
    // Keep #value: flush compares the rebuilt rows with it.
    this.#changed = true;
    this.#wasReset = true;
    if (this.#fields.length === 0) this.#group(doclessKey, []);
  }

  /** The rows, ordered by group values. */
  get value(): readonly AggregateRow[] {
    return (this.#value ??= this.#sorted.map((g) => g.row!));
  }
}

const doclessKey = '';

/** The live state of an aggregate or distinct query. */
export class AggregateView extends View {
  readonly #pred: DocPredicate;
  readonly #agg: Aggregator;
  readonly #inputs: ReadonlySet<string>;

  constructor(ctx: ViewContext, ast: QueryAst) {
    super(ctx, ast);
    this.#pred = compilePredicate(ast.where);
    this.#agg = new Aggregator(ast);
    const inputs = new Set<string>();
    for (const f of predicateFields(ast.where)) inputs.add(topField(f));
    for (const f of ast.distinct ?? ast.groupBy ?? []) inputs.add(topField(f));
    for (const c of Object.values(ast.aggregate ?? {})) if (c.field) inputs.add(topField(c.field));
    this.#inputs = inputs;
  }

  #planner: ScanPlanner | undefined;

  activate(): void {
    const st = this.ctx.state(this.ast.collection);
    // Changes must carry their "before" state from now on.
    st.want();
    this.#planner = new ScanPlanner(st, this.ast.where);
    this.#fill();
    this.#agg.flush();
    this.listen(baseRoute(this.ast), new Set());
  }

  #fill(): void {
    this.#agg.reset();
    const pred = this.#pred;
    for (const d of this.#planner!.candidates()) if (pred(d)) this.#agg.add(d, 1);
  }

  protected releaseResources(): void {
    this.#planner?.release();
  }

  onChange(_collection: string, ch: Change): void {
    const b = ch.before;
    const a = ch.after;
    if (b && a && ch.fields && ch.fields.length && !ch.fields.some((f) => this.#inputs.has(topField(f))))
      return;
    if (b && this.#pred(b)) this.#agg.add(b, -1);
    if (a && this.#pred(a)) this.#agg.add(a, 1);
  }

  onBulk(): void {
    this.#fill();
  }

  flush(): boolean {
    return this.#agg.flush();
  }

  get value(): readonly AggregateRow[] {
    return this.#agg.value;
  }
}
