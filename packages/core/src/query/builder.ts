/**
 * The query builder (seed 000): immutable, chainable, producing a validated AST and its
 * stable hash.
 *
 *     q('todos').where({ completed: false }).orderBy({ created_at: 'desc' }).limit(10)
 *     q('todos').get(id)
 *     q('todos').where('priority', '>', 3)
 *     q('todos').where(op.or(op.eq('owner', me), op.gt('priority', 3)))
 *     q('posts').include({ author: { collection: 'users', on: 'authorId' },
 *                          comments: { collection: 'comments', references: 'postId' } })
 *     q('todos').groupBy('ownerId').aggregate({ n: 'count', total: ['sum', 'priority'] })
 *     q('todos').distinct('ownerId')
 *
 * Each call returns a new builder; invalid input throws {@link QueryError} at once.
 */
import { QueryError } from '../errors.js';
import {
  type AggregateFn,
  type AggregateRow,
  type AggregateSpec,
  type Cursor,
  type IncludeSpec,
  type OrderTerm,
  type Predicate,
  type QueryAst,
  type Row,
  type Scalar,
  type SortDirection,
  PREDICATE_OPS,
} from './ast.js';
import { queryHash } from './hash.js';
import { validatePredicate, validateQuery } from './validate.js';
import { readField } from './values.js';

/** Operator spellings accepted by `where(field, op, value)`. */
export type WhereOperator =
  | 'eq'
  | '='
  | '=='
  | '==='
  | 'ne'
  | '!='
  | '!=='
  | '<>'
  | 'gt'
  | '>'
  | 'gte'
  | '>='
  | 'lt'
  | '<'
  | 'lte'
  | '<='
  | 'in'
  | 'nin'
  | 'not in'
  | 'like'
  | 'ilike'
  | 'contains'
  | 'exists';

const OP_ALIASES: Record<string, string> = {
  '=': 'eq',
  '==': 'eq',
  '===': 'eq',
  '!=': 'ne',
  '!==': 'ne',
  '<>': 'ne',
  '>': 'gt',
  '>=': 'gte',
  '<': 'lt',
  '<=': 'lte',
  'not in': 'nin',
};

/** Builders for predicates: `op.and(op.eq('done', false), op.gt('priority', 3))`. */
export const op = {
  eq: (field: string, value: Scalar): Predicate => ({ op: 'eq', field, value }),
  ne: (field: string, value: Scalar): Predicate => ({ op: 'ne', field, value }),
  gt: (field: string, value: Scalar): Predicate => ({ op: 'gt', field, value }),
  gte: (field: string, value: Scalar): Predicate => ({ op: 'gte', field, value }),
  lt: (field: string, value: Scalar): Predicate => ({ op: 'lt', field, value }),
  lte: (field: string, value: Scalar): Predicate => ({ op: 'lte', field, value }),
  in: (field: string, values: readonly Scalar[]): Predicate => ({ op: 'in', field, values }),
  nin: (field: string, values: readonly Scalar[]): Predicate => ({ op: 'nin', field, values }),
  like: (field: string, pattern: string): Predicate => ({ op: 'like', field, pattern }),
  ilike: (field: string, pattern: string): Predicate => ({ op: 'ilike', field, pattern }),
  contains: (field: string, value: Scalar): Predicate => ({ op: 'contains', field, value }),
  exists: (field: string): Predicate => ({ op: 'exists', field }),
  and: (...args: Predicate[]): Predicate => ({ op: 'and', args }),
  or: (...args: Predicate[]): Predicate => ({ op: 'or', args }),
  not: (arg: Predicate): Predicate => ({ op: 'not', arg }),
} as const;

/** One condition in operator form: `{ priority: { gt: 3 } }`. */
export type FieldCondition = Partial<Record<'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte' | 'contains', Scalar>> &
  Partial<Record<'in' | 'nin', readonly Scalar[]>> &
  Partial<Record<'like' | 'ilike', string>> & { exists?: boolean };

/** The object form of `where`: equality by default, or an operator object per field. */
export type WhereObject = Readonly<Record<string, Scalar | FieldCondition>>;

/** Aggregate columns in shorthand: `'count'`, `['sum', 'priority']`, or `{ fn, field }`. */
export type AggregateInput = AggregateFn | readonly [AggregateFn, string] | AggregateSpec;

