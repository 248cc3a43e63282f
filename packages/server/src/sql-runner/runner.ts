/**
 * `createSqlRunner({ db, allow })`: the server end of the client's `SQLBinding`, on SQLite
 * (better-sqlite3) or Postgres (pg). Every request is parsed against the binding's grammar
 * (parse.ts), checked against the allow-list of tables and columns, and executed as SQL the
 * runner writes itself (quoted identifiers from the allow-list, values only as parameters).
 * Reads return the allowed columns only; a write request's statements run in one database
 * transaction, all or nothing.
 */
import {
  DuplicateKeyError,
  OmniSyncError,
  SqlRefusedError,
  StorageError,
  ValidationError,
} from '@omnisync/core';
import type BetterSqlite3 from 'better-sqlite3';
import type pg from 'pg';
import { parameterCount, parseSql, type SqlStatement, statementColumns } from './parse.js';

/** What the runner lets a client touch, per table: its columns, and whether it may write. */
export type SqlAllowList = Readonly<
  Record<string, readonly string[] | { readonly columns: readonly string[]; readonly write?: boolean }>
>;

/** Options of {@link createSqlRunner}. */
export interface SqlRunnerOptions {
  /** A better-sqlite3 Database, or a pg Pool / Client. */
  readonly db: BetterSqlite3.Database | pg.Pool | pg.Client;
  /** Tables and columns a client may use (anything else is refused with `sql_refused`). */
  readonly allow: SqlAllowList;
  /** Postgres: the schema the tables live in (default: the search path). */
  readonly schema?: string;
  /** Largest LIMIT, and the cap of a read without one (default 10 000 rows). */
  readonly maxRows?: number;
  /** Most statements in one write request (default 1000). */
  readonly maxStatements?: number;
}

/** A read as SQLBinding posts it. */
export interface SqlReadRequest {
  readonly sql: string;
  readonly params?: readonly unknown[];
}
/** A transaction's writes as SQLBinding posts them. */
export interface SqlWriteRequest {
  readonly statements: readonly SqlReadRequest[];
}

/** The runner. */
export interface SqlRunner {
  /** Run one SELECT; the rows with the allowed columns. */
  read(request: SqlReadRequest): Promise<{ rows: Record<string, unknown>[] }>;
  /** Run the writes in one transaction; all or nothing. */
  write(request: SqlWriteRequest): Promise<{ ok: true; changes: number }>;
  /** `read` or `write` by the body's shape (what an HTTP endpoint receives). */
  run(body: unknown): Promise<{ rows: Record<string, unknown>[] } | { ok: true; changes: number }>;
}

const STRING_MAX = 1 << 20;
/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

interface Table {
  readonly columns: ReadonlySet<string>;
  readonly list: readonly string[];
  readonly write: boolean;
}

const refuse = (why: string, details: Record<string, unknown> = {}) =>
  new SqlRefusedError(`SQL refused: ${why}.`, { details: { reason: why, ...details } });

function compileAllow(allow: SqlAllowList): Map<string, Table> {
  if (allow === null || typeof allow !== 'object')
    throw new ValidationError('createSqlRunner needs `allow`: { table: [columns…] }.');
  const tables = new Map<string, Table>();
  for (const [name, spec] of Object.entries(allow)) {
    const list = Array.isArray(spec) ? spec : (spec as { columns: readonly string[] }).columns;
    const write = Array.isArray(spec) ? true : (spec as { write?: boolean }).write !== false;
    if (!IDENT.test(name) || !Array.isArray(list) || list.length === 0 || !list.every((c) => IDENT.test(c)))
      throw new ValidationError(
        `createSqlRunner: allow.${name} must name a plain table and a non-empty list of plain column names (letters, digits, _).`,
      );
    tables.set(name, { columns: new Set(list), list: [...list], write });
  }
  return tables;
}

/** A parameter value as the database gets it; anything else is refused. */
function checkParam(v: unknown, sqlite: boolean): unknown {
  if (v === null) return null;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw refuse(`a parameter is ${v}, which no column holds`);
    return v;
  }
  if (typeof v === 'boolean') return sqlite ? (v ? 1 : 0) : v;
  if (typeof v === 'string') {
    if (v.length > STRING_MAX) throw refuse(`a parameter is longer than ${STRING_MAX} characters`);
    if (LONE_SURROGATE.test(v)) throw refuse('a parameter holds a lone UTF-16 surrogate (not valid text)');
    if (v.includes('\u0000')) throw refuse('a parameter holds a NUL character');
    return v;
  }
  throw refuse(
    `a parameter is ${Array.isArray(v) ? 'an array' : typeof v}: values are strings, numbers, booleans or null`,
  );
}

