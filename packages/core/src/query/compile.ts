/**
 * Compiles AST parts into closures the engine runs per document: predicates, order
 * comparators, cursor tests, and the facts the planner and router use (which fields a
 * predicate reads, which top-level equalities it requires).
 */
import type { Cursor, OrderTerm, Predicate, Scalar } from './ast.js';
import { compareValues, fieldGetter, HIGH_ID, likeMatcher } from './values.js';

/** A document as the engine sees it: a source's object with a string `id`. */
export type Doc = Readonly<Record<string, unknown>>;

/** A compiled predicate. */
export type DocPredicate = (doc: Doc) => boolean;

/** A comparator over documents: order terms, then id ascending. */
export type DocComparator = (a: Doc, b: Doc) => number;

const TRUE: DocPredicate = () => true;
const FALSE: DocPredicate = () => false;

/** Compile a predicate (undefined = match everything). */
export function compilePredicate(p: Predicate | undefined): DocPredicate {
  if (p === undefined) return TRUE;
  switch (p.op) {
    case 'and': {
      const fs = p.args.map(compilePredicate);
      if (fs.length === 0) return TRUE;
      if (fs.length === 2) {
        const [a, b] = fs as [DocPredicate, DocPredicate];
        return (d) => a(d) && b(d);
      }
      return (d) => {
        for (let i = 0; i < fs.length; i++) if (!fs[i]!(d)) return false;
        return true;
      };
    }
    case 'or': {
      const fs = p.args.map(compilePredicate);
      if (fs.length === 0) return FALSE;
      return (d) => {
        for (let i = 0; i < fs.length; i++) if (fs[i]!(d)) return true;
        return false;
      };
    }
    case 'not': {
      const f = compilePredicate(p.arg);
      return (d) => !f(d);
    }
    case 'eq': {
      const g = fieldGetter(p.field);
      const v = p.value;
      return v === null ? (d) => g(d) == null : (d) => g(d) === v;
    }
    case 'ne': {
      const g = fieldGetter(p.field);
      const v = p.value;
      return v === null ? (d) => g(d) != null : (d) => g(d) !== v;
    }
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const g = fieldGetter(p.field);
      const v = p.value as Exclude<Scalar, null>;
      const t = typeof v;
      const test =
        p.op === 'gt'
          ? (c: number) => c > 0
          : p.op === 'gte'
            ? (c: number) => c >= 0
            : p.op === 'lt'
              ? (c: number) => c < 0
              : (c: number) => c <= 0;
      if (t === 'number') {
        // The common case, without the generic comparison.
        const n = v as number;
        switch (p.op) {
          case 'gt':
            return (d) => {
              const x = g(d);
              return typeof x === 'number' && x > n;
            };
          case 'gte':
            return (d) => {
              const x = g(d);
              return typeof x === 'number' && x >= n;
            };
          case 'lt':
            return (d) => {
              const x = g(d);
              return typeof x === 'number' && x < n;
            };
          default:
            return (d) => {
              const x = g(d);
              return typeof x === 'number' && x <= n;
            };
        }
      }
      return (d) => {
        const x = g(d);
        return typeof x === t && test(compareValues(x, v));
      };
    }
    case 'in':
    case 'nin': {
      const g = fieldGetter(p.field);
      const set = new Set<unknown>(p.values);
      const hasNull = set.has(null);
      const isIn = (d: Doc) => {
        const x = g(d);
        return x === undefined ? hasNull : set.has(x);
      };
      return p.op === 'in' ? isIn : (d) => !isIn(d);
    }
    case 'like':
    case 'ilike': {
      const g = fieldGetter(p.field);
      const m = likeMatcher(p.pattern, p.op === 'ilike');
      return (d) => {
        const x = g(d);
        return typeof x === 'string' && m(x);
      };
    }
    case 'contains': {
      const g = fieldGetter(p.field);
      const v = p.value;
      return (d) => {
        const x = g(d);
        return Array.isArray(x) && (v === null ? x.some((e) => e == null) : x.includes(v));
      };
    }
    case 'exists': {
      const g = fieldGetter(p.field);
      return (d) => g(d) != null;
    }
  }
}

