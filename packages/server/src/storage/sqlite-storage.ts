/**
 * The embedded storage: one SQLite file per app (better-sqlite3, WAL).
 *
 * Two connections: a writer, and a reader that only ever sees committed data (WAL snapshot
 * isolation), so a pull running while a named mutator holds a write transaction open never
 * reads a write that may still roll back.
 *
 * Durability (`durability` option, the PRAGMA synchronous of the WAL):
 * - `'full'` (default): every commit is fsynced before the push is acknowledged; an
 *   acknowledged write survives a killed process and a power loss or OS crash.
 * - `'normal'`: survives a killed process; the last commits before a power loss or OS crash
 *   may be lost (faster: fsync only at checkpoints).
 * - `'off'`: no fsync at all; for tests and throwaway data.
 */
import { stat } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { type MutationResult, StorageError } from '@omnisync/core';
import { Mutex } from '../util/mutex.js';
import { BulkInsert, SharedBulkInsert } from './bulk-insert.js';
import { CellUpsert } from './cell-upsert.js';
import { openSchema } from './sqlite-schema.js';
import { type CellRow, DocGrouper, type StoredPrior, toStoredCell, undoPriors } from './stored-rows.js';
import type {
  ChangeEntry,
  DeviceCursor,
  DocKey,
  DocWrite,
  GcResult,
  Priors,
  StorageReader,
  StorageWriter,
  StoredCell,
  StoredDoc,
  SyncStorage,
} from './storage.js';

/** How hard a commit is pushed to disk before it is acknowledged; see the file comment. */
export type Durability = 'full' | 'normal' | 'off';

/** Options of {@link createSqliteStorage}. */
export interface SqliteStorageOptions {
  /** Path of the database file (created when missing). */
  file: string;
  /** Default `'full'`. */
  durability?: Durability;
}

const SCAN_CHUNK_ROWS = 5000;

interface ScanRow extends CellRow {
  collection: string;
  id: string;
}

/** The cells of a document that has none (shared; never written to). */
const NO_CELLS: StoredCell[] = Object.freeze([]) as unknown as StoredCell[];

function wrap<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof StorageError) throw err;
    throw new StorageError(
      `SQLite ${what} failed: ${err instanceof Error ? err.message : String(err)}. Nothing was acknowledged; retry.`,
      {
        cause: err,
      },
    );
  }
}

/** The statements of one connection. */
class Statements {
  readonly loadDoc;
  readonly loadMany;
  readonly loadManyIds;
  readonly meta;
  readonly changesSince;
  readonly priorsSince;
  readonly cellVersions;
  readonly scanAll;
  readonly scanCollection;

  constructor(db: Database.Database) {
    this.loadDoc = db.prepare<[string, string], CellRow>(
      'SELECT field, value, hlc, version FROM triples WHERE collection = ? AND id = ?',
    );
    // Many documents in one statement: the key list drives PK lookups (CROSS JOIN fixes the loop order).
    this.loadMany = db.prepare<[string], CellRow & { i: number }>(
      `SELECT j.key AS i, t.field, t.value, t.hlc, t.version FROM json_each(?) AS j
       CROSS JOIN triples AS t ON t.collection = j.value ->> 0 AND t.id = j.value ->> 1`,
    );
    // The usual batch touches one collection: a flat list of ids, no per-key JSON extraction.
    this.loadManyIds = db.prepare<[string, string], CellRow & { i: number }>(
      `SELECT j.key AS i, t.field, t.value, t.hlc, t.version FROM json_each(?) AS j
       CROSS JOIN triples AS t ON t.collection = ? AND t.id = j.value`,
    );
    this.meta = db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?');
    this.changesSince = db.prepare<[number, number], ChangeEntry>(
      'SELECT version, collection, id FROM changes WHERE version > ? ORDER BY version LIMIT ?',
    );
    this.priorsSince = db.prepare<[string, string, number], { prior: string }>(
      'SELECT prior FROM priors WHERE collection = ? AND id = ? AND version > ? ORDER BY version DESC',
    );
    this.cellVersions = db.prepare<[string, string], { field: string; version: number }>(
      'SELECT field, version FROM triples WHERE collection = ? AND id = ?',
    );
    this.scanAll = db.prepare<[string, string, string, number], ScanRow>(
      'SELECT collection, id, field, value, hlc, version FROM triples WHERE (collection, id, field) > (?, ?, ?) ORDER BY collection, id, field LIMIT ?',
    );
    this.scanCollection = db.prepare<[string, string, string, number], ScanRow>(
      'SELECT collection, id, field, value, hlc, version FROM triples WHERE collection = ? AND (id, field) > (?, ?) ORDER BY id, field LIMIT ?',
    );
  }
}

