/**
 * The Postgres storage: one schema per app in a shared database (node-postgres, a small pool
 * per app), the same contract and layout as the SQLite storage (`sqlite-schema.ts`, schema 2).
 *
 * - Reads run in a `REPEATABLE READ READ ONLY` transaction: one consistent snapshot that never
 *   sees an uncommitted write.
 * - Writes are serialized per app twice over: in this process (a mutex, so a push waits its
 *   turn without holding a connection) and across processes (a transaction-scoped advisory
 *   lock on the app's schema), so several servers may share one database.
 * - Durability: `full` and `normal` commit with `synchronous_commit = on` (Postgres makes no
 *   weaker promise that still survives a killed process); `off` sets it off (the last commits
 *   before a crash of the database server may be lost; never corruption).
 *
 * Text columns use the "C" collation, so documents scan in code-point order (as SQLite's).
 * Values are JSON text (`NULL` = unset); versions are `bigint`, read as numbers.
 */
import pg from 'pg';
import {
  type CellValue,
  type JsonValue,
  type MutationResult,
  StorageError,
  ValidationError,
} from '@omnisync/core';
import { Mutex } from '../util/mutex.js';
import { type CellRow, DocGrouper, type StoredPrior, toStoredCell, undoPriors } from './stored-rows.js';
import type { Durability } from './sqlite-storage.js';
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
  StorageFactory,
} from './storage.js';

/** The schema layout this server writes (the same history as the SQLite one). */
const SCHEMA_VERSION = 2;
const SCAN_CHUNK_ROWS = 5000;
/** The channel commits are announced on (payload `<schema>\n<head>`), for the other processes. */
const COMMIT_CHANNEL = 'omnisync_commits';
/** Delay before a lost notification connection is opened again. */
const RELISTEN_MS = 1000;

/** Options of {@link createPostgresStorage}. */
export interface PostgresStorageOptions {
  /** A node-postgres connection string, e.g. `postgres://user@127.0.0.1:5432/db`. */
  connectionString: string;
  /** The Postgres schema holding this app's tables (created when missing). */
  schema: string;
  /** Default `'full'`; see the file comment. */
  durability?: Durability;
  /** Connections of the pool (default 4 for one storage, 10 for a factory's apps together). */
  maxConnections?: number;
  /** `application_name` of its connections, as `pg_stat_activity` shows them (default `omnisync`). */
  applicationName?: string;
}

/** @internal Options of {@link createPostgresStorage} given by a factory: the database its apps share. */
interface SharedDatabaseOption {
  database?: PgDatabase;
}

/** Options of {@link createPostgresStorageFactory}. */
export interface PostgresStorageFactoryOptions extends Omit<PostgresStorageOptions, 'schema'> {
  /** Each app's schema is this prefix followed by the app name (default `omnisync_`). */
  schemaPrefix?: string;
}

type Row = Record<string, unknown>;

const INT8_OID = 20;
/** bigint columns (versions, cursors, times) as numbers: they stay far below 2^53. */
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8_OID
      ? Number
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

const encodeValue = (v: CellValue): string | null => (v === undefined ? null : JSON.stringify(v));

const hasNul = (s: string) => s.includes('\u0000');
/**
 * Postgres text cannot hold U+0000. The engine refuses such keys on every storage before a
 * push applies (core checkPushKeys); this is the backstop for writes that come another way.
 */
function refuseNul(c: { collection: string; id: string; field: string }): never {
  throw new ValidationError(
    `A document id or field name cannot hold U+0000 (${c.collection}/${JSON.stringify(c.id)}.${JSON.stringify(c.field)}); use ids and field names without it.`,
    { details: { collection: c.collection } },
  );
}

/** A quoted SQL identifier. */
const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

function storageError(what: string, err: unknown): StorageError {
  if (err instanceof StorageError) return err;
  return new StorageError(
    `Postgres ${what} failed: ${err instanceof Error ? err.message : String(err)}. Nothing was acknowledged; retry.`,
    { cause: err },
  );
}

async function wrap<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw storageError(what, err);
  }
}

