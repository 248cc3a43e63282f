/**
 * Queries in the sync protocol: which documents a client's query covers.
 *
 * Since protocol v2 a query on the wire is a core {@link QueryAst} (what `q(…)` builds),
 * validated by `validateQuery`. The v1 form `{collection, where: {field: value}}` (equality
 * on dotted field paths) is still accepted and read as the AST of those equalities.
 *
 * Sync honours the part of a query that decides *membership*: `collection`, `where` and
 * `get` (the document id). Everything else — `orderBy`, `limit`, `offset`, `after`,
 * `include`, `groupBy`, `aggregate`, `distinct` — is accepted (validated) but does not
 * filter what syncs: a client keeping the top 10 of a query must hold every document that
 * matches its filter, or it could not refill the window when one of the 10 leaves. Included
 * relations of other collections sync only through queries of their own.
 */
import type { JsonValue } from '../cells.js';
import { QueryError } from '../errors.js';
import type { Predicate, QueryAst, Scalar } from '../query/ast.js';
import { requiredEqualities, requiredInLists } from '../query/compile.js';
import { compileQueryFilter } from '../query/matcher.js';
import { validateQuery } from '../query/validate.js';
import { fieldGetter, isScalar } from '../query/values.js';

/** A protocol v1 query: equality on (dotted) field paths. Still accepted; see {@link wireQueryToAst}. */
export interface LegacyWireQuery {
  readonly collection: string;
  readonly where?: Readonly<Record<string, JsonValue>>;
}

/** A query in the protocol: a core query AST (v2), or the v1 equality form. */
export type WireQuery = QueryAst | LegacyWireQuery;

/**
 * Is `where` a v2 predicate (`{op: 'eq', field, value}`, …) rather than a v1 equality map?
 * A predicate has a string `op`; so does a mistyped one (`{op: 'regex'}`), which must be
 * refused rather than read as v1 equality on fields named op, field and value. (The price:
 * a v1 query on a field literally called `op` with a string value reads as v2 and is
 * refused; query it as `{op: 'eq', field: 'op', value}`.)
 */
function isPredicateObject(where: unknown): boolean {
  return (
    typeof where === 'object' &&
    where !== null &&
    !Array.isArray(where) &&
    typeof (where as { op?: unknown }).op === 'string'
  );
}

/** Is `query` (an object) in the v1 form `{collection, where?: {field: value}}`? */
export function isLegacyWireQuery(query: unknown): query is LegacyWireQuery {
  if (typeof query !== 'object' || query === null || Array.isArray(query)) return false;
  for (const k of Object.keys(query)) if (k !== 'collection' && k !== 'where') return false;
  const where = (query as { where?: unknown }).where;
  return where !== undefined && !isPredicateObject(where);
}

function legacyToAst(query: LegacyWireQuery): unknown {
  const where = query.where as unknown;
  if (typeof where !== 'object' || where === null || Array.isArray(where))
    throw new QueryError(
      'Invalid query: query.where must be a predicate such as {"op":"eq","field":"done","value":false} (or, protocol v1, an object of field → value).',
      { details: { path: 'query.where' } },
    );
  const args: Predicate[] = [];
  for (const [field, value] of Object.entries(where)) {
    if (!isScalar(value))
      throw new QueryError(
        `Invalid query: query.where.${field} compares with ${value === undefined ? 'undefined' : Array.isArray(value) ? 'an array' : typeof value === 'object' ? 'an object' : String(value)}; equality takes a string, a finite number, a boolean or null. Compare nested fields by their dotted path ("meta.level": 2).`,
        { details: { path: `query.where.${field}` } },
      );
    args.push({ op: 'eq', field, value: value as Scalar });
  }
  return { collection: query.collection, where: { op: 'and', args } };
}

// Decoding validates a query once; the server reads the same object right after.
const astOf = new WeakMap<object, QueryAst>();

/**
 * Validate a query from the wire (v2 AST or v1 equality form) into a normalised
 * {@link QueryAst}. Throws {@link QueryError} naming the problem. The result is cached per
 * object: treat queries as immutable once sent or received.
 */