function fieldOp(field: string, operator: string, value: unknown): Predicate {
  const name = OP_ALIASES[operator] ?? operator;
  switch (name) {
    case 'exists':
      return value === false ? op.not(op.exists(field)) : op.exists(field);
    case 'in':
    case 'nin':
      if (!Array.isArray(value))
        throw new QueryError(`where("${field}", "${operator}", …) needs an array of values.`);
      return { op: name, field, values: value as Scalar[] };
    case 'like':
    case 'ilike':
      return { op: name, field, pattern: value as string };
    case 'eq':
    case 'ne':
    case 'gt':
    case 'gte':
    case 'lt':
    case 'lte':
    case 'contains':
      return { op: name, field, value: value as Scalar };
    default:
      throw new QueryError(
        `where("${field}", ${JSON.stringify(operator)}, …): unknown operator; use one of =, !=, >, >=, <, <=, in, nin, like, ilike, contains, exists.`,
      );
  }
}

function whereObject(obj: WhereObject): Predicate[] {
  const out: Predicate[] = [];
  for (const [field, cond] of Object.entries(obj)) {
    if (cond !== null && typeof cond === 'object' && !Array.isArray(cond)) {
      const ops = Object.entries(cond);
      if (ops.length === 0)
        throw new QueryError(`where({ ${field}: {} }): give at least one operator, e.g. { gt: 3 }.`);
      for (const [o, v] of ops) out.push(fieldOp(field, o, v));
    } else out.push(op.eq(field, cond as Scalar));
  }
  return out;
}

const PREDICATE_KEYS = new Set(['op', 'field', 'value', 'values', 'pattern', 'args', 'arg']);

// A document field may be called "op": only an object whose op is an operator and whose
// keys are all predicate keys is taken as a predicate.
function isPredicateLike(a: unknown): a is Predicate {
  if (a === null || typeof a !== 'object') return false;
  const o = a as Record<string, unknown>;
  return (
    typeof o.op === 'string' &&
    (PREDICATE_OPS as readonly string[]).includes(o.op) &&
    Object.keys(o).every((k) => PREDICATE_KEYS.has(k))
  );
}

type MutableAst = { -readonly [K in keyof QueryAst]: QueryAst[K] };

/**
 * An immutable query: chain methods to refine it; `ast` and `hash` identify it.
 * `T` is the type of the live result's `value`.
 */
export class Query<T = readonly Row[], TRow extends Row = Row> {
  /** The validated, normalised AST. */
  readonly ast: QueryAst;
  #hash: string | undefined;

  /** Prefer {@link q}. `ast` is validated. */
  constructor(ast: unknown) {
    this.ast = validateQuery(ast);
  }

  /** The stable hash (seed form `todos:{"completed":false}` for equality filters). */
  get hash(): string {
    return (this.#hash ??= queryHash(this.ast));
  }

  /** The AST, for JSON.stringify. */
  toJSON(): QueryAst {
    return this.ast;
  }

  #with<U = T>(patch: Partial<MutableAst>): Query<U, TRow> {
    return new Query<U, TRow>({ ...this.ast, ...patch });
  }

  /**
   * Add a filter (ANDed with any earlier one): an equality object `{ completed: false }`
   * (or operator objects `{ priority: { gt: 3 } }`), a predicate from {@link op}, or
   * `where(field, operator, value)`.
   */
  where(filter: WhereObject | Predicate): Query<T, TRow>;
  where(field: string, operator: WhereOperator, value?: unknown): Query<T, TRow>;
  where(a: WhereObject | Predicate | string, operator?: WhereOperator, value?: unknown): Query<T, TRow> {
    let added: Predicate[];
    if (typeof a === 'string') {
      if (operator === undefined)
        throw new QueryError(`where("${a}") needs an operator and a value, e.g. where("${a}", "=", 1).`);
      added = [fieldOp(a, operator, value)];
    } else if (isPredicateLike(a)) {
      added = [validatePredicate(a, 'where')];
    } else if (a !== null && typeof a === 'object') {
      added = whereObject(a as WhereObject);
    } else
      throw new QueryError(
        'where() takes an object like { completed: false }, a predicate, or (field, operator, value).',
      );
    const args = this.ast.where ? [this.ast.where, ...added] : added;
    return this.#with({ where: args.length === 1 ? args[0]! : { op: 'and', args } });
  }

