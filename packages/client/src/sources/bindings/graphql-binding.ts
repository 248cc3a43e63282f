/**
 * Seed 000's GraphQL binding (Hasura-style naming): reads with
 * `query { todos(where: …, order_by: …, limit: …) { fields } }` (or `todos_by_pk`), writes
 * with `insert_todos_one` / `update_todos_by_pk` / `delete_todos_by_pk`, all writes of one
 * transaction in one mutation document. Values always travel as variables.
 */
import { NonRetriableError } from '@omnisync/core';
import type { BackendBinding, MutationRequest, QueryOptions, QueryRequest } from './binding.js';
import { checkIdentifier, type HttpBindingOptions, postJson } from './http-binding.js';

/** Options of {@link GraphQLBinding}. */
export interface GraphQLBindingOptions extends HttpBindingOptions {
  /** The root field of the table (default: the collection name). */
  readonly table?: string;
  /** The fields to select (the id field first is not required; it is always selected). */
  readonly fields: readonly string[];
  /** The primary key field (default `id`). */
  readonly idField?: string;
}

interface GraphQLRequest extends QueryRequest {
  readonly query: string;
  readonly variables: Record<string, unknown>;
  readonly root: string;
}

/** Turn `{ completed: false, n: { _in: [...] } }` into a Hasura `where` value. */
function whereValue(where: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [field, v] of Object.entries(where)) {
    if (field.startsWith('_')) continue; // predicates the binding does not translate are filtered locally
    out[checkIdentifier(field, 'GraphQL field')] =
      v !== null && typeof v === 'object' && '_in' in v ? v : { _eq: v };
  }
  return out;
}

/**
 * A GraphQL backend.
 * @example
 * const todos = new GraphQLBinding<Todo>({
 *   endpoint: '/v1/graphql',
 *   fields: ['id', 'title', 'completed'],
 *   headers: async () => ({ Authorization: `Bearer ${await getToken()}` }),
 * });
 * defineState({ todos: { _binding: todos, _options: { staleTime: 5000 } } });
 */
export class GraphQLBinding<T = Record<string, unknown>> implements BackendBinding<T> {
  readonly #o: GraphQLBindingOptions;
  readonly #id: string;

  constructor(options: GraphQLBindingOptions) {
    this.#o = options;
    this.#id = checkIdentifier(options.idField ?? 'id', 'GraphQL id field');
    for (const f of options.fields) checkIdentifier(f, 'GraphQL field');
    if (options.table !== undefined) checkIdentifier(options.table, 'GraphQL table');
  }

  #selection(): string {
    return [...new Set([this.#id, ...this.#o.fields])].join(' ');
  }

  buildQuery(collection: string, options: QueryOptions): GraphQLRequest {
    const table = checkIdentifier(this.#o.table ?? collection, 'GraphQL table');
    if (options.pk !== undefined) {
      return {
        root: `${table}_by_pk`,
        query: `query ($id: String!) { ${table}_by_pk(${this.#id}: $id) { ${this.#selection()} } }`,
        variables: { id: String(options.pk) },
      };
    }
    const args: string[] = [];
    const decl: string[] = [];
    const variables: Record<string, unknown> = {};
    if (options.where) {
      decl.push(`$where: ${table}_bool_exp`);
      args.push('where: $where');
      variables.where = whereValue(options.where);
    }
    if (options.orderBy) {
      decl.push(`$order_by: [${table}_order_by!]`);
      args.push('order_by: $order_by');
      variables.order_by = Object.entries(options.orderBy).map(([f, d]) => ({
        [checkIdentifier(f, 'GraphQL field')]: d,
      }));
    }
    if (options.limit !== undefined) {
      decl.push('$limit: Int');
      args.push('limit: $limit');
      variables.limit = options.limit;
    }
    if (options.offset !== undefined) {
      decl.push('$offset: Int');
      args.push('offset: $offset');
      variables.offset = options.offset;
    }
    const head = decl.length ? `query (${decl.join(', ')})` : 'query';
    const call = args.length ? `${table}(${args.join(', ')})` : table;
    return { root: table, query: `${head} { ${call} { ${this.#selection()} } }`, variables };
  }

  async read(request: QueryRequest): Promise<readonly T[] | T | null> {
    const r = request as GraphQLRequest;
    const data = this.#data(await postJson(this.#o, { query: r.query, variables: r.variables }));
    return (data[r.root] ?? null) as readonly T[] | T | null;
  }

  async write(m: MutationRequest): Promise<void> {
    const table = checkIdentifier(this.#o.table ?? m.collection, 'GraphQL table');
    const decl: string[] = [];
    const parts: string[] = [];
    const variables: Record<string, unknown> = {};
    let i = 0;
    for (const [id, kind] of Object.entries(m.types)) {
      const changes = m.changes[id] ?? {};
      const n = ++i;
      if (kind === 'delete') {
        decl.push(`$id${n}: String!`);
        parts.push(`m${n}: delete_${table}_by_pk(${this.#id}: $id${n}) { ${this.#id} }`);
        variables[`id${n}`] = id;
      } else if (kind === 'insert') {
        decl.push(`$o${n}: ${table}_insert_input!`);
        parts.push(`m${n}: insert_${table}_one(object: $o${n}) { ${this.#id} }`);
        variables[`o${n}`] = { ...changes, [this.#id]: id };
      } else {
        decl.push(`$id${n}: String!`, `$s${n}: ${table}_set_input!`);
        parts.push(
          `m${n}: update_${table}_by_pk(pk_columns: { ${this.#id}: $id${n} }, _set: $s${n}) { ${this.#id} }`,
        );
        variables[`id${n}`] = id;
        variables[`s${n}`] = changes;
      }
    }
    if (parts.length === 0) return;
    this.#data(
      await postJson(this.#o, { query: `mutation (${decl.join(', ')}) { ${parts.join(' ')} }`, variables }),
    );
  }

  #data(body: unknown): Record<string, unknown> {
    const b = body as { data?: Record<string, unknown>; errors?: { message?: string }[] } | null;
    if (b?.errors?.length)
      throw new NonRetriableError(`GraphQL error: ${b.errors.map((e) => e.message ?? '?').join('; ')}`);
    if (b?.data === undefined || b.data === null || typeof b.data !== 'object')
      throw new NonRetriableError('GraphQL answer without `data`.');
    return b.data;
  }
}
