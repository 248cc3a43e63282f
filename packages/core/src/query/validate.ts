/**
 * The query validator: turns `unknown` (a builder's output, a protocol message, JSON from
 * disk) into a normalised {@link QueryAst}, or throws a {@link QueryError} that names the
 * problem and its path (`query.where.args[1].value`).
 *
 * Normalisation makes equal queries equal ASTs (hence equal hashes): nested and/or are
 * flattened, their arguments sorted and deduplicated, single-argument and/or collapse,
 * `not(not(p))` becomes `p`, in/nin value lists are sorted and deduplicated, `offset: 0`
 * is dropped. Keys are emitted in a fixed order; unknown keys are refused.
 */
import { isValidCollectionName, isValidFieldKey, isValidId, NAME_MAX_LENGTH } from '../cells.js';
import { QueryError } from '../errors.js';
import {
  AGGREGATE_FNS,
  type AggregateSpec,
  type Cursor,
  type IncludeSpec,
  type OrderTerm,
  type Predicate,
  PREDICATE_OPS,
  QUERY_KEYS,
  type QueryAst,
  type Scalar,
} from './ast.js';
import { canonicalJson, compareValues, isScalar } from './values.js';

const QUERY_KEY_LIST: readonly string[] = [...QUERY_KEYS];

/** Limits that keep one query from exhausting the engine. */
export const QUERY_MAX_DEPTH = 32;
/** Most values an `in`/`nin` list may hold. */
export const QUERY_MAX_IN_VALUES = 10_000;
/** Most arguments an and/or may hold. */
export const QUERY_MAX_ARGS = 1_000;
/** Largest limit or offset. */
export const QUERY_MAX_LIMIT = 1e9;

type Obj = Record<string, unknown>;

const fail = (path: string, what: string): never => {
  throw new QueryError(`Invalid query: ${path} ${what}`, { details: { path } });
};

const describe = (v: unknown): string =>
  v === null
    ? 'null'
    : Array.isArray(v)
      ? 'an array'
      : typeof v === 'object'
        ? 'an object'
        : `${typeof v} ${JSON.stringify(v)}`;

function asObject(v: unknown, path: string, what: string): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    fail(path, `must be ${what}, got ${describe(v)}.`);
  return v as Obj;
}

function onlyKeys(o: Obj, path: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o)) {
    if (!allowed.includes(k))
      fail(`${path}.${k}`, `is not a known key here; allowed: ${allowed.join(', ')}.`);
  }
}

/** `__proto__` is refused as a field or name: result rows and probes are built by assignment. */
const isSafeKey = (k: string) => isValidFieldKey(k) && k !== '__proto__';

/** Is `path` a field path queries may use (dot-joined field keys)? */
export function isQueryFieldPath(path: unknown): path is string {
  return (
    typeof path === 'string' &&
    path.length > 0 &&
    path.length <= 4 * NAME_MAX_LENGTH &&
    path.split('.').every(isSafeKey)
  );
}

function field(v: unknown, path: string): string {
  if (!isQueryFieldPath(v))
    fail(path, `must be a field path such as "title" or "meta.count" (no '[' or ']'), got ${describe(v)}.`);
  return v as string;
}

function scalar(v: unknown, path: string): Scalar {
  if (!isScalar(v)) fail(path, `must be a string, a finite number, a boolean or null, got ${describe(v)}.`);
  return v as Scalar;
}

function count(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > QUERY_MAX_LIMIT)
    fail(path, `must be a whole number from 0 to ${QUERY_MAX_LIMIT}, got ${describe(v)}.`);
  return v as number;
}

function collection(v: unknown, path: string): string {
  if (!isValidCollectionName(v))
    fail(
      path,
      `must be a collection name (letters, digits, _ or -, starting with a letter or _), got ${describe(v)}.`,
    );
  return v as string;
}

