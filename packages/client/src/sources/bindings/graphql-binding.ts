/**
 * Seed 000's GraphQL binding, in two dialects (`hasura`, the default, and `postgraphile`;
 * see graphql-dialects.ts for the names each uses). Documents are `graphql` ASTs printed
 * by its printer; values always travel as variables. All writes of one transaction go in
 * one mutation document; a retry first asks which of its inserted/deleted ids the server
 * already holds, so a write whose answer was lost is not applied twice. Live queries run
 * over `graphql-ws`.
 */
import { NetworkError, NonRetriableError } from '@omnisync/core';
import { print } from 'graphql';
import type { BackendBinding, MutationRequest, QueryOptions, QueryRequest } from './binding.js';
import {
  type LiveOperation,
  type GraphQLDialect,
  type GraphQLNames,
  hasuraDialect,
  postgraphileDialect,
  type WriteOp,
} from './graphql-dialects.js';
import { checkIdentifier, type HttpBindingOptions, postJson } from './http-binding.js';
import { graphqlData } from './graphql-errors.js';
import { createLiveQueries, type LiveQueries } from './graphql-live.js';

/** Options of {@link GraphQLBinding}. */
export interface GraphQLBindingOptions extends HttpBindingOptions {
  /** The server's naming scheme (default `'hasura'`). */
  readonly dialect?: 'hasura' | 'postgraphile';
  /** The root field of the table (Hasura; default: the collection name). */
  readonly table?: string;
  /** PostGraphile's type name (default: the collection name singular in PascalCase, `todos` → `Todo`). */
  readonly typeName?: string;
  /** PostGraphile's plural type name (default: the collection name in PascalCase, `todos` → `Todos`). */
  readonly pluralTypeName?: string;
  /** The fields to select (the id field is always selected). */
  readonly fields: readonly string[];
  /** The primary key field (default `id`). */
  readonly idField?: string;
  /** The GraphQL type of the primary key (default `String`). `Int` ids are sent as numbers. */
  readonly idType?: string;
  /**
   * Local field name → server field name, where they differ. With `dialect: 'postgraphile'`
   * the default maps `id` to `rowId` (the Amber preset keeps `id` for the global node id).
   */
  readonly rename?: Readonly<Record<string, string>>;
  /**
   * PostGraphile's change-feed subscription field (default `<pluralTypeName camelCase>Changed`,
   * e.g. `todosChanged`), whose payload is `{ op, id, <typeName camelCase> }` (see the README).
   */
  readonly changeField?: string;
  /** The graphql-ws endpoint of live queries (`ws://…`); without it `subscribe` is not offered. */
  readonly wsEndpoint?: string;
  /** The WebSocket class (default: the global one; in Node < 22 pass the `ws` package's). */
  readonly webSocketImpl?: unknown;
}

interface GraphQLRequest extends QueryRequest {
  readonly query: string;
  readonly variables: Record<string, unknown>;
  readonly root: string;
  readonly nodes: boolean;
  /** The live form of the same query (for `subscribe`). */
  readonly live: LiveOperation;
}

const pascal = (s: string) => s.replace(/(^|_)([a-z])/g, (_, __, c: string) => c.toUpperCase());
const singular = (s: string) =>
  s.endsWith('ies') ? `${s.slice(0, -3)}y` : s.endsWith('s') ? s.slice(0, -1) : s;
const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);
const pick = (row: Record<string, unknown>, keys: readonly string[]) =>
  Object.fromEntries(keys.filter((k) => k in row).map((k) => [k, row[k]]));
const withoutKey = (row: Record<string, unknown>, key: string) =>
  Object.fromEntries(Object.entries(row).filter(([k]) => k !== key));

/**
 * A GraphQL backend.
 * @example
 * const todos = new GraphQLBinding<Todo>({
 *   endpoint: '/graphql',
 *   wsEndpoint: 'wss://example.com/graphql',
 *   dialect: 'postgraphile',
 *   fields: ['id', 'title', 'completed'],
 *   headers: async () => ({ Authorization: `Bearer ${await getToken()}` }),
 * });
 * defineState({ todos: { _binding: todos, _options: { staleTime: 5000, sync: true } } });
 */