/** A reader over one connection (reader or writer). */
class SqliteReader implements StorageReader {
  constructor(protected readonly s: Statements) {}

  protected metaNumber(key: string): number {
    const row = this.s.meta.get(key);
    return row ? Number(row.value) : 0;
  }
  async head(): Promise<number> {
    return wrap('read', () => this.metaNumber('head'));
  }
  async horizon(): Promise<number> {
    return wrap('read', () => this.metaNumber('horizon'));
  }
  async changesSince(cursor: number, limit: number): Promise<ChangeEntry[]> {
    return wrap('read', () => this.s.changesSince.all(cursor, limit));
  }
  async priorsSince(key: DocKey, cursor: number): Promise<Priors[]> {
    return wrap('read', () =>
      undoPriors(
        this.s.priorsSince.all(key.collection, key.id, cursor).map((r) => r.prior),
        this.s.cellVersions.all(key.collection, key.id),
        cursor,
      ),
    );
  }
  async loadDocs(keys: readonly DocKey[]): Promise<StoredDoc[]> {
    return wrap('read', () => {
      if (keys.length === 0) return [];
      if (keys.length === 1) {
        const k = keys[0]!;
        const rows = this.s.loadDoc.all(k.collection, k.id);
        return [
          {
            collection: k.collection,
            id: k.id,
            cells: rows.length === 0 ? NO_CELLS : rows.map(toStoredCell),
          },
        ];
      }
      const out: { collection: string; id: string; cells: StoredCell[] }[] = new Array(keys.length);
      const first = keys[0]!.collection;
      let oneCollection = true;
      for (let i = 0; i < keys.length; i++) {
        const { collection, id } = keys[i]!;
        out[i] = { collection, id, cells: NO_CELLS };
        if (collection !== first) oneCollection = false;
      }
      const rows = oneCollection
        ? this.s.loadManyIds.all(JSON.stringify(keys.map((k) => k.id)), first)
        : this.s.loadMany.all(JSON.stringify(keys.map((k) => [k.collection, k.id])));
      // Each row names the position of its key in the list: no lookup by key.
      for (const r of rows) {
        const d = out[r.i]!;
        if (d.cells === NO_CELLS) d.cells = [];
        d.cells.push(toStoredCell(r));
      }
      return out;
    });
  }
  async *scan(collection?: string): AsyncIterable<StoredDoc> {
    // Keyset-paged so no statement stays open across the caller's awaits.
    let after: [string, string, string] = [collection ?? '', '', ''];
    const docs = new DocGrouper();
    for (;;) {
      const rows = wrap('scan', () =>
        collection === undefined
          ? this.s.scanAll.all(after[0], after[1], after[2], SCAN_CHUNK_ROWS)
          : this.s.scanCollection.all(collection, after[1], after[2], SCAN_CHUNK_ROWS),
      );
      for (const r of rows) {
        const done = docs.add(r);
        if (done) yield done;
      }
      if (rows.length < SCAN_CHUNK_ROWS) break;
      const last = rows[rows.length - 1]!;
      after = [last.collection, last.id, last.field];
    }
    const last = docs.end();
    if (last) yield last;
  }
}