const tables = (s: string) => `
CREATE TABLE IF NOT EXISTS ${s}.triples (
  collection TEXT COLLATE "C" NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  field TEXT COLLATE "C" NOT NULL,
  value TEXT,
  hlc TEXT COLLATE "C" NOT NULL,
  version BIGINT NOT NULL,
  PRIMARY KEY (collection, id, field)
);
CREATE TABLE IF NOT EXISTS ${s}.changes (
  version BIGINT PRIMARY KEY,
  collection TEXT COLLATE "C" NOT NULL,
  id TEXT COLLATE "C" NOT NULL
);
CREATE TABLE IF NOT EXISTS ${s}.priors (
  collection TEXT COLLATE "C" NOT NULL,
  id TEXT COLLATE "C" NOT NULL,
  version BIGINT NOT NULL,
  prior TEXT NOT NULL,
  PRIMARY KEY (collection, id, version)
);
CREATE INDEX IF NOT EXISTS priors_by_version ON ${s}.priors (version);
CREATE TABLE IF NOT EXISTS ${s}.mutations (
  client_id TEXT COLLATE "C" NOT NULL,
  mutation_id TEXT COLLATE "C" NOT NULL,
  error TEXT,
  version BIGINT NOT NULL,
  PRIMARY KEY (client_id, mutation_id)
);
CREATE TABLE IF NOT EXISTS ${s}.device_cursors (
  device_id TEXT COLLATE "C" PRIMARY KEY,
  cursor BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS ${s}.meta (key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL);
`;

/** Reads over one connection inside a transaction. */
class PgReader implements StorageReader {
  constructor(
    protected readonly c: pg.PoolClient,
    protected readonly s: string,
  ) {}

