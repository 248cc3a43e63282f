/**
 * A naive query evaluator: the oracle live queries are checked against. Written apart
 * from the engine (no shared code beyond the AST types) and as plainly as possible: scan,
 * filter, sort, slice, look relations up by scanning, group with a Map.
 */
import type { IncludeSpec, OrderTerm, Predicate, QueryAst } from '../src/index.js';

type Doc = Readonly<Record<string, unknown>>;

/** What the oracle reads. */
export interface OracleSource {
  documents(collection: string): Iterable<Doc>;
  get(collection: string, id: string): Doc | undefined;
}

export function path(doc: Doc, p: string): unknown {
  let v: unknown = doc;
  for (const k of p.split('.')) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

const norm = (v: unknown) => (v === undefined ? null : v);

function typeRank(v: unknown): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === 'boolean') return 1;
  if (typeof v === 'number') return 2;
  if (typeof v === 'string') return 3;
  return 4;
}

function json(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(json).join(',')}]`;
  if (v !== null && typeof v === 'object')
    return `{${Object.keys(v)
      .sort()
      .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${json((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  return JSON.stringify(v) ?? 'null';
}

/** null < false < true < numbers < strings < arrays/objects (by canonical JSON). */
export function compare(a: unknown, b: unknown): number {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  switch (ra) {
    case 0:
      return 0;
    case 1:
      return a === b ? 0 : a ? 1 : -1;
    case 2:
      return (a as number) === (b as number) ? 0 : (a as number) < (b as number) ? -1 : 1;
    case 3:
      return a === b ? 0 : (a as string) < (b as string) ? -1 : 1;
    default: {
      const ja = json(a);
      const jb = json(b);
      return ja === jb ? 0 : ja < jb ? -1 : 1;
    }
  }
}

/** SQL LIKE by recursion: % any run, _ one code unit, \ escapes. */
export function like(s: string, pattern: string): boolean {
  const go = (i: number, j: number): boolean => {
    if (j === pattern.length) return i === s.length;
    const c = pattern[j]!;
    if (c === '%') {
      for (let k = i; k <= s.length; k++) if (go(k, j + 1)) return true;
      return false;
    }
    if (i === s.length) return false;
    if (c === '\\' && j + 1 < pattern.length) return s[i] === pattern[j + 1] && go(i + 1, j + 2);
    if (c === '_') return go(i + 1, j + 1);
    return s[i] === c && go(i + 1, j + 1);
  };
  return go(0, 0);
}

export function test(p: Predicate | undefined, doc: Doc): boolean {
  if (!p) return true;
  switch (p.op) {
    case 'and':
      return p.args.every((a) => test(a, doc));
    case 'or':
      return p.args.some((a) => test(a, doc));
    case 'not':
      return !test(p.arg, doc);
    case 'eq':
      return norm(path(doc, p.field)) === p.value;
    case 'ne':
      return norm(path(doc, p.field)) !== p.value;
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte': {
      const v = path(doc, p.field);
      if (typeof v !== typeof p.value || v === null) return false;
      const c = compare(v, p.value);
      return p.op === 'gt' ? c > 0 : p.op === 'gte' ? c >= 0 : p.op === 'lt' ? c < 0 : c <= 0;
    }
    case 'in':
      return p.values.includes(norm(path(doc, p.field)) as never);
    case 'nin':
      return !p.values.includes(norm(path(doc, p.field)) as never);
    case 'like':
    case 'ilike': {
      const v = path(doc, p.field);
      if (typeof v !== 'string') return false;
      return p.op === 'like' ? like(v, p.pattern) : like(v.toLowerCase(), p.pattern.toLowerCase());
    }
    case 'contains': {
      const v = path(doc, p.field);
      return Array.isArray(v) && v.some((x) => norm(x) === p.value);
    }
    case 'exists':
      return norm(path(doc, p.field)) !== null;
  }
}

function sortRows(rows: Doc[], order: readonly OrderTerm[]): Doc[] {
  return rows.sort((a, b) => {
    for (const t of order) {
      const c = compare(norm(path(a, t.field)), norm(path(b, t.field)));
      if (c !== 0) return t.dir === 'asc' ? c : -c;
    }
    return compare(a.id, b.id);
  });
}

function afterCursor(ast: QueryAst, doc: Doc): boolean {
  const cur = ast.after;
  if (!cur) return true;
  const order = ast.orderBy ?? [];
  for (let i = 0; i < order.length; i++) {
    const c = compare(norm(path(doc, order[i]!.field)), cur.values[i]);
    if (c !== 0) return order[i]!.dir === 'asc' ? c > 0 : c < 0;
  }
  return cur.id !== undefined && compare(doc.id, cur.id) > 0;
}

function includeValue(src: OracleSource, spec: IncludeSpec, doc: Doc): unknown {
  const dress = (d: Doc) => decorate(src, spec.include, d);
  if (spec.references === undefined && !spec.many) {
    const id = path(doc, spec.on!);
    const t = typeof id === 'string' ? src.get(spec.collection, id) : undefined;
    return t && test(spec.where, t) ? dress(t) : null;
  }
  let rows: Doc[] = [];
  if (spec.many) {
    const ids = path(doc, spec.on!);
    if (Array.isArray(ids))
      for (const id of ids) {
        const t = typeof id === 'string' ? src.get(spec.collection, id) : undefined;
        if (t && test(spec.where, t)) rows.push(t);
      }
    if (spec.orderBy) rows = sortRows(rows, spec.orderBy);
  } else {
    for (const d of src.documents(spec.collection)) {
      const v = path(d, spec.references!);
      if ((v === doc.id || (Array.isArray(v) && v.includes(doc.id))) && test(spec.where, d)) rows.push(d);
    }
    rows = sortRows(rows, spec.orderBy ?? []);
  }
  if (spec.limit !== undefined) rows = rows.slice(0, spec.limit);
  return rows.map(dress);
}

const baseDoc = new WeakMap<object, Doc>();

export function decorate(
  src: OracleSource,
  include: Readonly<Record<string, IncludeSpec>> | undefined,
  doc: Doc,
): Doc {
  if (!include || Object.keys(include).length === 0) return doc;
  const out: Record<string, unknown> = { ...doc };
  for (const [name, spec] of Object.entries(include)) out[name] = includeValue(src, spec, doc);
  baseDoc.set(out, doc);
  return out;
}

/** The result of a query, computed from scratch. Unordered lists come sorted by id. */
export function naive(src: OracleSource, ast: QueryAst): unknown {
  if (ast.get !== undefined) {
    const d = src.get(ast.collection, ast.get);
    return d && test(ast.where, d) ? decorate(src, ast.include, d) : undefined;
  }
  const docs = [...src.documents(ast.collection)].filter((d) => test(ast.where, d));
  const groupFields = ast.distinct ?? ast.groupBy;
  if (groupFields || ast.aggregate) {
    const fields = groupFields ?? [];
    const groups = new Map<string, { values: unknown[]; rows: Doc[] }>();
    if (fields.length === 0) groups.set('[]', { values: [], rows: [] });
    for (const d of docs) {
      const values = fields.map((f) => norm(path(d, f)));
      const k = json(values);
      if (!groups.has(k)) groups.set(k, { values, rows: [] });
      groups.get(k)!.rows.push(d);
    }
    const out = [...groups.values()].map(({ values, rows }) => {
      const row: Record<string, unknown> = {};
      fields.forEach((f, i) => (row[f] = values[i]));
      for (const [name, c] of Object.entries(ast.aggregate ?? {})) {
        const vals = c.field === undefined ? [] : rows.map((r) => norm(path(r, c.field!)));
        const nonNull = vals.filter((v) => v !== null);
        const nums = vals.filter((v): v is number => typeof v === 'number');
        switch (c.fn) {
          case 'count':
            row[name] = c.field === undefined ? rows.length : nonNull.length;
            break;
          case 'sum':
            row[name] = nums.length ? nums.reduce((a, b) => a + b, 0) : null;
            break;
          case 'avg':
            row[name] = nums.length ? nums.reduce((a, b) => a + b, 0) / nums.length : null;
            break;
          case 'min':
            row[name] = nonNull.length ? nonNull.reduce((a, b) => (compare(b, a) < 0 ? b : a)) : null;
            break;
          case 'max':
            row[name] = nonNull.length ? nonNull.reduce((a, b) => (compare(b, a) > 0 ? b : a)) : null;
            break;
        }
      }
      return { values, row };
    });
    out.sort((a, b) => {
      for (let i = 0; i < a.values.length; i++) {
        const c = compare(a.values[i], b.values[i]);
        if (c !== 0) return c;
      }
      return 0;
    });
    return out.map((g) => g.row);
  }
  let rows = sortRows(
    docs.filter((d) => afterCursor(ast, d)),
    ast.orderBy ?? [],
  );
  const offset = ast.offset ?? 0;
  rows = rows.slice(offset, ast.limit === undefined ? undefined : offset + ast.limit);
  return rows.map((d) => decorate(src, ast.include, d));
}

/** Does the live result of this query come in an unspecified order? */
export function isUnordered(ast: QueryAst): boolean {
  return (
    ast.get === undefined &&
    !ast.aggregate &&
    !ast.distinct &&
    !ast.groupBy &&
    !ast.orderBy &&
    ast.limit === undefined &&
    ast.offset === undefined &&
    !ast.after
  );
}

/**
 * Are two naive results built from the very same document objects (derived objects
 * compared by content, documents by identity)? Then the live value must be the same
 * object as before.
 */
export function sameRefs(a: unknown, b: unknown, docs: WeakSet<object>): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((x, i) => sameRefs(x, b[i], docs));
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  if (docs.has(a) || docs.has(b)) return false;
  // A row with includes is "the same" when built on the same document with the same parts.
  const ba = baseDoc.get(a);
  if (ba !== undefined && ba !== baseDoc.get(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return (
    ka.length === kb.length &&
    ka.every((k) => sameRefs((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], docs))
  );
}