/** Validate and normalise a predicate. */
export function validatePredicate(input: unknown, path = 'where', depth = 0): Predicate {
  if (depth > QUERY_MAX_DEPTH) fail(path, `is nested deeper than ${QUERY_MAX_DEPTH} levels.`);
  const o = asObject(input, path, 'a predicate object such as {"op":"eq","field":"done","value":false}');
  const op = o.op;
  if (typeof op !== 'string' || !(PREDICATE_OPS as readonly string[]).includes(op))
    fail(`${path}.op`, `must be one of ${PREDICATE_OPS.join(', ')}, got ${describe(op)}.`);
  switch (op) {
    case 'and':
    case 'or': {
      onlyKeys(o, path, ['op', 'args']);
      if (!Array.isArray(o.args))
        fail(`${path}.args`, `must be an array of predicates, got ${describe(o.args)}.`);
      const args = o.args as unknown[];
      if (args.length > QUERY_MAX_ARGS)
        fail(`${path}.args`, `has ${args.length} predicates; at most ${QUERY_MAX_ARGS} are allowed.`);
      const flat: Predicate[] = [];
      args.forEach((a, i) => {
        const p = validatePredicate(a, `${path}.args[${i}]`, depth + 1);
        if (p.op === op) flat.push(...(p as { args: readonly Predicate[] }).args);
        else flat.push(p);
      });
      const byKey = new Map<string, Predicate>();
      for (const p of flat) byKey.set(canonicalJson(p), p);
      const sorted = [...byKey.keys()].sort().map((k) => byKey.get(k)!);
      if (sorted.length === 1) return sorted[0]!;
      return { op, args: sorted };
    }
    case 'not': {
      onlyKeys(o, path, ['op', 'arg']);
      const arg = validatePredicate(o.arg, `${path}.arg`, depth + 1);
      return arg.op === 'not' ? arg.arg : { op: 'not', arg };
    }
    case 'in':
    case 'nin': {
      onlyKeys(o, path, ['op', 'field', 'values']);
      const f = field(o.field, `${path}.field`);
      if (!Array.isArray(o.values))
        fail(`${path}.values`, `must be an array of values, got ${describe(o.values)}.`);
      const vs = o.values as unknown[];
      if (vs.length > QUERY_MAX_IN_VALUES)
        fail(`${path}.values`, `has ${vs.length} values; at most ${QUERY_MAX_IN_VALUES} are allowed.`);
      const values = [...new Set(vs.map((v, i) => scalar(v, `${path}.values[${i}]`)))].sort(compareValues);
      return { op, field: f, values };
    }
    case 'like':
    case 'ilike': {
      onlyKeys(o, path, ['op', 'field', 'pattern']);
      const f = field(o.field, `${path}.field`);
      if (typeof o.pattern !== 'string')
        fail(
          `${path}.pattern`,
          `must be a string pattern (% any run, _ one character), got ${describe(o.pattern)}.`,
        );
      return { op, field: f, pattern: o.pattern as string };
    }
    case 'exists': {
      onlyKeys(o, path, ['op', 'field']);
      return { op, field: field(o.field, `${path}.field`) };
    }
    default: {
      // eq ne gt gte lt lte contains
      onlyKeys(o, path, ['op', 'field', 'value']);
      const f = field(o.field, `${path}.field`);
      if (!('value' in o)) fail(`${path}.value`, 'is missing.');
      const value = scalar(o.value, `${path}.value`);
      if (value === null && op !== 'eq' && op !== 'ne' && op !== 'contains')
        fail(
          `${path}.value`,
          `cannot be null for ${op} (nothing is ordered against null); use eq/ne null or exists.`,
        );
      return { op: op as 'eq', field: f, value };
    }
  }
}

function validateOrderBy(v: unknown, path: string): OrderTerm[] {
  if (!Array.isArray(v)) fail(path, `must be an array of {field, dir}, got ${describe(v)}.`);
  const terms: OrderTerm[] = [];
  const seen = new Set<string>();
  (v as unknown[]).forEach((t, i) => {
    const o = asObject(t, `${path}[${i}]`, 'an order term {field, dir}');
    onlyKeys(o, `${path}[${i}]`, ['field', 'dir']);
    const f = field(o.field, `${path}[${i}].field`);
    if (o.dir !== 'asc' && o.dir !== 'desc')
      fail(`${path}[${i}].dir`, `must be "asc" or "desc", got ${describe(o.dir)}.`);
    // A repeated key can never break a tie: drop it, so equal orders hash alike.
    if (seen.has(f)) return;
    seen.add(f);
    terms.push({ field: f, dir: o.dir as 'asc' | 'desc' });
  });
  return terms;
}