function checkCount(v: unknown, what: string, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0 || v > max)
    throw refuse(`${what} must be an integer from 0 to ${max}`);
  return v;
}

function isPg(db: SqlRunnerOptions['db']): db is pg.Pool | pg.Client {
  return typeof (db as { prepare?: unknown }).prepare !== 'function';
}

/**
 * The server end of `SQLBinding`.
 * @example
 * const runner = createSqlRunner({ db: new Database('app.db'), allow: { todos: ['id', 'title', 'completed'] } });
 * app.post('/api/sql-runner', sqlRunnerHandler(runner));
 */
export function createSqlRunner(options: SqlRunnerOptions): SqlRunner {
  const tables = compileAllow(options.allow);
  const db = options.db;
  const postgres = isPg(db);
  const maxRows = options.maxRows ?? 10_000;
  const maxStatements = options.maxStatements ?? 1000;
  if (options.schema !== undefined && !IDENT.test(options.schema))
    throw new ValidationError('createSqlRunner: `schema` must be a plain name (letters, digits, _).');
  const q = (name: string) => `"${name}"`;
  const tableSql = (t: string) => (options.schema ? `${q(options.schema)}.${q(t)}` : q(t));

  /** Check a parsed statement and its parameters; the SQL to run and its values. */
  function build(text: unknown, params: unknown, forWrite: boolean): { sql: string; values: unknown[] } {
    if (typeof text !== 'string') throw refuse('`sql` must be a string');
    if (params !== undefined && !Array.isArray(params)) throw refuse('`params` must be an array');
    const stmt: SqlStatement = parseSql(text);
    const list = (params ?? []) as unknown[];
    if ((stmt.kind === 'select') === forWrite)
      throw refuse(forWrite ? 'a write request holds a SELECT' : 'a read request holds a write', {
        statement: stmt.kind,
      });
    const table = tables.get(stmt.table);
    if (!table) throw refuse(`table ${JSON.stringify(stmt.table)} is not allowed`, { table: stmt.table });
    if (forWrite && !table.write) throw refuse(`table ${JSON.stringify(stmt.table)} is read-only`);
    for (const c of statementColumns(stmt))
      if (!table.columns.has(c))
        throw refuse(`column ${JSON.stringify(c)} of ${stmt.table} is not allowed`, {
          table: stmt.table,
          column: c,
        });
    const n = parameterCount(stmt);
    if (list.length !== n) throw refuse(`the statement takes ${n} parameters, got ${list.length}`);
    let k = 0;
    const ph = () => (postgres ? `$${++k}` : '?');
    const values: unknown[] = [];
    let sql: string;
    switch (stmt.kind) {
      case 'select': {
        let p = 0;
        const where = stmt.where.map((c) => {
          if (c.kind === 'false') return postgres ? 'FALSE' : '0';
          if (c.kind === 'null') return `${q(c.column)} IS NULL`;
          if (c.kind === 'eq') {
            values.push(checkParam(list[p++], !postgres));
            return `${q(c.column)} = ${ph()}`;
          }
          const phs: string[] = [];
          for (let j = 0; j < c.count; j++) {
            values.push(checkParam(list[p++], !postgres));
            phs.push(ph());
          }
          return `${q(c.column)} IN (${phs.join(', ')})`;
        });
        sql = `SELECT ${table.list.map(q).join(', ')} FROM ${tableSql(stmt.table)}`;
        if (where.length) sql += ` WHERE ${where.join(' AND ')}`;
        if (stmt.orderBy.length)
          sql += ` ORDER BY ${stmt.orderBy.map((o) => `${q(o.column)} ${o.desc ? 'DESC' : 'ASC'}`).join(', ')}`;
        const limit = stmt.limit ? checkCount(list[p++], 'LIMIT', maxRows) : maxRows;
        sql += ` LIMIT ${ph()}`;
        values.push(limit);
        if (stmt.offset) {
          sql += ` OFFSET ${ph()}`;
          values.push(checkCount(list[p++], 'OFFSET', Number.MAX_SAFE_INTEGER));
        }
        break;
      }
      case 'insert':
        for (const v of list) values.push(checkParam(v, !postgres));
        sql = `INSERT INTO ${tableSql(stmt.table)} (${stmt.columns.map(q).join(', ')}) VALUES (${stmt.columns.map(ph).join(', ')})`;
        break;
      case 'update':
        for (const v of list) values.push(checkParam(v, !postgres));
        sql = `UPDATE ${tableSql(stmt.table)} SET ${stmt.set.map((c) => `${q(c)} = ${ph()}`).join(', ')} WHERE ${q(stmt.key)} = ${ph()}`;
        break;
      case 'delete':
        values.push(checkParam(list[0], !postgres));
        sql = `DELETE FROM ${tableSql(stmt.table)} WHERE ${q(stmt.key)} = ${ph()}`;
        break;
    }
    return { sql, values };
  }

  async function read(request: SqlReadRequest): Promise<{ rows: Record<string, unknown>[] }> {
    if (request === null || typeof request !== 'object') throw refuse('a read is { sql, params }');
    const { sql, values } = build(request.sql, request.params, false);
    try {
      if (postgres) return { rows: (await db.query(sql, values)).rows as Record<string, unknown>[] };
      return {
        rows: (db as BetterSqlite3.Database).prepare(sql).all(...values) as Record<string, unknown>[],
      };
    } catch (err) {
      throw databaseError(err);
    }
  }

  async function write(request: SqlWriteRequest): Promise<{ ok: true; changes: number }> {
    const statements = (request as { statements?: unknown } | null)?.statements;
    if (!Array.isArray(statements) || statements.length === 0 || statements.length > maxStatements)
      throw refuse(`a write is { statements: [{ sql, params }…] } with 1 to ${maxStatements} statements`);
    // Every statement is checked before the first one runs: one bad statement refuses all.
    const built = statements.map((s: unknown) => {
      if (s === null || typeof s !== 'object') throw refuse('a statement is { sql, params }');
      return build((s as SqlReadRequest).sql, (s as SqlReadRequest).params, true);
    });
    if (!postgres) {
      const sqlite = db as BetterSqlite3.Database;
      try {
        return sqlite.transaction(() => {
          let changes = 0;
          for (const b of built) changes += sqlite.prepare(b.sql).run(...b.values).changes;
          return { ok: true as const, changes };
        })();
      } catch (err) {
        throw databaseError(err);
      }
    }
    const pool = db as pg.Pool;
    if (!('totalCount' in pool)) {
      // One pg.Client: transactions must not interleave on it, so they take turns.
      const turn = clientTurn.then(() => inTransaction(db as pg.PoolClient, built));
      clientTurn = turn.then(
        () => undefined,
        () => undefined,
      );
      return turn;
    }
    const client = await pool.connect();
    try {
      return await inTransaction(client, built);
    } finally {
      client.release();
    }
  }
  let clientTurn: Promise<void> = Promise.resolve();

  async function inTransaction(
    conn: pg.PoolClient,
    built: readonly { sql: string; values: unknown[] }[],
  ): Promise<{ ok: true; changes: number }> {
    try {
      await conn.query('BEGIN');
      let changes = 0;
      for (const b of built) changes += (await conn.query(b.sql, b.values)).rowCount ?? 0;
      await conn.query('COMMIT');
      return { ok: true, changes };
    } catch (err) {
      await conn.query('ROLLBACK').catch(() => undefined);
      throw databaseError(err);
    }
  }

  return {
    read,
    write,
    run(body) {
      if (body !== null && typeof body === 'object' && 'statements' in body)
        return write(body as SqlWriteRequest);
      if (body !== null && typeof body === 'object' && 'sql' in body) return read(body as SqlReadRequest);
      return Promise.reject(refuse('the body is neither { sql, params } nor { statements }'));
    },
  };
}

/** A database failure as a typed error: the client's data (constraint, type) or the database. */
function databaseError(err: unknown): OmniSyncError {
  if (err instanceof OmniSyncError) return err;
  const e = err as { code?: unknown; message?: unknown };
  const code = typeof e?.code === 'string' ? e.code : '';
  const message = typeof e?.message === 'string' ? e.message : String(err);
  if (code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE')
    return new DuplicateKeyError(`The row already exists (${message}); nothing of the request was applied.`);
  if (
    code.startsWith('23') ||
    code.startsWith('22') ||
    code.startsWith('SQLITE_CONSTRAINT') ||
    code === 'SQLITE_MISMATCH'
  )
    return new ValidationError(
      `The database refused the values (${message}); nothing of the request was applied.`,
    );
  return new StorageError(
    `The database failed (${message}); nothing of the request was applied. Retry later.`,
    {
      cause: err,
    },
  );
}