class SqliteWriter extends SqliteReader implements StorageWriter {
  readonly #w;
  constructor(
    s: Statements,
    w: {
      upsert: BulkInsert;
      cellUpsert: CellUpsert;
      dropDoc: Database.Statement<[string, string]>;
      insertChange: BulkInsert;
      insertChangeOf: SharedBulkInsert;
      insertPrior: BulkInsert;
      findMutations: Database.Statement<[string, string], { mutation_id: string; error: string | null }>;
      insertMutation: SharedBulkInsert;
      setMeta: Database.Statement<[string, string]>;
    },
  ) {
    super(s);
    this.#w = w;
  }
  async findMutations(
    clientId: string,
    mutationIds: readonly string[],
  ): Promise<Map<string, MutationResult>> {
    return wrap('read', () => {
      const out = new Map<string, MutationResult>();
      if (mutationIds.length === 0) return out;
      for (const row of this.#w.findMutations.all(JSON.stringify(mutationIds), clientId)) {
        const id = row.mutation_id;
        out.set(
          id,
          row.error === null
            ? { id, status: 'applied' }
            : { id, status: 'rejected', error: JSON.parse(row.error) as { code: string; message: string } },
        );
      }
      return out;
    });
  }
  async writeDocs(writes: readonly DocWrite[]): Promise<void> {
    if (writes.length === 0) return;
    wrap('write', () => {
      const w = this.#w;
      let head = this.metaNumber('head');
      const cells = w.cellUpsert.sink(w.upsert.sink());
      // The usual batch touches one collection: its change-log rows bind it once per statement.
      const first = writes[0]!.collection;
      let oneCollection = true;
      for (const d of writes)
        if (d.collection !== first) {
          oneCollection = false;
          break;
        }
      const changes = oneCollection ? w.insertChangeOf.sink(first) : w.insertChange.sink();
      const priors = w.insertPrior.sink();
      for (const d of writes) {
        const version = d.version;
        if (!(version > head))
          throw new StorageError(
            `Version ${version} is not above head ${head}; this is a bug in the engine.`,
          );
        head = version;
        const { collection, id } = d;
        // An update logs the replaced cells with the versions they were written at.
        if (d.prior !== null) priors.add(collection, id, version, this.#encodePrior(d, cells));
        if (d.dropOthers) {
          cells.flush(); // the drop follows every earlier write of the batch
          w.dropDoc.run(collection, id);
        }
        cells.add(d);
        if (oneCollection) changes.add(version, id);
        else changes.add(version, collection, id);
      }
      cells.flush();
      changes.flush();
      priors.flush();
      w.setMeta.run('head', String(head));
    });
  }
  /** A change's priors as stored: each with the version it was written at (read when not given). */
  #encodePrior(d: DocWrite, pending: { flush(): void }): string {
    const prior = d.prior!;
    let versions = d.priorVersions;
    if (versions === undefined) {
      pending.flush(); // the document's own earlier rows must be readable
      const byField = new Map<string, number>();
      for (const c of this.s.cellVersions.all(d.collection, d.id)) byField.set(c.field, c.version);
      versions = prior.map(([field]) => byField.get(field) ?? 0);
    }
    const stored: StoredPrior[] = new Array(prior.length);
    for (let i = 0; i < prior.length; i++) {
      const p = prior[i]!;
      stored[i] = p.length < 2 ? [p[0], versions[i] ?? 0] : [p[0], versions[i] ?? 0, p[1]];
    }
    return JSON.stringify(stored);
  }

  async recordMutations(
    clientId: string,
    results: readonly MutationResult[],
    version: number,
  ): Promise<void> {
    wrap('write', () => {
      const rows = this.#w.insertMutation.sink(clientId, version);
      for (const r of results) rows.add(r.id, r.status === 'applied' ? null : JSON.stringify(r.error));
      rows.flush();
    });
  }
}

/** The SQLite storage, with its effective settings for diagnostics. */
export interface SqliteStorage extends SyncStorage {
  /** The writer connection's journal mode and synchronous level, as SQLite reports them. */
  settings(): { journalMode: string; synchronous: Durability | 'extra' };
}

const SYNC_LEVELS = ['off', 'normal', 'full', 'extra'] as const;

const UPSERT_TAIL =
  'ON CONFLICT (collection, id, field) DO UPDATE SET value = excluded.value, object_type = excluded.object_type, hlc = excluded.hlc, version = excluded.version';

/**
 * Open (or create) the SQLite storage of one app.
 * @example
 * const storage = createSqliteStorage({ file: './data/todo.sqlite' });
 */
