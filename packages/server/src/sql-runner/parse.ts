/**
 * The statement shapes the client's `SQLBinding` generates, and nothing else, read into a
 * structure. The runner never executes a client's SQL text: it parses it against this
 * grammar (exact tokens, quoted identifiers, `?` placeholders only), checks the structure
 * against the allow-list, and writes its own SQL from it. Anything outside the grammar —
 * a comment, a literal, a second statement, a function call, an unquoted or odd identifier
 * — is refused, so an injection has nowhere to go.
 *
 *     select := SELECT * FROM id [WHERE cond (AND cond)*] [ORDER BY id dir (, id dir)*] [LIMIT ? [OFFSET ?]]
 *     cond   := id = ? | id IS NULL | id IN ( ? (, ?)* ) | 0
 *     insert := INSERT INTO id ( id (, id)* ) VALUES ( ? (, ?)* )
 *     update := UPDATE id SET id = ? (, id = ?)* WHERE id = ?
 *     delete := DELETE FROM id WHERE id = ?
 *     id     := "[A-Za-z_][A-Za-z0-9_]{0,62}"     dir := ASC | DESC
 */
import { SqlRefusedError } from '@omnisync/core';

/** One condition of a WHERE clause (all ANDed). */
export type SqlCondition =
  | { readonly kind: 'eq'; readonly column: string }
  | { readonly kind: 'null'; readonly column: string }
  | { readonly kind: 'in'; readonly column: string; readonly count: number }
  | { readonly kind: 'false' };

/** A parsed statement; `?` placeholders are counted, their values come separately. */
export type SqlStatement =
  | {
      readonly kind: 'select';
      readonly table: string;
      readonly where: readonly SqlCondition[];
      readonly orderBy: readonly { readonly column: string; readonly desc: boolean }[];
      readonly limit: boolean;
      readonly offset: boolean;
    }
  | { readonly kind: 'insert'; readonly table: string; readonly columns: readonly string[] }
  | {
      readonly kind: 'update';
      readonly table: string;
      readonly set: readonly string[];
      readonly key: string;
    }
  | { readonly kind: 'delete'; readonly table: string; readonly key: string };

/** Longest statement text accepted (the binding's statements are far shorter). */
export const SQL_TEXT_MAX = 16_384;
const IDENT = /^"([A-Za-z_][A-Za-z0-9_]{0,62})"$/;
const KEYWORDS = new Set([
  'SELECT',
  'FROM',
  'WHERE',
  'AND',
  'ORDER',
  'BY',
  'ASC',
  'DESC',
  'LIMIT',
  'OFFSET',
  'IS',
  'NULL',
  'IN',
  'INSERT',
  'INTO',
  'VALUES',
  'UPDATE',
  'SET',
  'DELETE',
]);

const refuse = (sql: string, why: string) =>
  new SqlRefusedError(
    `SQL refused: ${why}. The SQL runner executes only the statements SQLBinding generates (SELECT/INSERT/UPDATE/DELETE on allowed tables, quoted identifiers, values as ? parameters); got ${JSON.stringify(sql.slice(0, 200))}.`,
    { details: { reason: why } },
  );

/**
 * Split into tokens: keywords, quoted identifiers, `?`, `*`, `=`, `,`, `(`, `)`, `0`, single
 * spaces between. Anything else (quotes, comments, semicolons, other characters, doubled or
 * odd whitespace) is refused: the binding never writes them.
 */
function tokenize(sql: string): string[] {
  if (typeof sql !== 'string') throw refuse(String(sql), 'the statement is not a string');
  if (sql.length === 0 || sql.length > SQL_TEXT_MAX)
    throw refuse(sql, `the statement is empty or longer than ${SQL_TEXT_MAX} characters`);
  if (sql.trim() !== sql) throw refuse(sql, 'the statement starts or ends with whitespace');
  const tokens: string[] = [];
  const re = /"[^"]*"|[A-Z]+|[?*=,()]|0|\s+|./gsy;
  let m: RegExpExecArray | null;
  while ((m = re.exec(sql)) !== null) {
    const t = m[0];
    if (/^\s+$/.test(t)) {
      if (t !== ' ') throw refuse(sql, 'unexpected whitespace (only single spaces separate tokens)');
      continue;
    }
    if (t.startsWith('"')) {
      if (!IDENT.test(t)) throw refuse(sql, `${JSON.stringify(t)} is not a plain quoted identifier`);
    } else if (/^[A-Z]+$/.test(t)) {
      if (!KEYWORDS.has(t)) throw refuse(sql, `unexpected word ${t}`);
    } else if (!/^[?*=,()0]$/.test(t)) {
      throw refuse(sql, `unexpected character ${JSON.stringify(t)}`);
    }
    tokens.push(t);
  }
  return tokens;
}