/** The fields a predicate reads. */
export function predicateFields(p: Predicate | undefined, out: Set<string> = new Set()): Set<string> {
  if (!p) return out;
  switch (p.op) {
    case 'and':
    case 'or':
      for (const a of p.args) predicateFields(a, out);
      break;
    case 'not':
      predicateFields(p.arg, out);
      break;
    default:
      out.add(p.field);
  }
  return out;
}

/** The top-level conjuncts of a predicate. */
export function conjuncts(p: Predicate | undefined): readonly Predicate[] {
  if (!p) return [];
  return p.op === 'and' ? p.args : [p];
}

/**
 * Top-level equalities a matching document must satisfy: field → value (non-null
 * scalars only, so the value is exactly what the document holds).
 */
export function requiredEqualities(p: Predicate | undefined): Map<string, Exclude<Scalar, null>> {
  const out = new Map<string, Exclude<Scalar, null>>();
  for (const c of conjuncts(p))
    if (c.op === 'eq' && c.value !== null && !out.has(c.field)) out.set(c.field, c.value);
  return out;
}

/** Top-level `in` lists a matching document must satisfy (non-null values only). */
export function requiredInLists(p: Predicate | undefined): Map<string, readonly Scalar[]> {
  const out = new Map<string, readonly Scalar[]>();
  for (const c of conjuncts(p))
    if (c.op === 'in' && !c.values.includes(null) && !out.has(c.field)) out.set(c.field, c.values);
  return out;
}

/** Compile order terms into a comparator; document id ascending breaks every tie. */
export function compileComparator(order: readonly OrderTerm[]): DocComparator {
  const n = order.length;
  const getters = order.map((t) => fieldGetter(t.field));
  const signs = order.map((t) => (t.dir === 'desc' ? -1 : 1));
  const byId = (a: Doc, b: Doc) => {
    const ia = a.id as string;
    const ib = b.id as string;
    return ia < ib ? -1 : ia > ib ? 1 : 0;
  };
  if (n === 0) return (a, b) => (a === b ? 0 : byId(a, b));
  if (n === 1) {
    const g = getters[0]!;
    const s = signs[0]!;
    return (a, b) => {
      if (a === b) return 0;
      const c = compareValues(g(a), g(b));
      return c !== 0 ? c * s : byId(a, b);
    };
  }
  return (a, b) => {
    if (a === b) return 0;
    for (let i = 0; i < n; i++) {
      const c = compareValues(getters[i]!(a), getters[i]!(b));
      if (c !== 0) return c * signs[i]!;
    }
    return byId(a, b);
  };
}

/**
 * Build a probe document holding `values` at `fields` (dotted paths nest) and `id`: index
 * navigation compares probes with documents through the ordinary comparator.
 */
export function makeProbe(fields: readonly string[], values: readonly unknown[], id: string): Doc {
  const probe: Record<string, unknown> = { id };
  fields.forEach((f, i) => {
    const keys = f.split('.');
    let o = probe;
    for (let k = 0; k < keys.length - 1; k++) {
      const key = keys[k]!;
      if (o[key] === null || typeof o[key] !== 'object') o[key] = {};
      o = o[key] as Record<string, unknown>;
    }
    o[keys[keys.length - 1]!] = values[i];
  });
  return probe;
}

/** A test "is this row strictly after the cursor" under an order. */
export function compileCursor(
  order: readonly OrderTerm[],
  cursor: Cursor | undefined,
  cmp: DocComparator,
): DocPredicate | undefined {
  if (!cursor) return undefined;
  // Without an id, every row with exactly the cursor's values is skipped: probe with an id above all.
  const probe = makeProbe(
    order.map((t) => t.field),
    cursor.values,
    cursor.id ?? HIGH_ID,
  );
  return (d) => cmp(d, probe) > 0;
}

/** The cursor as a probe document (for starting index scans). */
export function cursorProbe(order: readonly OrderTerm[], cursor: Cursor): Doc {
  return makeProbe(
    order.map((t) => t.field),
    cursor.values,
    cursor.id ?? HIGH_ID,
  );
}
