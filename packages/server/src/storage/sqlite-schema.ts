/**
 * The SQLite storage's schema, its version (`meta.schema`), and the migrations from the
 * versions before it. Opening a file migrates it in one transaction (all or nothing); a file
 * from a newer server is refused with a {@link StorageError} that says what to do.
 *
 * History:
 * - 1: triples; a change log with one row per document change holding the prior values of
 *   the cells it changed (`null` for an insert), indexed by document; mutations; device
 *   cursors; meta.
 * - 2: the change log keeps only (version, collection, id), appended in version order with no
 *   second index; prior values move to `priors`, written only for changes to documents that
 *   existed before (an insert writes none), each with the version it was written at (so a
 *   pull can tell a document created after its cursor without a row per insert).
 */
import type Database from 'better-sqlite3';
import { StorageError } from '@omnisync/core';
import type { StoredPrior } from './stored-rows.js';

/** The schema this server writes. */
export const SCHEMA_VERSION = 2;
const MIGRATE_PAGE_ROWS = 5000;

const TABLES = `
CREATE TABLE IF NOT EXISTS triples (
  collection TEXT NOT NULL,
  id TEXT NOT NULL,
  field TEXT NOT NULL,
  value TEXT,                    -- JSON; NULL = unset
  object_type INTEGER NOT NULL,  -- core ObjectType
  hlc TEXT NOT NULL,
  version INTEGER NOT NULL,      -- change-log version of the last write
  PRIMARY KEY (collection, id, field)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes (
  version INTEGER PRIMARY KEY,   -- the cursor
  collection TEXT NOT NULL,
  id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS priors (
  collection TEXT NOT NULL,
  id TEXT NOT NULL,
  version INTEGER NOT NULL,      -- the change these values were replaced by
  prior TEXT NOT NULL,           -- JSON [[field, version, value?], ...]: version 0 = absent, no value = unset
  PRIMARY KEY (collection, id, version)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS priors_by_version ON priors (version);
CREATE TABLE IF NOT EXISTS mutations (
  client_id TEXT NOT NULL,
  mutation_id TEXT NOT NULL,
  error TEXT,                    -- NULL = applied; JSON {code, message} = rejected
  version INTEGER NOT NULL,
  PRIMARY KEY (client_id, mutation_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS device_cursors (
  device_id TEXT PRIMARY KEY,
  cursor INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

/** The schema version of an open database: 0 = empty (new file). */
function schemaOf(db: Database.Database, file: string): number {
  const hasMeta = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").get();
  if (!hasMeta) {
    const tables = db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE type = 'table'").get() as {
      n: number;
    };
    if (tables.n > 0)
      throw new StorageError(
        `${file} is a SQLite database but not an OmniSync storage (no meta table); point the server at another file or data directory.`,
      );
    return 0;
  }
  const row = db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'schema'").get();
  const version = row ? Number(row.value) : NaN;
  if (!Number.isInteger(version) || version < 1)
    throw new StorageError(
      `${file} has no valid storage schema version (meta.schema = ${JSON.stringify(row?.value ?? null)}); it was not written by an OmniSync server. Restore it from a backup or point the server at another file.`,
    );
  return version;
}

/**
 * Create the schema in a new file, or migrate an older one to {@link SCHEMA_VERSION} in one
 * transaction. Throws a StorageError for a file from a newer server or not ours.
 */
export function openSchema(db: Database.Database, file: string): void {
  const version = schemaOf(db, file);
  if (version > SCHEMA_VERSION)
    throw new StorageError(
      `${file} has storage schema ${version}; this server reads schema ${SCHEMA_VERSION} and older. Upgrade the server to the version that wrote this file (a newer file is never changed by an older server).`,
      { details: { schema: version, supported: SCHEMA_VERSION } },
    );
  if (version === SCHEMA_VERSION) return;
  if (version === 0) {
    db.transaction(() => {
      db.exec(TABLES);
      db.prepare("INSERT INTO meta (key, value) VALUES ('schema', ?)").run(String(SCHEMA_VERSION));
    }).immediate();
    return;
  }
  try {
    db.transaction(() => {
      if (version === 1) migrate1to2(db);
      db.prepare("UPDATE meta SET value = ? WHERE key = 'schema'").run(String(SCHEMA_VERSION));
    }).immediate();
  } catch (err) {
    throw new StorageError(
      `Could not migrate ${file} from storage schema ${version} to ${SCHEMA_VERSION} (${err instanceof Error ? err.message : String(err)}); the file is unchanged. Keep it, and run the server version that wrote it until the cause is fixed.`,
      { cause: err, details: { schema: version, supported: SCHEMA_VERSION } },
    );
  }
}

/**
 * Schema 1 → 2: each change-log row with prior values becomes a `priors` row whose cells
 * carry the version they were written at, replayed per document in version order (the
 * change that last wrote the field, else the document's insert; when both were compacted
 * away, the compaction horizon, which every servable cursor is at or above). A v1 prior
 * `[field]` meant absent or unset; both read back the same, so it becomes absent.
 */
function migrate1to2(db: Database.Database): void {
  const horizon = Number(
    db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'horizon'").get()?.value ?? 0,
  );
  db.exec(`
    CREATE TABLE priors (
      collection TEXT NOT NULL, id TEXT NOT NULL, version INTEGER NOT NULL, prior TEXT NOT NULL,
      PRIMARY KEY (collection, id, version)
    ) WITHOUT ROWID;
    CREATE INDEX priors_by_version ON priors (version);`);
  const insert = db.prepare<[string, string, number, string]>(
    'INSERT INTO priors (collection, id, version, prior) VALUES (?, ?, ?, ?)',
  );
  // Keyset pages in document order (the v1 by-document index): no statement stays open while writing.
  const page = db.prepare<
    [string, string, number, number],
    { version: number; collection: string; id: string; prior: string }
  >(
    `SELECT version, collection, id, prior FROM changes INDEXED BY changes_by_doc
     WHERE (collection, id, version) > (?, ?, ?) ORDER BY collection, id, version LIMIT ?`,
  );
  let doc = '';
  let created = 0;
  const lastWrite = new Map<string, number>();
  let after: [string, string, number] = ['', '', 0];
  for (;;) {
    const rows = page.all(after[0], after[1], after[2], MIGRATE_PAGE_ROWS);
    for (const r of rows) {
      const key = `${r.collection}\u0000${r.id}`;
      if (key !== doc) {
        doc = key;
        created = 0;
        lastWrite.clear();
      }
      const prior = JSON.parse(r.prior) as [string, unknown?][] | null;
      if (prior === null) {
        created = r.version;
        lastWrite.clear();
        continue;
      }
      const stored: StoredPrior[] = prior.map(([field, ...rest]) =>
        rest.length === 0 ? [field, 0] : [field, lastWrite.get(field) ?? (created || horizon), rest[0]],
      );
      for (const [field] of prior) lastWrite.set(field, r.version);
      insert.run(r.collection, r.id, r.version, JSON.stringify(stored));
    }
    if (rows.length < MIGRATE_PAGE_ROWS) break;
    const last = rows[rows.length - 1]!;
    after = [last.collection, last.id, last.version];
  }
  db.exec(`
    DROP INDEX IF EXISTS changes_by_doc;
    ALTER TABLE changes DROP COLUMN prior;`);
}