/** Parse one statement of the binding's grammar; throws {@link SqlRefusedError} otherwise. */
export function parseSql(sql: string): SqlStatement {
  const t = tokenize(sql);
  let i = 0;
  const peek = () => t[i];
  const take = (expected: string) => {
    if (t[i] !== expected)
      throw refuse(sql, `expected ${expected} at token ${i + 1}, found ${t[i] ?? 'the end'}`);
    i++;
  };
  const ident = (): string => {
    const m = IDENT.exec(t[i] ?? '');
    if (!m) throw refuse(sql, `expected a quoted identifier at token ${i + 1}, found ${t[i] ?? 'the end'}`);
    i++;
    return m[1]!;
  };
  const end = () => {
    if (i !== t.length) throw refuse(sql, `unexpected ${t[i]} after the end of the statement`);
  };
  let stmt: SqlStatement;
  switch (t[i++]) {
    case 'SELECT': {
      take('*');
      take('FROM');
      const table = ident();
      const where: SqlCondition[] = [];
      if (peek() === 'WHERE') {
        i++;
        for (;;) {
          if (peek() === '0') {
            i++;
            where.push({ kind: 'false' });
          } else {
            const column = ident();
            if (peek() === '=') {
              i++;
              take('?');
              where.push({ kind: 'eq', column });
            } else if (peek() === 'IS') {
              i++;
              take('NULL');
              where.push({ kind: 'null', column });
            } else {
              take('IN');
              take('(');
              let count = 0;
              for (;;) {
                take('?');
                count++;
                if (peek() !== ',') break;
                i++;
              }
              take(')');
              where.push({ kind: 'in', column, count });
            }
          }
          if (peek() !== 'AND') break;
          i++;
        }
      }
      const orderBy: { column: string; desc: boolean }[] = [];
      if (peek() === 'ORDER') {
        i++;
        take('BY');
        for (;;) {
          const column = ident();
          const dir = t[i++];
          if (dir !== 'ASC' && dir !== 'DESC')
            throw refuse(sql, 'ORDER BY needs ASC or DESC after each column');
          orderBy.push({ column, desc: dir === 'DESC' });
          if (peek() !== ',') break;
          i++;
        }
      }
      let limit = false;
      let offset = false;
      if (peek() === 'LIMIT') {
        i++;
        take('?');
        limit = true;
        if (peek() === 'OFFSET') {
          i++;
          take('?');
          offset = true;
        }
      }
      stmt = { kind: 'select', table, where, orderBy, limit, offset };
      break;
    }
    case 'INSERT': {
      take('INTO');
      const table = ident();
      take('(');
      const columns: string[] = [];
      for (;;) {
        columns.push(ident());
        if (peek() !== ',') break;
        i++;
      }
      take(')');
      take('VALUES');
      take('(');
      let n = 0;
      for (;;) {
        take('?');
        n++;
        if (peek() !== ',') break;
        i++;
      }
      take(')');
      if (n !== columns.length) throw refuse(sql, `${columns.length} columns but ${n} values`);
      stmt = { kind: 'insert', table, columns };
      break;
    }
    case 'UPDATE': {
      const table = ident();
      take('SET');
      const set: string[] = [];
      for (;;) {
        set.push(ident());
        take('=');
        take('?');
        if (peek() !== ',') break;
        i++;
      }
      take('WHERE');
      const key = ident();
      take('=');
      take('?');
      stmt = { kind: 'update', table, set, key };
      break;
    }
    case 'DELETE': {
      take('FROM');
      const table = ident();
      take('WHERE');
      const key = ident();
      take('=');
      take('?');
      stmt = { kind: 'delete', table, key };
      break;
    }
    default:
      throw refuse(sql, 'only SELECT, INSERT, UPDATE and DELETE statements of SQLBinding are run');
  }
  end();
  const written = stmt.kind === 'insert' ? stmt.columns : stmt.kind === 'update' ? stmt.set : [];
  if (new Set(written).size !== written.length) throw refuse(sql, 'a column is written twice');
  return stmt;
}

/** The columns a statement reads or writes (for the allow-list check). */
export function statementColumns(stmt: SqlStatement): string[] {
  switch (stmt.kind) {
    case 'select':
      return [
        ...stmt.where.flatMap((c) => (c.kind === 'false' ? [] : [c.column])),
        ...stmt.orderBy.map((o) => o.column),
      ];
    case 'insert':
      return [...stmt.columns];
    case 'update':
      return [...stmt.set, stmt.key];
    case 'delete':
      return [stmt.key];
  }
}

/** Number of `?` parameters a statement takes. */
export function parameterCount(stmt: SqlStatement): number {
  switch (stmt.kind) {
    case 'select':
      return (
        stmt.where.reduce((n, c) => n + (c.kind === 'eq' ? 1 : c.kind === 'in' ? c.count : 0), 0) +
        (stmt.limit ? 1 : 0) +
        (stmt.offset ? 1 : 0)
      );
    case 'insert':
      return stmt.columns.length;
    case 'update':
      return stmt.set.length + 1;
    case 'delete':
      return 1;
  }
}
