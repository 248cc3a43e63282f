/**
 * One-shot evaluation: the result of a query now, without keeping any incremental state.
 * It uses the indexes active queries already built (a hash bucket for a required
 * equality, a sorted index for an ordered window) and otherwise scans the source once;
 * it never builds a lasting index for a single read.
 */
import { Aggregator } from './aggregate-view.js';
import { type AggregateRow, queryShape, type QueryAst } from './ast.js';
import type { CollectionState } from './collection-state.js';
import { compileComparator, compilePredicate, type Doc, requiredEqualities } from './compile.js';
import { compileIncludes, decorate, type IncludeReader } from './include.js';
import { HashIndex } from './indexes.js';
import { listPredicate } from './list-view.js';
import type { QuerySource } from './view.js';

/** What one-shot evaluation reads. */
export interface EvalContext {
  readonly source: QuerySource;
  /** The engine's state for a collection, if an active query made one. */
  peekState(collection: string): CollectionState | undefined;
}

function reader(ctx: EvalContext): IncludeReader {
  const temp = new Map<string, HashIndex>();
  return {
    get: (c, id) => ctx.source.get(c, id),
    referencing(c, field, id) {
      const st = ctx.peekState(c);
      const ix = st?.peekHash(field);
      if (ix) return ix.lookup(id) ?? [];
      // No live index: build a throwaway one, once per relation for this evaluation.
      const key = `${c}\u0000${field}`;
      let t = temp.get(key);
      if (!t) temp.set(key, (t = new HashIndex(field, ctx.source.documents(c))));
      return t.lookup(id) ?? [];
    },
  };
}

function candidates(ctx: EvalContext, ast: QueryAst): Iterable<Doc> {
  const st = ctx.peekState(ast.collection);
  if (st?.loaded) {
    let best: ReadonlySet<Doc> | undefined;
    for (const [field, value] of requiredEqualities(ast.where)) {
      const ix = st.peekHash(field);
      if (!ix) continue;
      const bucket = ix.lookup(value) ?? new Set<Doc>();
      if (!best || bucket.size < best.size) best = bucket;
    }
    if (best) return best;
  }
  return ctx.source.documents(ast.collection);
}

/** A window from an existing sorted index, or undefined when there is none. */
function windowFromIndex(ctx: EvalContext, ast: QueryAst, k: number): Doc[] | undefined {
  const st = ctx.peekState(ast.collection);
  if (!st?.loaded || ast.after) return undefined;
  const eqs = requiredEqualities(ast.where);
  const ix = st.peekSorted(
    (ast.orderBy ?? []).filter((t) => !eqs.has(t.field)),
    eqs,
  );
  if (!ix) return undefined;
  const pred = compilePredicate(ast.where);
  const out: Doc[] = [];
  if (k === 0) return out;
  for (const d of ix.keysFrom(undefined)) {
    if (!pred(d)) continue;
    out.push(d);
    if (out.length >= k) break;
  }
  return out;
}

function shallowEqual(a: AggregateRow, b: AggregateRow): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** Reuse earlier aggregate rows equal to the new ones (rows are few: one per group). */
function reuseRows(
  rows: readonly AggregateRow[],
  previous: readonly AggregateRow[],
): readonly AggregateRow[] {
  const out = rows.map((r, i) => {
    const p = previous[i];
    return p && shallowEqual(p, r) ? p : r;
  });
  return out;
}

/**
 * Evaluate a (validated) query once. With `previous` (an earlier result of the same query),
 * derived rows whose parts did not change are reused, so identity still says "unchanged".
 */
export function evaluateOnce(ctx: EvalContext, ast: QueryAst, previous?: unknown): unknown {
  const nodes = compileIncludes(ast.include);
  const r = nodes.length ? reader(ctx) : undefined;
  let prev: Map<unknown, Doc> | undefined;
  if (r && previous) {
    prev = new Map();
    for (const row of Array.isArray(previous) ? (previous as Doc[]) : [previous as Doc])
      prev.set(row.id, row);
  }
  const dress = (d: Doc) => (r ? decorate(nodes, d, prev?.get(d.id), r, undefined) : d);
  switch (queryShape(ast)) {
    case 'get': {
      const d = ctx.source.get(ast.collection, ast.get!);
      return d && compilePredicate(ast.where)(d) ? dress(d) : undefined;
    }
    case 'aggregate': {
      const agg = new Aggregator(ast);
      const pred = compilePredicate(ast.where);
      for (const d of candidates(ctx, ast)) if (pred(d)) agg.add(d, 1);
      agg.flush();
      return Array.isArray(previous) ? reuseRows(agg.value, previous as AggregateRow[]) : agg.value;
    }
    case 'list': {
      const offset = ast.offset ?? 0;
      const ordered =
        ast.orderBy !== undefined ||
        ast.offset !== undefined ||
        ast.after !== undefined ||
        ast.limit !== undefined;
      let rows: Doc[] | undefined =
        ast.limit !== undefined ? windowFromIndex(ctx, ast, offset + ast.limit) : undefined;
      if (!rows) {
        const cmp = compileComparator(ast.orderBy ?? []);
        const pred = listPredicate(ast, cmp);
        rows = [];
        for (const d of candidates(ctx, ast)) if (pred(d)) rows.push(d);
        if (ordered) rows.sort(cmp);
      }
      if (offset || ast.limit !== undefined)
        rows = rows.slice(offset, ast.limit === undefined ? undefined : offset + ast.limit);
      return r ? rows.map(dress) : rows;
    }
  }
}