function validateFields(v: unknown, path: string): string[] {
  if (!Array.isArray(v) || v.length === 0)
    fail(path, `must be a non-empty array of field paths, got ${describe(v)}.`);
  const out = (v as unknown[]).map((f, i) => field(f, `${path}[${i}]`));
  if (new Set(out).size !== out.length) fail(path, 'names a field twice.');
  return out;
}

function validateInclude(v: unknown, path: string, depth: number): Record<string, IncludeSpec> {
  if (depth > QUERY_MAX_DEPTH) fail(path, `is nested deeper than ${QUERY_MAX_DEPTH} levels.`);
  const o = asObject(v, path, 'an object of relation name → {collection, on | references, …}');
  const out: Record<string, IncludeSpec> = {};
  for (const name of Object.keys(o).sort()) {
    const p = `${path}.${name}`;
    if (!isSafeKey(name)) fail(p, 'is not a valid relation name (no ".", "[", "]" or __proto__).');
    const s = asObject(o[name], p, 'a relation {collection, on} or {collection, references}');
    onlyKeys(s, p, ['collection', 'on', 'many', 'references', 'where', 'orderBy', 'limit', 'include']);
    const spec: { -readonly [K in keyof IncludeSpec]: IncludeSpec[K] } = {
      collection: collection(s.collection, `${p}.collection`),
    };
    if ((s.on === undefined) === (s.references === undefined))
      fail(
        p,
        'needs exactly one of "on" (this row holds the id: ref, or refMany with many: true) or "references" (the other rows hold this id).',
      );
    if (s.on !== undefined) spec.on = field(s.on, `${p}.on`);
    if (s.many !== undefined) {
      if (typeof s.many !== 'boolean') fail(`${p}.many`, `must be a boolean, got ${describe(s.many)}.`);
      if (s.on === undefined) fail(`${p}.many`, 'only applies to "on" relations (refMany).');
      if (s.many) spec.many = true;
    }
    if (s.references !== undefined) spec.references = field(s.references, `${p}.references`);
    const toMany = spec.many === true || spec.references !== undefined;
    if (s.where !== undefined) spec.where = validatePredicate(s.where, `${p}.where`, depth + 1);
    if (s.orderBy !== undefined) {
      if (!toMany) fail(`${p}.orderBy`, 'only applies to to-many relations (many: true, or references).');
      const ob = validateOrderBy(s.orderBy, `${p}.orderBy`);
      if (ob.length) spec.orderBy = ob;
    }
    if (s.limit !== undefined) {
      if (!toMany) fail(`${p}.limit`, 'only applies to to-many relations (many: true, or references).');
      spec.limit = count(s.limit, `${p}.limit`);
    }
    if (s.include !== undefined) {
      const inc = validateInclude(s.include, `${p}.include`, depth + 1);
      if (Object.keys(inc).length) spec.include = inc;
    }
    out[name] = spec;
  }
  return out;
}

function validateAggregate(v: unknown, path: string): Record<string, AggregateSpec> {
  const o = asObject(v, path, 'an object of column name → {fn, field?}');
  const out: Record<string, AggregateSpec> = {};
  const names = Object.keys(o).sort();
  if (names.length === 0) fail(path, 'names no column; add one such as {"n": {"fn": "count"}}.');
  for (const name of names) {
    const p = `${path}.${name}`;
    if (!isSafeKey(name)) fail(p, 'is not a valid column name (no ".", "[", "]" or __proto__).');
    const s = asObject(o[name], p, 'an aggregate {fn, field?}');
    onlyKeys(s, p, ['fn', 'field']);
    if (typeof s.fn !== 'string' || !(AGGREGATE_FNS as readonly string[]).includes(s.fn))
      fail(`${p}.fn`, `must be one of ${AGGREGATE_FNS.join(', ')}, got ${describe(s.fn)}.`);
    const fn = s.fn as AggregateSpec['fn'];
    if (s.field === undefined) {
      if (fn !== 'count') fail(`${p}.field`, `is required for ${fn}.`);
      out[name] = { fn };
    } else out[name] = { fn, field: field(s.field, `${p}.field`) };
  }
  return out;
}

