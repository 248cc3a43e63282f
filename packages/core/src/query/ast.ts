/**
 * The query AST: plain, serialisable JSON. It is what the builder produces, what the
 * protocol carries, what the validator checks and what the engine runs. Every query is
 * normalised by {@link validateQuery} so that equal queries have equal ASTs (and hashes).
 *
 * Value semantics (the same on client and server, and in the test oracle):
 * - a missing field reads as `null`; `eq(f, null)` matches missing and null fields;
 * - `gt/gte/lt/lte` only match values of the same type as the operand (numbers with
 *   numbers, strings with strings, booleans with booleans); null never matches a range;
 * - ordering is total: null < false < true < numbers < strings (UTF-16 code unit order)
 *   < arrays/objects (by canonical JSON); ties are broken by document id, ascending;
 * - `not` is plain boolean negation (two-valued logic, not SQL's three-valued one).
 */

/** A value a predicate compares with. */
export type Scalar = string | number | boolean | null;

/** Comparison operators on one field and one scalar. */
export type ComparisonOp = 'eq' | 'ne' | 'gt' | 'gte' | 'lt' | 'lte';

/** A filter over documents. */
export type Predicate =
  | { readonly op: 'and' | 'or'; readonly args: readonly Predicate[] }
  | { readonly op: 'not'; readonly arg: Predicate }
  | { readonly op: ComparisonOp; readonly field: string; readonly value: Scalar }
  | { readonly op: 'in' | 'nin'; readonly field: string; readonly values: readonly Scalar[] }
  | { readonly op: 'like' | 'ilike'; readonly field: string; readonly pattern: string }
  | { readonly op: 'contains'; readonly field: string; readonly value: Scalar }
  | { readonly op: 'exists'; readonly field: string };

/** Every predicate operator name. */
export const PREDICATE_OPS = [
  'and',
  'or',
  'not',
  'eq',
  'ne',
  'gt',
  'gte',
  'lt',
  'lte',
  'in',
  'nin',
  'like',
  'ilike',
  'contains',
  'exists',
] as const;
/** A predicate operator name. */
export type PredicateOp = (typeof PREDICATE_OPS)[number];

/** Sort direction. */
export type SortDirection = 'asc' | 'desc';

/** One sort key. Document id (ascending) always breaks ties after the last key. */
export interface OrderTerm {
  readonly field: string;
  readonly dir: SortDirection;
}

/**
 * A cursor: rows strictly after the row whose order-by values are `values` (and whose id is
 * `id`, if given; without `id`, every row with exactly these values is skipped too).
 */
export interface Cursor {
  readonly values: readonly Scalar[];
  readonly id?: string;
}

/**
 * A relation to include in each result row, under the include's name.
 * - `on` (ref): this row's field `on` holds the id of a document of `collection`; the row
 *   gets that document, or null when it is missing (or fails `where`).
 * - `on` + `many: true` (refMany): field `on` holds an array of ids; the row gets the array
 *   of those documents that exist (and match `where`), in the field's order unless
 *   `orderBy` is given, cut to `limit`.
 * - `references` (reverse ref): the row gets the documents of `collection` whose field
 *   `references` equals this row's id (or, for an array field, contains it), ordered by
 *   `orderBy` then id, cut to `limit`.
 * `include` nests to any depth.
 */
export interface IncludeSpec {
  readonly collection: string;
  readonly on?: string;
  readonly many?: boolean;
  readonly references?: string;
  readonly where?: Predicate;
  readonly orderBy?: readonly OrderTerm[];
  readonly limit?: number;
  readonly include?: Readonly<Record<string, IncludeSpec>>;
}

/** Aggregate functions. */
export const AGGREGATE_FNS = ['count', 'sum', 'avg', 'min', 'max'] as const;
/** An aggregate function name. */
export type AggregateFn = (typeof AGGREGATE_FNS)[number];

/**
 * One aggregate output column. `count` without a field counts rows; with a field it counts
 * non-null values. `sum`/`avg` use numeric values only (null when there is none);
 * `min`/`max` use non-null values in the total order (null when there is none).
 */
export interface AggregateSpec {
  readonly fn: AggregateFn;
  readonly field?: string;
}

/**
 * A query. Shapes:
 * - list: `where`, `orderBy`, `limit`/`offset`/`after`, `include` → an array of rows;
 * - get: `get` (a document id), optionally `where` and `include` → one row or undefined;
 * - aggregate: `aggregate` (with optional `groupBy`) → one row per group, ordered by the
 *   group values (a single row when there is no `groupBy`); `groupBy` alone is `distinct`;
 * - distinct: `distinct` fields → one row per distinct combination, ordered by them.
 * Without `orderBy`, `limit`/`offset`/`after` order by id; a list without any of them
 * comes in an unspecified (but stable) order.
 */
export interface QueryAst {
  readonly collection: string;
  readonly get?: string;
  readonly where?: Predicate;
  readonly orderBy?: readonly OrderTerm[];
  readonly limit?: number;
  readonly offset?: number;
  readonly after?: Cursor;
  readonly include?: Readonly<Record<string, IncludeSpec>>;
  readonly groupBy?: readonly string[];
  readonly aggregate?: Readonly<Record<string, AggregateSpec>>;
  readonly distinct?: readonly string[];
}

/** The keys of a {@link QueryAst}; a `where({...})` shorthand using one of them hashes in full form. */
export const QUERY_KEYS: ReadonlySet<string> = new Set([
  'collection',
  'get',
  'where',
  'orderBy',
  'limit',
  'offset',
  'after',
  'include',
  'groupBy',
  'aggregate',
  'distinct',
]);

/** A result row: a source document, or a derived object (document fields plus includes). */
export type Row = Readonly<Record<string, unknown>>;

/** A row of an aggregate or distinct query: group values and aggregate columns. */
export type AggregateRow = Readonly<Record<string, unknown>>;

/** What kind of result a query has. */
export type QueryShape = 'list' | 'get' | 'aggregate';

/** The shape of a (valid) query's result. */
export function queryShape(ast: QueryAst): QueryShape {
  if (ast.get !== undefined) return 'get';
  if (ast.aggregate !== undefined || ast.distinct !== undefined || ast.groupBy !== undefined)
    return 'aggregate';
  return 'list';
}