  protected async q<R>(what: string, sql: string, params: unknown[] = []): Promise<R[]> {
    return wrap(what, async () => (await this.c.query(sql, params)).rows as R[]);
  }
  protected async metaNumber(key: string): Promise<number> {
    const rows = await this.q<{ value: string }>('read', `SELECT value FROM ${this.s}.meta WHERE key = $1`, [
      key,
    ]);
    return rows.length === 0 ? 0 : Number(rows[0]!.value);
  }
  head(): Promise<number> {
    return this.metaNumber('head');
  }
  horizon(): Promise<number> {
    return this.metaNumber('horizon');
  }
  changesSince(cursor: number, limit: number): Promise<ChangeEntry[]> {
    return this.q<ChangeEntry>(
      'read',
      `SELECT version, collection, id FROM ${this.s}.changes WHERE version > $1 ORDER BY version LIMIT $2`,
      [cursor, limit],
    );
  }
  async priorsSince(key: DocKey, cursor: number): Promise<Priors[]> {
    const rows = await this.q<{ prior: string }>(
      'read',
      `SELECT prior FROM ${this.s}.priors WHERE collection = $1 AND id = $2 AND version > $3 ORDER BY version DESC`,
      [key.collection, key.id, cursor],
    );
    return undoPriors(
      rows.map((r) => r.prior),
      await this.cellVersions(key),
      cursor,
    );
  }
  async priorsSinceMany(keys: readonly DocKey[], cursor: number): Promise<Priors[][]> {
    if (keys.length === 0) return [];
    const ids = keys.map((k) => (hasNul(k.id) ? '' : k.id));
    const args = [keys.map((k) => k.collection), ids];
    const join = (table: string) =>
      `FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(collection, id, i)
       JOIN ${this.s}.${table} AS t ON t.collection = k.collection COLLATE "C" AND t.id = k.id COLLATE "C"`;
    const priors = await this.q<{ i: number; prior: string }>(
      'read',
      `SELECT k.i, t.prior ${join('priors')} AND t.version > $3 ORDER BY k.i, t.version DESC`,
      [...args, cursor],
    );
    const versions = await this.q<{ i: number; field: string; version: number }>(
      'read',
      `SELECT k.i, t.field, t.version ${join('triples')}`,
      args,
    );
    const rowsOf: string[][] = keys.map(() => []);
    const versionsOf: { field: string; version: number }[][] = keys.map(() => []);
    for (const r of priors) rowsOf[r.i - 1]!.push(r.prior);
    for (const r of versions) versionsOf[r.i - 1]!.push(r);
    return keys.map((_, i) => undoPriors(rowsOf[i]!, versionsOf[i]!, cursor));
  }
  protected cellVersions(key: DocKey): Promise<{ field: string; version: number }[]> {
    return this.q<{ field: string; version: number }>(
      'read',
      `SELECT field, version FROM ${this.s}.triples WHERE collection = $1 AND id = $2`,
      [key.collection, key.id],
    );
  }
  async loadDocs(keys: readonly DocKey[]): Promise<StoredDoc[]> {
    if (keys.length === 0) return [];
    const out: { collection: string; id: string; cells: StoredCell[] }[] = keys.map((k) => ({
      collection: k.collection,
      id: k.id,
      cells: [],
    }));
    // A key holding U+0000 cannot be stored here, so it has no cells (and Postgres would refuse
    // the query): it is asked as an empty id, which no document has.
    const ids = keys.map((k) => (hasNul(k.id) ? '' : k.id));
    // The key list drives primary-key lookups; each row names its key's position.
    const rows = await this.q<CellRow & { i: number }>(
      'read',
      // One primary-key range scan per key (see the pool's planner settings); the keys compare
      // in the columns' "C" collation, or the index could not serve them.
      `SELECT k.i, t.field, t.value, t.hlc, t.version
       FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(collection, id, i)
       JOIN ${this.s}.triples AS t ON t.collection = k.collection COLLATE "C" AND t.id = k.id COLLATE "C"`,
      [keys.map((k) => k.collection), ids],
    );
    for (const r of rows) out[r.i - 1]!.cells.push(toStoredCell(r));
    return out;
  }
  async *scan(collection?: string): AsyncIterable<StoredDoc> {
    // Keyset-paged: no cursor stays open across the caller's awaits.
    let after: [string, string, string] = [collection ?? '', '', ''];
    const docs = new DocGrouper();
    for (;;) {
      const rows = await this.q<CellRow & { collection: string; id: string }>(
        'scan',
        collection === undefined
          ? `SELECT collection, id, field, value, hlc, version FROM ${this.s}.triples
             WHERE (collection, id, field) > ($1, $2, $3) ORDER BY collection, id, field LIMIT $4`
          : `SELECT collection, id, field, value, hlc, version FROM ${this.s}.triples
             WHERE collection = $1 AND (id, field) > ($2, $3) ORDER BY id, field LIMIT $4`,
        [after[0], after[1], after[2], SCAN_CHUNK_ROWS],
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

/** Cell upserts of a batch, sent in one statement each run (a drop flushes what came before). */
class CellBatch {
  readonly cols: [string[], string[], string[], (string | null)[], string[], number[]] = [
    [],
    [],
    [],
    [],
    [],
    [],
  ];
  /** Row of each key in this batch: a later write of the same cell replaces it (one statement may not upsert a row twice). */
  readonly #at = new Map<string, number>();

  add(collection: string, id: string, field: string, value: CellValue, hlc: string, version: number): void {
    const key = `${collection}\u0000${id}\u0000${field}`;
    const at = this.#at.get(key);
    const row = [collection, id, field, encodeValue(value), hlc, version] as const;
    const i = at ?? this.cols[0].length;
    if (at === undefined) this.#at.set(key, i);
    for (let c = 0; c < 6; c++) (this.cols[c] as unknown[])[i] = row[c];
  }
  get size(): number {
    return this.cols[0].length;
  }
  clear(): void {
    for (const c of this.cols) c.length = 0;
    this.#at.clear();
  }
}

class PgWriter extends PgReader implements StorageWriter {
  /** The head this transaction wrote up to (0: it wrote no document). */
  wroteHead = 0;

  async findMutations(
    clientId: string,
    mutationIds: readonly string[],
  ): Promise<Map<string, MutationResult>> {
    const out = new Map<string, MutationResult>();
    if (mutationIds.length === 0) return out;
    const rows = await this.q<{ mutation_id: string; error: string | null }>(
      'read',
      `SELECT mutation_id, error FROM ${this.s}.mutations WHERE client_id = $1 AND mutation_id = ANY($2::text[])`,
      [clientId, [...mutationIds]],
    );
    for (const { mutation_id: id, error } of rows)
      out.set(
        id,
        error === null
          ? { id, status: 'applied' }
          : { id, status: 'rejected', error: JSON.parse(error) as { code: string; message: string } },
      );
    return out;
  }

  async writeDocs(writes: readonly DocWrite[]): Promise<void> {
    if (writes.length === 0) return;
    let head = await this.metaNumber('head');
    const cells = new CellBatch();
    const changes: [number[], string[], string[]] = [[], [], []];
    const priors: [string[], string[], number[], string[]] = [[], [], [], []];
    for (const d of writes) for (const c of d.cells) if (hasNul(c.id) || hasNul(c.field)) refuseNul(c);
    for (const d of writes) {
      const version = d.version;
      if (!(version > head))
        throw new StorageError(`Version ${version} is not above head ${head}; this is a bug in the engine.`);
      head = version;
      const { collection, id } = d;
      if (d.prior !== null) {
        let versions = d.priorVersions;
        if (versions === undefined) {
          await this.#flushCells(cells); // the document's own earlier rows must be readable
          const byField = new Map<string, number>();
          for (const c of await this.cellVersions(d)) byField.set(c.field, c.version);
          versions = d.prior.map(([field]) => byField.get(field) ?? 0);
        }
        const stored: StoredPrior[] = d.prior.map((p, i) =>
          p.length < 2 ? [p[0], versions[i] ?? 0] : [p[0], versions[i] ?? 0, p[1] as JsonValue],
        );
        priors[0].push(collection);
        priors[1].push(id);
        priors[2].push(version);
        priors[3].push(JSON.stringify(stored));
      }
      if (d.dropOthers) {
        await this.#flushCells(cells); // the drop follows every earlier write of the batch
        await this.q('write', `DELETE FROM ${this.s}.triples WHERE collection = $1 AND id = $2`, [
          collection,
          id,
        ]);
      }
      for (const c of d.cells) cells.add(c.collection, c.id, c.field, c.value, c.hlc, version);
      changes[0].push(version);
      changes[1].push(collection);
      changes[2].push(id);
    }
    await this.#flushCells(cells);
    await this.q(
      'write',
      `INSERT INTO ${this.s}.changes (version, collection, id) SELECT * FROM unnest($1::int8[], $2::text[], $3::text[])`,
      changes,
    );
    if (priors[0].length > 0)
      await this.q(
        'write',
        `INSERT INTO ${this.s}.priors (collection, id, version, prior)
         SELECT * FROM unnest($1::text[], $2::text[], $3::int8[], $4::text[])`,
        priors,
      );
    await this.setMeta('head', String(head));
    this.wroteHead = head;
  }

  async #flushCells(cells: CellBatch): Promise<void> {
    if (cells.size === 0) return;
    await this.q(
      'write',
      `INSERT INTO ${this.s}.triples (collection, id, field, value, hlc, version)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int8[])
       ON CONFLICT (collection, id, field) DO UPDATE SET value = excluded.value, hlc = excluded.hlc, version = excluded.version`,
      cells.cols,
    );
    cells.clear();
  }

  async recordMutations(
    clientId: string,
    results: readonly MutationResult[],
    version: number,
  ): Promise<void> {
    if (results.length === 0) return;
    await this.q(
      'write',
      `INSERT INTO ${this.s}.mutations (client_id, mutation_id, error, version)
       SELECT $1, m, e, $2 FROM unnest($3::text[], $4::text[]) AS r(m, e)`,
      [
        clientId,
        version,
        results.map((r) => r.id),
        results.map((r) => (r.status === 'applied' ? null : JSON.stringify(r.error))),
      ],
    );
  }

  setMeta(key: string, value: string): Promise<unknown> {
    return this.q(
      'write',
      `INSERT INTO ${this.s}.meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
      [key, value],
    );
  }
}

/**
 * One database as the storages of its apps share it: a pool (with the planner settings every
 * statement here wants) and one LISTEN connection for the commit announcements of all of
 * them, open while anybody watches, opened again when lost (each watcher then hears its
 * app's current head, covering what was announced meanwhile). Ended with its last storage.
 */
class PgDatabase {
  readonly pool: pg.Pool;
  readonly #connectionString: string;
  #refs = 0;
  ended = false;
  readonly #watchers = new Map<
    string,
    { readHead: () => Promise<number>; fns: Set<(head: number) => void> }
  >();
  #listener: pg.Client | undefined;
  #relisten: ReturnType<typeof setTimeout> | undefined;

  readonly #applicationName: string;

  constructor(connectionString: string, max: number, applicationName = 'omnisync') {
    this.#connectionString = connectionString;
    this.#applicationName = applicationName;
    this.pool = new pg.Pool({
      connectionString,
      max,
      types,
      application_name: applicationName,
      // Every statement here is a primary-key lookup or range: a planner with stale statistics
      // (a table that just grew) would scan and sort the whole table for a batch of keys instead.
      options: '-c enable_seqscan=off -c enable_hashjoin=off -c enable_mergejoin=off',
    });
    // An idle client's error (the server went away) must not crash the process: the next query reports it.
    this.pool.on('error', () => {});
  }

  acquire(): void {
    this.#refs++;
  }

  async release(): Promise<void> {
    if (--this.#refs > 0) return;
    this.ended = true;
    this.#watchers.clear();
    this.#unlisten();
    await this.pool.end();
  }

  /** Call `fn` with each head `schema` reaches (announced commits, and its head after every (re)listen). */
  watch(schema: string, readHead: () => Promise<number>, fn: (head: number) => void): () => void {
    let w = this.#watchers.get(schema);
    if (!w) this.#watchers.set(schema, (w = { readHead, fns: new Set() }));
    w.fns.add(fn);
    if (this.#listener)
      void readHead().then(fn, () => {}); // listening already: catch up now
    else void this.#listen();
    return () => {
      const cur = this.#watchers.get(schema);
      cur?.fns.delete(fn);
      if (cur?.fns.size === 0) this.#watchers.delete(schema);
      if (this.#watchers.size === 0) this.#unlisten();
    };
  }

  #unlisten(): void {
    if (this.#relisten) clearTimeout(this.#relisten);
    this.#relisten = undefined;
    const c = this.#listener;
    this.#listener = undefined;
    c?.end().catch(() => {});
  }

  async #listen(): Promise<void> {
    if (this.ended || this.#watchers.size === 0 || this.#listener !== undefined) return;
    const c = new pg.Client({
      connectionString: this.#connectionString,
      types,
      application_name: this.#applicationName,
    });
    this.#listener = c;
    const lost = () => {
      if (this.#listener !== c) return;
      this.#listener = undefined;
      c.end().catch(() => {});
      if (!this.ended && this.#watchers.size > 0)
        this.#relisten ??= setTimeout(() => {
          this.#relisten = undefined;
          void this.#listen();
        }, RELISTEN_MS);
    };
    c.on('error', lost);
    c.on('end', lost);
    c.on('notification', (n) => {
      const payload = n.payload ?? '';
      const at = payload.lastIndexOf('\n');
      if (at < 0) return;
      const w = this.#watchers.get(payload.slice(0, at));
      const head = Number(payload.slice(at + 1));
      if (w && Number.isSafeInteger(head)) for (const fn of [...w.fns]) fn(head);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${COMMIT_CHANNEL}`);
      // Anything committed while nobody listened: each app's current head.
      for (const w of [...this.#watchers.values()]) {
        const head = await w.readHead();
        for (const fn of [...w.fns]) fn(head);
      }
    } catch {
      lost();
    }
  }
}

/**
 * Open (or create) the Postgres storage of one app.
 * @example
 * const storage = await createPostgresStorage({ connectionString: 'postgres://127.0.0.1/app', schema: 'omnisync_todo' });
 */
export async function createPostgresStorage(
  options: PostgresStorageOptions & SharedDatabaseOption,
): Promise<SyncStorage> {
  const durability = options.durability ?? 'full';
  if (!['full', 'normal', 'off'].includes(durability))
    throw new StorageError(`durability must be full, normal or off, got ${String(durability)}.`);
  if (typeof options.schema !== 'string' || options.schema.length === 0 || options.schema.length > 63)
    throw new StorageError(
      `The Postgres schema name must be 1-63 characters, got ${JSON.stringify(options.schema)}.`,
    );
  const s = ident(options.schema);
  const db =
    options.database ??
    new PgDatabase(options.connectionString, options.maxConnections ?? 4, options.applicationName);
  db.acquire();
  const pool = db.pool;
  const syncCommit = durability === 'off' ? 'off' : 'on';
  // One advisory-lock key per app schema (across every process sharing the database).
  let lockKey: string;
  try {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      // Two servers creating the same app at once: one creates, the other waits and finds it.
      await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`omnisync-create:${options.schema}`]);
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
      await c.query(tables(s));
      const found = await c.query<{ value: string }>(`SELECT value FROM ${s}.meta WHERE key = 'schema'`);
      const version = found.rows.length === 0 ? undefined : Number(found.rows[0]!.value);
      if (version === undefined)
        await c.query(`INSERT INTO ${s}.meta (key, value) VALUES ('schema', $1)`, [String(SCHEMA_VERSION)]);
      else if (version > SCHEMA_VERSION)
        throw new StorageError(
          `The Postgres schema ${options.schema} was written by a newer OmniSync server (schema ${version}; this one knows ${SCHEMA_VERSION}). Run the newer server, or point this one at another schema.`,
        );
      await c.query('COMMIT');
      lockKey = String(
        (await c.query<{ k: number }>('SELECT hashtext($1) AS k', [`omnisync:${options.schema}`])).rows[0]!.k,
      );
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.release();
    }
  } catch (err) {
    await db.release().catch(() => {});
    throw err instanceof StorageError
      ? err
      : new StorageError(
          `Cannot open the Postgres storage (schema ${options.schema}): ${err instanceof Error ? err.message : String(err)}. Check the connection string and that the database is up.`,
          { cause: err },
        );
  }