function validateCursor(v: unknown, path: string, orderLen: number): Cursor {
  const o = asObject(v, path, 'a cursor {values, id?}');
  onlyKeys(o, path, ['values', 'id']);
  if (!Array.isArray(o.values))
    fail(`${path}.values`, `must be an array of the order-by values, got ${describe(o.values)}.`);
  const values = (o.values as unknown[]).map((x, i) => scalar(x, `${path}.values[${i}]`));
  if (values.length !== orderLen)
    fail(
      `${path}.values`,
      `has ${values.length} values but the query orders by ${orderLen} field(s); give one value per order-by field.`,
    );
  if (o.id === undefined) {
    if (orderLen === 0)
      fail(`${path}.id`, 'is required when the query has no orderBy (rows are then ordered by id).');
    return { values };
  }
  if (!isValidId(o.id)) fail(`${path}.id`, `must be a document id, got ${describe(o.id)}.`);
  return { values, id: o.id as string };
}

/**
 * Validate and normalise a query. Throws {@link QueryError} naming the first problem.
 * @example
 * validateQuery({ collection: 'todos', where: { op: 'eq', field: 'done', value: false } });
 */
export function validateQuery(input: unknown): QueryAst {
  const o = asObject(input, 'query', 'an object {collection, where?, orderBy?, …}');
  onlyKeys(o, 'query', QUERY_KEY_LIST);
  const ast: { -readonly [K in keyof QueryAst]: QueryAst[K] } = {
    collection: collection(o.collection, 'query.collection'),
  };
  const isGet = o.get !== undefined;
  const isAgg = o.aggregate !== undefined || o.groupBy !== undefined;
  const isDistinct = o.distinct !== undefined;
  if (isGet) {
    if (!isValidId(o.get))
      fail('query.get', `must be a document id (a non-empty string), got ${describe(o.get)}.`);
    ast.get = o.get as string;
  }
  if (o.where !== undefined) {
    const w = validatePredicate(o.where, 'query.where');
    if (!(w.op === 'and' && w.args.length === 0)) ast.where = w;
  }
  const clash = (key: string, shape: string) => {
    if (o[key] !== undefined) fail(`query.${key}`, `cannot be used with ${shape}.`);
  };
  if (isGet)
    for (const k of ['orderBy', 'limit', 'offset', 'after', 'groupBy', 'aggregate', 'distinct'])
      clash(k, 'get (a single document)');
  if (isAgg || isDistinct) {
    const shape = isDistinct ? 'distinct' : 'aggregate/groupBy';
    for (const k of ['orderBy', 'limit', 'offset', 'after', 'include'])
      clash(k, `${shape} (rows come ordered by the group values)`);
    if (isDistinct && isAgg)
      fail(
        'query.distinct',
        'cannot be combined with aggregate/groupBy; use groupBy with aggregate columns instead.',
      );
  }
  if (o.orderBy !== undefined) {
    const ob = validateOrderBy(o.orderBy, 'query.orderBy');
    if (ob.length) ast.orderBy = ob;
  }
  if (o.limit !== undefined) ast.limit = count(o.limit, 'query.limit');
  if (o.offset !== undefined) {
    const off = count(o.offset, 'query.offset');
    if (off > 0) ast.offset = off;
  }
  if (o.after !== undefined) ast.after = validateCursor(o.after, 'query.after', ast.orderBy?.length ?? 0);
  if (o.include !== undefined) {
    const inc = validateInclude(o.include, 'query.include', 0);
    if (Object.keys(inc).length) ast.include = inc;
  }
  if (o.groupBy !== undefined) ast.groupBy = validateFields(o.groupBy, 'query.groupBy');
  if (o.aggregate !== undefined) {
    const agg = validateAggregate(o.aggregate, 'query.aggregate');
    for (const name of Object.keys(agg))
      if (ast.groupBy?.includes(name))
        fail(`query.aggregate.${name}`, 'has the same name as a groupBy field; rename the column.');
    ast.aggregate = agg;
  }
  if (isDistinct) ast.distinct = validateFields(o.distinct, 'query.distinct');
  return ast;
}