  /** Sort (appending to earlier keys): `orderBy({ created_at: 'desc' })` or `orderBy('title')`. */
  orderBy(spec: Readonly<Record<string, SortDirection>> | readonly OrderTerm[]): Query<T, TRow>;
  orderBy(field: string, dir?: SortDirection): Query<T, TRow>;
  orderBy(
    spec: Readonly<Record<string, SortDirection>> | readonly OrderTerm[] | string,
    dir: SortDirection = 'asc',
  ): Query<T, TRow> {
    const terms: OrderTerm[] =
      typeof spec === 'string'
        ? [{ field: spec, dir }]
        : Array.isArray(spec)
          ? (spec as OrderTerm[])
          : Object.entries(spec as Record<string, SortDirection>).map(([field, d]) => ({ field, dir: d }));
    return this.#with({ orderBy: [...(this.ast.orderBy ?? []), ...terms] });
  }

  /** At most `n` rows. */
  limit(n: number): Query<T, TRow> {
    return this.#with({ limit: n });
  }

  /** Skip the first `n` rows. */
  offset(n: number): Query<T, TRow> {
    return this.#with({ offset: n });
  }

  /**
   * Rows strictly after a cursor: a row of a previous page (its order-by values and id are
   * taken, so call this after `orderBy`) or a {@link Cursor}.
   */
  after(rowOrCursor: Row | Cursor): Query<T, TRow> {
    const c = rowOrCursor as Record<string, unknown>;
    if (Array.isArray(c.values)) return this.#with({ after: rowOrCursor as Cursor });
    const values = (this.ast.orderBy ?? []).map((t) => {
      const v = readField(c, t.field);
      return (v === undefined ? null : v) as Scalar;
    });
    return this.#with({ after: { values, id: c.id as string } });
  }

  /** Include related documents under the given names (merged with earlier includes). */
  include(relations: Readonly<Record<string, IncludeSpec>>): Query<T, TRow> {
    return this.#with({ include: { ...this.ast.include, ...relations } });
  }

  /** One document by id (value: the row or undefined). */
  get(id: string): Query<TRow | undefined, TRow> {
    return this.#with<TRow | undefined>({ get: id });
  }

  /** Group rows by fields; add columns with {@link aggregate}. */
  groupBy(...fields: string[]): Query<readonly AggregateRow[], TRow> {
    return this.#with<readonly AggregateRow[]>({ groupBy: [...(this.ast.groupBy ?? []), ...fields] });
  }

  /** Aggregate columns: `{ n: 'count', total: ['sum', 'priority'], top: { fn: 'max', field: 'priority' } }`. */
  aggregate(columns: Readonly<Record<string, AggregateInput>>): Query<readonly AggregateRow[], TRow> {
    const out: Record<string, AggregateSpec> = { ...this.ast.aggregate };
    for (const [name, c] of Object.entries(columns)) {
      out[name] =
        typeof c === 'string'
          ? { fn: c }
          : Array.isArray(c)
            ? { fn: c[0], field: c[1] }
            : (c as AggregateSpec);
    }
    return this.#with<readonly AggregateRow[]>({ aggregate: out });
  }

  /** Shorthand for `aggregate({ count: 'count' })`. */
  count(): Query<readonly AggregateRow[], TRow> {
    return this.aggregate({ count: 'count' });
  }

  /** Distinct combinations of these fields, one row each. */
  distinct(...fields: string[]): Query<readonly AggregateRow[], TRow> {
    return this.#with<readonly AggregateRow[]>({ distinct: fields });
  }
}

/**
 * Start a query on a collection.
 * @example
 * const open = q('todos').where({ completed: false }).orderBy({ createdAt: 'desc' }).limit(50);
 * open.hash; // 'todos:{"limit":50,…}'
 */
export function q<TRow extends Row = Row>(collection: string): Query<readonly TRow[], TRow> {
  return new Query<readonly TRow[], TRow>({ collection });
}

/** Validate anything query-like (a {@link Query} or an AST) into a normalised AST. */
export function toQueryAst(query: unknown): QueryAst {
  if (query instanceof Query) return query.ast;
  // A Query from another copy of this module (two bundles): take its AST, validated.
  if (
    query !== null &&
    typeof query === 'object' &&
    'ast' in query &&
    typeof (query as { toJSON?: unknown }).toJSON === 'function'
  )
    return validateQuery((query as { ast: unknown }).ast);
  return validateQuery(query);
}