  const writeLock = new Mutex();
  let closed = false;
  let closing: Promise<void> | undefined;
  const checkOpen = () => {
    if (closed) throw new StorageError(`The Postgres storage (schema ${options.schema}) is closed.`);
  };
  const connect = () => wrap('connect', () => pool.connect());
  // Reads (and cursor writes) in flight: close waits for them before ending the pool. Ended
  // under them, a read still queued for a connection would never settle (sim seed 64: a
  // restart hung on it).
  const inFlight = new Set<Promise<unknown>>();
  const track = <T>(p: Promise<T>): Promise<T> => {
    inFlight.add(p);
    const done = () => inFlight.delete(p);
    p.then(done, done);
    return p;
  };

  /** Run `fn` in a transaction on a pooled connection; roll back when it throws. */
  async function transaction<T>(begin: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await connect();
    try {
      await wrap('begin', () => c.query(begin));
      try {
        const result = await fn(c);
        await wrap('commit', () => c.query('COMMIT'));
        return result;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => {});
        throw err;
      }
    } finally {
      c.release();
    }
  }
  const beginWrite = `BEGIN; SET LOCAL synchronous_commit = ${syncCommit}; SELECT pg_advisory_xact_lock(${lockKey})`;

  const readHead = (): Promise<number> =>
    track(
      (async () => {
        checkOpen();
        const { rows } = await pool.query<{ value: string }>(
          `SELECT value FROM ${s}.meta WHERE key = 'head'`,
        );
        return rows.length === 0 ? 0 : Number(rows[0]!.value);
      })(),
    );
  let unwatch: (() => void)[] = [];

  return {
    async read(fn) {
      checkOpen();
      return track(
        transaction('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', (c) => fn(new PgReader(c, s))),
      );
    },
    write(fn) {
      return writeLock.run(() => {
        checkOpen();
        return transaction(beginWrite, async (c) => {
          const w = new PgWriter(c, s);
          const result = await fn(w);
          // Delivered to every listening process when (and only if) this transaction commits.
          if (w.wroteHead > 0)
            await wrap('write', () =>
              c.query('SELECT pg_notify($1, $2)', [COMMIT_CHANNEL, `${options.schema}\n${w.wroteHead}`]),
            );
          return result;
        });
      });
    },
    watchCommits(fn) {
      checkOpen();
      const stop = db.watch(options.schema, readHead, fn);
      unwatch.push(stop);
      return () => {
        unwatch = unwatch.filter((u) => u !== stop);
        stop();
      };
    },
    async updateCursor(deviceId, cursor) {
      await writeLock.run(() => {
        checkOpen();
        return wrap('write', () =>
          pool.query(
            `INSERT INTO ${s}.device_cursors (device_id, cursor, updated_at) VALUES ($1, $2, $3)
             ON CONFLICT (device_id) DO UPDATE SET cursor = GREATEST(${s}.device_cursors.cursor, excluded.cursor), updated_at = excluded.updated_at`,
            [deviceId, cursor, Date.now()],
          ),
        );
      });
    },
    async deviceCursors(): Promise<DeviceCursor[]> {
      checkOpen();
      return track(
        wrap(
          'read',
          async () =>
            (
              await pool.query<DeviceCursor & Row>(
                `SELECT device_id AS "deviceId", cursor, updated_at AS "updatedAt" FROM ${s}.device_cursors ORDER BY device_id`,
              )
            ).rows,
        ),
      );
    },
    gc({ olderThanVersion, dropTombstones = false }): Promise<GcResult> {
      return writeLock.run(() => {
        checkOpen();
        return transaction(beginWrite, async (c) => {
          const w = new PgWriter(c, s);
          const head = await w.head();
          const old = await w.horizon();
          const cut = Math.min(Math.max(0, Math.floor(olderThanVersion)), head + 1);
          const horizon = Math.max(old, cut - 1);
          if (horizon === old) return { horizon, changesDropped: 0, tombstonesDropped: 0 };
          const run = (sql: string) => wrap('gc', async () => (await c.query(sql, [horizon])).rowCount ?? 0);
          const changesDropped = await run(`DELETE FROM ${s}.changes WHERE version <= $1`);
          await run(`DELETE FROM ${s}.priors WHERE version <= $1`);
          const tombstonesDropped = dropTombstones
            ? await run(`DELETE FROM ${s}.triples WHERE field = '_deleted' AND version <= $1`)
            : 0;
          await w.setMeta('horizon', String(horizon));
          return { horizon, changesDropped, tombstonesDropped };
        });
      });
    },
    async sizeBytes() {
      checkOpen();
      const { rows } = await track(
        wrap('read', () =>
          pool.query<{ bytes: string | null }>(
            `SELECT sum(pg_total_relation_size(c.oid)) AS bytes FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relkind = 'r'`,
            [options.schema],
          ),
        ),
      );
      return Number(rows[0]?.bytes ?? 0);
    },
    close() {
      closing ??= writeLock.run(async () => {
        closed = true; // nothing new starts; the reads that run finish first
        for (const stop of unwatch.splice(0)) stop();
        while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
        await db.release();
      });
      return closing;
    },
  };
}

/**
 * A storage factory for the server: each app in its own schema (`<schemaPrefix><app>`) of one
 * Postgres database.
 * @example
 * createServer({ storage: createPostgresStorageFactory({ connectionString: process.env.DATABASE_URL! }) });
 */
export function createPostgresStorageFactory(options: PostgresStorageFactoryOptions): StorageFactory {
  const { schemaPrefix = 'omnisync_', ...rest } = options;
  // One pool and one notification connection for every app of the server (made again after
  // every app was closed, for a server that is restarted on the same factory).
  let database: PgDatabase | undefined;
  return (app) => {
    if (database === undefined || database.ended)
      database = new PgDatabase(
        options.connectionString,
        options.maxConnections ?? 10,
        options.applicationName,
      );
    return createPostgresStorage({ ...rest, database, schema: `${schemaPrefix}${app}` });
  };
}