export class GraphQLBinding<T = Record<string, unknown>> implements BackendBinding<T> {
  readonly #o: GraphQLBindingOptions;
  readonly #id: string;
  readonly #dialect: GraphQLDialect;
  readonly #rename: Readonly<Record<string, string>>;
  readonly #back: Readonly<Record<string, string>>;
  #live: LiveQueries<T> | undefined;
  /** Present only with a `wsEndpoint`: live queries over graphql-ws. */
  readonly subscribe?: NonNullable<BackendBinding<T>['subscribe']>;

  constructor(options: GraphQLBindingOptions) {
    this.#o = options;
    this.#id = checkIdentifier(options.idField ?? 'id', 'GraphQL id field');
    for (const f of options.fields) checkIdentifier(f, 'GraphQL field');
    for (const k of ['table', 'typeName', 'pluralTypeName', 'changeField', 'idType'] as const) {
      const v = options[k];
      if (v !== undefined) checkIdentifier(v, `GraphQL ${k}`);
    }
    const pg = options.dialect === 'postgraphile';
    this.#dialect = pg ? postgraphileDialect : hasuraDialect;
    this.#rename = options.rename ?? (pg && this.#id === 'id' ? { id: 'rowId' } : {});
    for (const [k, v] of Object.entries(this.#rename)) {
      checkIdentifier(k, 'GraphQL field');
      checkIdentifier(v, 'GraphQL field');
    }
    this.#back = Object.fromEntries(Object.entries(this.#rename).map(([k, v]) => [v, k]));
    if (options.wsEndpoint !== undefined) {
      const live = createLiveQueries<T>({
        wsEndpoint: options.wsEndpoint,
        webSocketImpl: options.webSocketImpl,
        ...(options.headers !== undefined ? { headers: options.headers } : {}),
        dialect: this.#dialect,
        local: (row) => this.#local(row),
        rows: (data, root, nodes) => this.#rows(data, root, nodes),
      });
      this.#live = live;
      this.subscribe = (q, onUpdate, onError) => {
        const r = q as GraphQLRequest;
        const reread = async () => {
          const rows = await this.read(r);
          return Array.isArray(rows) ? rows : rows === null ? [] : [rows as T];
        };
        return live.subscribe(r.live, reread, onUpdate, onError);
      };
    }
  }

  #names(collection: string): GraphQLNames {
    const base = this.#o.table ?? collection;
    const pluralTypeName = this.#o.pluralTypeName ?? pascal(base);
    const remote = (f: string) => this.#rename[f] ?? f;
    return {
      table: checkIdentifier(base, 'GraphQL table'),
      typeName: this.#o.typeName ?? singular(pluralTypeName),
      pluralTypeName,
      id: remote(this.#id),
      idType: this.#o.idType ?? 'String',
      select: [...new Set([this.#id, ...this.#o.fields])].map(remote),
      remote,
      changeField: this.#o.changeField ?? `${lowerFirst(pluralTypeName)}Changed`,
    };
  }

  #local(row: unknown): T {
    if (row === null || typeof row !== 'object') return row as T;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(row)) out[this.#back[k] ?? k] = v;
    return out as T;
  }

  #remoteFields(fields: Record<string, unknown>): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(fields))
      if (k !== this.#id) out[this.#rename[checkIdentifier(k, 'GraphQL field')] ?? k] = v;
    return out;
  }

  #key(id: string): string | number {
    return this.#o.idType === 'Int' ? Number(id) : id;
  }

  buildQuery(collection: string, options: QueryOptions): GraphQLRequest {
    const n = this.#names(collection);
    const pk = options.pk === undefined ? options : { ...options, pk: this.#key(String(options.pk)) };
    const op = this.#dialect.read(n, pk);
    return {
      query: print(op.document),
      variables: op.variables,
      root: op.root,
      nodes: op.nodes,
      live: this.#dialect.live(n, options),
    };
  }

  async #run(op: { query: string; variables: Record<string, unknown> }): Promise<Record<string, unknown>> {
    return graphqlData(await postJson(this.#o, op), this.#o.endpoint);
  }

  #rows(data: Record<string, unknown>, root: string, nodes: boolean): unknown {
    const v = data[root];
    if (!nodes || v === null || v === undefined) return v ?? null;
    const list = (v as { nodes?: unknown }).nodes;
    if (!Array.isArray(list))
      throw new NetworkError(`${this.#o.endpoint} answered ${root} without \`nodes\`. Retrying.`);
    return list;
  }

  async read(request: QueryRequest): Promise<readonly T[] | T | null> {
    const r = request as GraphQLRequest;
    const got = this.#rows(await this.#run({ query: r.query, variables: r.variables }), r.root, r.nodes);
    if (Array.isArray(got)) return got.map((row) => this.#local(row));
    return got === null ? null : this.#local(got);
  }

  async write(m: MutationRequest): Promise<void> {
    const n = this.#names(m.collection);
    let ops: WriteOp[] = Object.entries(m.types).map(([id, kind]) => ({
      kind,
      id: this.#key(id),
      fields: kind === 'delete' ? {} : this.#remoteFields(m.changes[id] ?? {}),
    }));
    if (ops.length === 0) return;
    if (m.attempt > 1) ops = await this.#afterLostAnswer(n, ops);
    if (ops.length === 0) return;
    // A server that is not atomic across the fields of one document: keep what the rows
    // were, to undo the applied part if a later field is refused.
    const before = !this.#dialect.atomic && ops.length > 1 ? await this.#rowsOf(n, ops, n.select) : undefined;
    const op = this.#dialect.write(n, ops);
    try {
      await this.#run({ query: print(op.document), variables: op.variables });
    } catch (err) {
      if (before !== undefined && err instanceof NonRetriableError)
        throw await this.#undo(n, ops, before, err);
      throw err;
    }
  }

  /** The server's rows of the ops' ids, by id, with `select`. */
  async #rowsOf(
    n: GraphQLNames,
    ops: readonly WriteOp[],
    select: readonly string[],
  ): Promise<Map<string, Record<string, unknown>>> {
    const q = this.#dialect.existing(n, [...new Set(ops.map((o) => o.id))], select);
    const rows = this.#rows(
      await this.#run({ query: print(q.document), variables: q.variables }),
      q.root,
      q.nodes,
    );
    const out = new Map<string, Record<string, unknown>>();
    for (const r of Array.isArray(rows) ? (rows as Record<string, unknown>[]) : [])
      out.set(String(r[n.id]), r);
    return out;
  }

  /**
   * A retry may follow an attempt whose answer was lost after the server applied it: an
   * insert of an id the server holds becomes an update, a delete of an id it lacks is done.
   */
  async #afterLostAnswer(n: GraphQLNames, ops: WriteOp[]): Promise<WriteOp[]> {
    const probe = ops.filter((o) => o.kind !== 'update');
    if (probe.length === 0) return ops;
    const held = await this.#rowsOf(n, probe, [n.id]);
    const out: WriteOp[] = [];
    for (const o of ops) {
      if (o.kind === 'delete' && !held.has(String(o.id))) continue;
      out.push(o.kind === 'insert' && held.has(String(o.id)) ? { ...o, kind: 'update' } : o);
    }
    return out;
  }

  /** Undo the fields the server applied before it refused a later one; the error to throw. */
  async #undo(
    n: GraphQLNames,
    ops: readonly WriteOp[],
    before: Map<string, Record<string, unknown>>,
    err: NonRetriableError,
  ): Promise<NonRetriableError> {
    const applied = (err.details?.applied as string[] | undefined) ?? [];
    const undo: WriteOp[] = [];
    for (const alias of applied) {
      const o = ops[Number(alias.slice(1)) - 1];
      if (o === undefined) continue;
      const prior = before.get(String(o.id));
      if (o.kind === 'insert') undo.push({ kind: 'delete', id: o.id, fields: {} });
      else if (prior === undefined) continue;
      else if (o.kind === 'delete') undo.push({ kind: 'insert', id: o.id, fields: withoutKey(prior, n.id) });
      else undo.push({ kind: 'update', id: o.id, fields: pick(prior, Object.keys(o.fields)) });
    }
    if (undo.length === 0) return err;
    const u = this.#dialect.write(n, undo.reverse());
    try {
      await this.#run({ query: print(u.document), variables: u.variables });
    } catch (undoErr) {
      return new NonRetriableError(
        `${err.message}; undoing the applied part failed too (${undoErr instanceof Error ? undoErr.message : String(undoErr)}): the server holds part of this transaction, reload the affected rows.`,
        { cause: err, details: { ...err.details, undone: false } },
      );
    }
    return new NonRetriableError(`${err.message}; the applied part was undone on the server.`, {
      cause: err,
      details: { ...err.details, undone: true },
    });
  }

  /** Close the live-query connection, if one was opened. */
  async close(): Promise<void> {
    await this.#live?.close();
  }
}
