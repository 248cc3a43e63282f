/**
 * Seed 000's SQL binding: reads and writes as parameterised SQL sent to an API endpoint
 * that runs it (`/api/sql-runner`). Identifiers are checked and quoted; values are always
 * parameters. A read posts `{ sql, params }` and expects `{ rows }`; a transaction's writes
 * post `{ statements: [{ sql, params }…] }`, to be run in one database transaction.
 */
import { NonRetriableError } from '@omnisync/core';
import type { BackendBinding, MutationRequest, QueryOptions, QueryRequest } from './binding.js';
import { checkIdentifier, type HttpBindingOptions, postJson } from './http-binding.js';

/** Options of {@link SQLBinding}. */
export interface SQLBindingOptions extends HttpBindingOptions {
  /** The table (default: the collection name). */
  readonly table?: string;
  /** The primary key column (default `id`). */
  readonly idField?: string;
  /** Encode a value for a parameter (default: booleans as 0/1, objects as JSON). */
  readonly encode?: (value: unknown, column: string) => unknown;
  /** Decode a row from the database (default: as it is). */
  readonly decode?: (row: Record<string, unknown>) => Record<string, unknown>;
}

interface SqlRequest extends QueryRequest {
  readonly sql: string;
  readonly params: readonly unknown[];
  readonly one: boolean;
}

const q = (name: string) => `"${name}"`;

const defaultEncode = (v: unknown): unknown =>
  typeof v === 'boolean' ? (v ? 1 : 0) : v !== null && typeof v === 'object' ? JSON.stringify(v) : v;

/**
 * A SQL backend behind an HTTP endpoint.
 * @example
 * const todos = new SQLBinding<Todo>({ endpoint: '/api/sql-runner', headers: () => ({ Authorization: token() }) });
 */
export class SQLBinding<T = Record<string, unknown>> implements BackendBinding<T> {
  readonly #o: SQLBindingOptions;
  readonly #id: string;
  readonly #encode: (value: unknown, column: string) => unknown;

  constructor(options: SQLBindingOptions) {
    this.#o = options;
    this.#id = checkIdentifier(options.idField ?? 'id', 'SQL id column');
    if (options.table !== undefined) checkIdentifier(options.table, 'SQL table');
    this.#encode = options.encode ?? defaultEncode;
  }

  buildQuery(collection: string, options: QueryOptions): SqlRequest {
    const table = q(checkIdentifier(this.#o.table ?? collection, 'SQL table'));
    const params: unknown[] = [];
    const where: string[] = [];
    if (options.pk !== undefined) {
      where.push(`${q(this.#id)} = ?`);
      params.push(options.pk);
    }
    for (const [field, v] of Object.entries(options.where ?? {})) {
      if (field.startsWith('_')) continue; // predicates the binding does not translate are filtered locally
      const col = q(checkIdentifier(field, 'SQL column'));
      if (v !== null && typeof v === 'object' && Array.isArray((v as { _in?: unknown })._in)) {
        const list = (v as { _in: unknown[] })._in;
        where.push(list.length === 0 ? '0' : `${col} IN (${list.map(() => '?').join(', ')})`);
        for (const x of list) params.push(this.#encode(x, field));
      } else if (v === null) where.push(`${col} IS NULL`);
      else {
        where.push(`${col} = ?`);
        params.push(this.#encode(v, field));
      }
    }
    let sql = `SELECT * FROM ${table}`;
    if (where.length) sql += ` WHERE ${where.join(' AND ')}`;
    const order = Object.entries(options.orderBy ?? {}).map(
      ([f, d]) => `${q(checkIdentifier(f, 'SQL column'))} ${d === 'desc' ? 'DESC' : 'ASC'}`,
    );
    if (order.length) sql += ` ORDER BY ${order.join(', ')}`;
    if (options.limit !== undefined) {
      sql += ' LIMIT ?';
      params.push(options.limit);
      if (options.offset !== undefined) {
        sql += ' OFFSET ?';
        params.push(options.offset);
      }
    }
    return { sql, params, one: options.pk !== undefined };
  }

  async read(request: QueryRequest): Promise<readonly T[] | T | null> {
    const r = request as SqlRequest;
    const body = (await postJson(this.#o, { sql: r.sql, params: r.params })) as { rows?: unknown } | null;
    if (!body || !Array.isArray(body.rows))
      throw new NonRetriableError('The SQL endpoint answered without `rows`.');
    const rows = (body.rows as Record<string, unknown>[]).map((row) =>
      this.#o.decode ? this.#o.decode(row) : row,
    ) as T[];
    return r.one ? (rows[0] ?? null) : rows;
  }

  async write(m: MutationRequest): Promise<void> {
    const table = q(checkIdentifier(this.#o.table ?? m.collection, 'SQL table'));
    const statements: { sql: string; params: unknown[] }[] = [];
    for (const [id, kind] of Object.entries(m.types)) {
      if (kind === 'delete') {
        statements.push({ sql: `DELETE FROM ${table} WHERE ${q(this.#id)} = ?`, params: [id] });
        continue;
      }
      const changes = Object.entries(m.changes[id] ?? {}).filter(([k]) => k !== this.#id);
      for (const [k] of changes) checkIdentifier(k, 'SQL column');
      if (kind === 'insert') {
        const cols = [this.#id, ...changes.map(([k]) => k)];
        statements.push({
          sql: `INSERT INTO ${table} (${cols.map(q).join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`,
          params: [id, ...changes.map(([k, v]) => this.#encode(v, k))],
        });
      } else if (changes.length > 0) {
        statements.push({
          sql: `UPDATE ${table} SET ${changes.map(([k]) => `${q(k)} = ?`).join(', ')} WHERE ${q(this.#id)} = ?`,
          params: [...changes.map(([k, v]) => this.#encode(v, k)), id],
        });
      }
    }
    if (statements.length > 0) await postJson(this.#o, { statements });
  }
}