export function wireQueryToAst(query: unknown): QueryAst {
  if (typeof query === 'object' && query !== null) {
    const cached = astOf.get(query);
    if (cached) return cached;
  }
  const ast = validateQuery(isLegacyWireQuery(query) ? legacyToAst(query) : query);
  if (typeof query === 'object' && query !== null) astOf.set(query, ast);
  return ast;
}

/**
 * The membership part of a (validated) query: `{collection, where?}` with `get` folded
 * into `where` as `id = get`. Queries that differ only in order, window or includes have
 * the same scope.
 * @example
 * syncScopeOf(q('todos').where('ownerId', '=', me).orderBy('createdAt', 'desc').limit(10).ast);
 * // { collection: 'todos', where: { op: 'eq', field: 'ownerId', value: me } }
 */
export function syncScopeOf(ast: QueryAst): QueryAst {
  const terms: Predicate[] = [];
  if (ast.where !== undefined) terms.push(ast.where);
  if (ast.get !== undefined) terms.push({ op: 'eq', field: 'id', value: ast.get });
  if (terms.length === 0) return { collection: ast.collection };
  return validateQuery({
    collection: ast.collection,
    where: terms.length === 1 ? terms[0] : { op: 'and', args: terms },
  });
}

/** A sync query ready to test documents against. */
export interface SyncQuery {
  readonly collection: string;
  /** The membership scope (see {@link syncScopeOf}). */
  readonly scope: QueryAst;
  /** Does this visible document belong to the query? (core's compiled filter) */
  readonly test: (doc: Readonly<Record<string, unknown>>) => boolean;
  /** True when every document of the collection belongs (no filter). */
  readonly whole: boolean;
  /**
   * Fields the filter pins to a few values (a required top-level equality or `in` list):
   * a document can only match when its value of the field is one of them. For indexes.
   */
  readonly pins: ReadonlyMap<string, readonly Scalar[]>;
  /**
   * One pin to route documents by (an equality preferred over an `in` list), or undefined
   * when nothing is pinned: a document can only match when `key(doc)` is one of `keys`.
   */
  readonly route: SyncRoute | undefined;
}

/** How to route documents to a pinned query: compare `key(doc)` with `keys`. */
export interface SyncRoute {
  readonly field: string;
  /** The keys of the pinned values (see {@link routeKey}). */
  readonly keys: readonly string[];
  /** The key of the document's value of `field` (core's field access), or undefined when it cannot match. */
  key(doc: Readonly<Record<string, unknown>>): string | undefined;
}

/** The routing key of a scalar value: equal keys exactly when the values are `===`. */
export function routeKey(value: unknown): string | undefined {
  switch (typeof value) {
    case 'string':
      return `s${value}`;
    case 'number':
      return `n${value}`; // -0 and 0 share "n0", as they are ===
    case 'boolean':
      return value ? 'T' : 'F';
    default:
      return undefined; // null, objects, arrays: pins hold non-null scalars only
  }
}

function routeOf(pins: ReadonlyMap<string, readonly Scalar[]>): SyncRoute | undefined {
  let best: [string, readonly Scalar[]] | undefined;
  for (const entry of pins) if (best === undefined || entry[1].length < best[1].length) best = entry;
  if (best === undefined) return undefined;
  const [field, values] = best;
  const get = fieldGetter(field);
  return { field, keys: values.map((v) => routeKey(v)!), key: (doc) => routeKey(get(doc)) };
}

/**
 * Compile a query from the wire (or a validated AST) into its {@link SyncQuery}. Throws
 * {@link QueryError} for a bad query.
 */
export function compileSyncQuery(query: unknown): SyncQuery {
  const scope = syncScopeOf(wireQueryToAst(query));
  const pins = new Map<string, readonly Scalar[]>();
  for (const [field, value] of requiredEqualities(scope.where)) pins.set(field, [value]);
  for (const [field, values] of requiredInLists(scope.where)) if (!pins.has(field)) pins.set(field, values);
  return {
    collection: scope.collection,
    scope,
    test: compileQueryFilter(scope),
    whole: scope.where === undefined,
    pins,
    route: routeOf(pins),
  };
}
