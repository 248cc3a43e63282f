/**
 * The tables of one OPFS store in SQLite, and the four atomic operations on them:
 *
 *   snapshot(page INTEGER PRIMARY KEY, data BLOB)  the columnar snapshot in 64 KiB pages
 *   journal(seq INTEGER PRIMARY KEY, body TEXT)     commit bodies after the snapshot, in order
 *
 * Each operation is one SQLite transaction.
 */
import { PAGE_SIZE } from './protocol.js';

/** The part of sqlite-wasm's oo1 `DB` this store uses. */
export interface SqliteDb {
  exec(sql: string): unknown;
  exec(options: { sql: string; bind?: unknown[]; rowMode?: 'array'; returnValue?: 'resultRows' }): unknown;
  transaction<T>(fn: (db: SqliteDb) => T): T;
  close(): void;
}

/** What a read returns. */
export interface StoreContents {
  snapshot: Uint8Array | undefined;
  journal: string[];
}

/** The store's operations over `db` (creates the tables when missing). */
export function createSqliteStore(db: SqliteDb) {
  db.exec(
    'PRAGMA journal_mode=TRUNCATE; PRAGMA synchronous=FULL;' +
      'CREATE TABLE IF NOT EXISTS snapshot(page INTEGER PRIMARY KEY, data BLOB NOT NULL);' +
      'CREATE TABLE IF NOT EXISTS journal(seq INTEGER PRIMARY KEY, body TEXT NOT NULL);',
  );
  const rows = (sql: string): unknown[][] =>
    db.exec({ sql, rowMode: 'array', returnValue: 'resultRows' }) as unknown[][];
  return {
    read(): StoreContents {
      return db.transaction(() => {
        const pages = rows('SELECT data FROM snapshot ORDER BY page').map((r) => r[0] as Uint8Array);
        const journal = rows('SELECT body FROM journal ORDER BY seq').map((r) => r[0] as string);
        let snapshot: Uint8Array | undefined;
        if (pages.length) {
          snapshot = new Uint8Array(pages.reduce((n, p) => n + p.byteLength, 0));
          let at = 0;
          for (const p of pages) {
            snapshot.set(p, at);
            at += p.byteLength;
          }
        }
        return { snapshot, journal };
      });
    },
    append(bodies: readonly string[]): void {
      db.transaction(() => {
        for (const body of bodies) db.exec({ sql: 'INSERT INTO journal(body) VALUES (?)', bind: [body] });
      });
    },
    replace(snapshot: Uint8Array): void {
      db.transaction(() => {
        db.exec('DELETE FROM snapshot; DELETE FROM journal;');
        for (let at = 0, page = 0; at < snapshot.byteLength; at += PAGE_SIZE, page++)
          db.exec({
            sql: 'INSERT INTO snapshot(page, data) VALUES (?, ?)',
            bind: [page, snapshot.subarray(at, Math.min(at + PAGE_SIZE, snapshot.byteLength))],
          });
      });
    },
    clear(): void {
      db.transaction(() => db.exec('DELETE FROM snapshot; DELETE FROM journal;'));
    },
  };
}