export function createSqliteStorage(options: SqliteStorageOptions): SqliteStorage {
  const durability = options.durability ?? 'full';
  const pragmaSync = durability === 'full' ? 'FULL' : durability === 'normal' ? 'NORMAL' : 'OFF';
  const db = wrap('open', () => new Database(options.file));
  let reader: Database.Database;
  try {
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${pragmaSync}`);
    db.pragma('busy_timeout = 5000');
    openSchema(db, options.file);
    reader = new Database(options.file, { readonly: true });
    reader.pragma('busy_timeout = 5000');
  } catch (err) {
    db.close();
    throw err instanceof StorageError
      ? err
      : new StorageError(`Cannot open ${options.file}: ${String(err)}`, { cause: err });
  }

  const writeStatements = new Statements(db);
  const writer = new SqliteWriter(writeStatements, {
    upsert: new BulkInsert(
      db,
      'INSERT INTO triples (collection, id, field, value, object_type, hlc, version)',
      7,
      UPSERT_TAIL,
    ),
    cellUpsert: new CellUpsert(db, UPSERT_TAIL),
    dropDoc: db.prepare('DELETE FROM triples WHERE collection = ? AND id = ?'),
    insertChange: new BulkInsert(db, 'INSERT INTO changes (version, collection, id)', 3),
    insertChangeOf: new SharedBulkInsert(
      db,
      'INSERT INTO changes (version, collection, id)',
      'column1, ?, column2',
      1,
      2,
    ),
    insertPrior: new BulkInsert(db, 'INSERT INTO priors (collection, id, version, prior)', 4),
    // The id list drives primary-key lookups (CROSS JOIN fixes the loop order; no IN table to build).
    findMutations: db.prepare(
      `SELECT m.mutation_id, m.error FROM json_each(?) AS j
       CROSS JOIN mutations AS m ON m.client_id = ? AND m.mutation_id = j.value`,
    ),
    insertMutation: new SharedBulkInsert(
      db,
      'INSERT INTO mutations (client_id, mutation_id, error, version)',
      '?, column1, column2, ?',
      2,
      2,
    ),
    setMeta: db.prepare(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ),
  });
  const readerView = new SqliteReader(new Statements(reader));
  const setMeta = db.prepare<[string, string]>(
    'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
  );
  const upsertCursor = db.prepare<[string, number, number]>(
    `INSERT INTO device_cursors (device_id, cursor, updated_at) VALUES (?, ?, ?)
     ON CONFLICT (device_id) DO UPDATE SET cursor = max(cursor, excluded.cursor), updated_at = excluded.updated_at`,
  );
  const writeLock = new Mutex();
  const readLock = new Mutex();
  let closed = false;
  const checkOpen = () => {
    if (closed) throw new StorageError(`The storage ${options.file} is closed.`);
  };

  return {
    settings() {
      return {
        journalMode: String(db.pragma('journal_mode', { simple: true })),
        synchronous: SYNC_LEVELS[Number(db.pragma('synchronous', { simple: true }))] ?? 'extra',
      };
    },
    read(fn) {
      return readLock.run(async () => {
        checkOpen();
        wrap('begin', () => reader.exec('BEGIN'));
        try {
          return await fn(readerView);
        } finally {
          if (reader.inTransaction) reader.exec('COMMIT');
        }
      });
    },
    write(fn) {
      return writeLock.run(async () => {
        checkOpen();
        wrap('begin', () => db.exec('BEGIN IMMEDIATE'));
        try {
          const result = await fn(writer);
          wrap('commit', () => db.exec('COMMIT'));
          return result;
        } catch (err) {
          if (db.inTransaction) db.exec('ROLLBACK');
          throw err;
        }
      });
    },
    async updateCursor(deviceId, cursor) {
      await writeLock.run(() => {
        checkOpen();
        wrap('write', () => upsertCursor.run(deviceId, cursor, Date.now()));
      });
    },
    async deviceCursors(): Promise<DeviceCursor[]> {
      return readLock.run(() => {
        checkOpen();
        return wrap('read', () =>
          reader
            .prepare<[], DeviceCursor>(
              'SELECT device_id AS deviceId, cursor, updated_at AS updatedAt FROM device_cursors ORDER BY device_id',
            )
            .all(),
        );
      });
    },
    gc({ olderThanVersion, dropTombstones = false }): Promise<GcResult> {
      return writeLock.run(() => {
        checkOpen();
        return wrap('gc', () =>
          db.transaction((): GcResult => {
            const head = Number(
              db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'head'").get()?.value ??
                0,
            );
            const old = Number(
              db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'horizon'").get()
                ?.value ?? 0,
            );
            const cut = Math.min(Math.max(0, Math.floor(olderThanVersion)), head + 1);
            const horizon = Math.max(old, cut - 1);
            if (horizon === old) return { horizon, changesDropped: 0, tombstonesDropped: 0 };
            const changesDropped = db.prepare('DELETE FROM changes WHERE version <= ?').run(horizon).changes;
            db.prepare('DELETE FROM priors WHERE version <= ?').run(horizon);
            const tombstonesDropped = dropTombstones
              ? db.prepare("DELETE FROM triples WHERE field = '_deleted' AND version <= ?").run(horizon)
                  .changes
              : 0;
            setMeta.run('horizon', String(horizon));
            return { horizon, changesDropped, tombstonesDropped };
          })(),
        );
      });
    },
    async sizeBytes() {
      const size = (f: string) =>
        stat(f).then(
          (s) => s.size,
          () => 0,
        );
      const [main, wal] = await Promise.all([size(options.file), size(`${options.file}-wal`)]);
      return main + wal;
    },
    async close() {
      if (closed) return;
      await writeLock.run(async () => {
        await readLock.idle();
        closed = true;
        reader.close();
        db.close();
      });
    },
  };
}
