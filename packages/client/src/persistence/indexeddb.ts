/**
 * IndexedDB persistence for browsers. One database per store name (`omnisync:<name>`),
 * three object stores:
 *
 *   cells         key [collection, id, field] (in-line), value: the Cell
 *   transactions  key: transaction id, value { seq, tx }; index "order" on seq, the
 *                 position of the first put, so `load` returns the outbox in that order
 *   meta          key: meta name, value: its JSON value
 *
 * Every commit is one readwrite IndexedDB transaction over the three stores (atomic: the
 * optimistic cells and their outbox entry land together or not at all), opened with
 * `durability: 'strict'` by default so it resolves only once the data is on disk.
 *
 * Nothing touches `indexedDB` or `window` until the first call, so importing this module
 * on a server (SSR) is safe.
 */
import {
  type Cell,
  DELETED_FIELD,
  InvalidStateError,
  PersistenceCorruptError,
  PersistenceError,
  PersistenceQuotaError,
  ValidationError,
} from '@omnisync/core';
import { type NormalizedBatch, normalizeBatch } from './batch.js';
import { Lifecycle } from './lifecycle.js';
import { defineOwn } from './state.js';
import type { PersistedState, PersistedTransaction, Persistence, PersistenceBatch } from './types.js';

/** Options for {@link createIndexedDbPersistence}. */
export interface IndexedDbPersistenceOptions {
  /** Store name; the database is called `omnisync:<name>`. One name per app (and user). */
  name: string;
  /** The IndexedDB factory; defaults to `globalThis.indexedDB` (pass fake-indexeddb's in Node). */
  indexedDB?: IDBFactory;
  /** The key range constructor; defaults to `globalThis.IDBKeyRange` (fake-indexeddb exports one). */
  IDBKeyRange?: typeof IDBKeyRange;
  /**
   * `'strict'` (default): a commit resolves once the browser has flushed it to disk.
   * `'relaxed'`: faster, but the last commits can be lost if the OS crashes.
   */
  durability?: 'strict' | 'relaxed';
}

/** The database schema version this code reads and writes. */
export const INDEXEDDB_VERSION = 1;
const STORES = ['cells', 'transactions', 'meta'] as const;
/** Most commits written in one IndexedDB transaction. */
const MAX_GROUP = 2000;

/** Wraps a request callback so that an exception in it aborts the transaction with that error. */
type Safe = (fn: () => void) => () => void;

interface Group {
  batches: NormalizedBatch[];
  done: Promise<void>;
}

interface TxRecord {
  seq: number;
  tx: PersistedTransaction;
}

/** A persistence backed by the browser's IndexedDB (or any IDBFactory passed in). */
export function createIndexedDbPersistence(options: IndexedDbPersistenceOptions): Persistence {
  if (typeof options?.name !== 'string' || options.name.length === 0)
    throw new ValidationError('createIndexedDbPersistence needs a non-empty `name` (one per app and user).');
  const dbName = `omnisync:${options.name}`;
  const label = `indexeddb:${options.name}`;
  const durability = options.durability ?? 'strict';
  const life = new Lifecycle(label);
  let opening: Promise<IDBDatabase> | undefined;
  let db: IDBDatabase | undefined;
  let lostReason: string | undefined;
  /**
   * Group commit: commits called while an earlier operation is in flight are written in one
   * IndexedDB transaction (in call order, with exactly the semantics of one after the
   * other), so a burst of small commits costs one disk flush instead of one each. They
   * succeed or fail together.
   */
  let group: Group | undefined;
  /** Operations other than commit close the open group, so later commits land after them. */
  const ordered = <T>(op: () => Promise<T>): Promise<T> => {
    group = undefined;
    return life.serial(op);
  };

  const factory = (): { idb: IDBFactory; range: typeof IDBKeyRange } => {
    const g = globalThis as { indexedDB?: IDBFactory; IDBKeyRange?: typeof IDBKeyRange };
    const idb = options.indexedDB ?? g.indexedDB;
    const range = options.IDBKeyRange ?? g.IDBKeyRange;
    if (!idb || !range)
      throw new PersistenceError(
        `${label}: IndexedDB is not available here${idb ? ' (no IDBKeyRange)' : ''}; pass { indexedDB, IDBKeyRange } (e.g. from fake-indexeddb) or use createMemoryPersistence() on the server.`,
      );
    return { idb, range };
  };

  const open = (): Promise<IDBDatabase> => {
    if (lostReason) return Promise.reject(new PersistenceError(`${label}: ${lostReason}`));
    opening ??= openDatabase(factory().idb, dbName, label).then(
      (d) => {
        db = d;
        // Another tab upgrading the schema asks us to let go; later calls then fail clearly.
        d.onversionchange = () => {
          d.close();
          lostReason =
            'the database was upgraded or deleted by another tab; reload the page to use the new version.';
          opening = undefined;
          db = undefined;
        };
        d.onclose = () => {
          lostReason ??=
            'the browser closed the database unexpectedly (storage cleared or disk error); reload the page.';
          opening = undefined;
          db = undefined;
        };
        return d;
      },
      (err: unknown) => {
        opening = undefined;
        throw err;
      },
    );
    return opening;
  };

  /** Run `body` in one transaction; resolves when it commits, rejects (rolled back) on error. */
  /**
   * Run `body` in one transaction; resolves when it commits, rejects (rolled back) on error.
   * `body` gets `safe(fn)` to wrap its request callbacks: an exception there aborts the
   * transaction and becomes the rejection reason.
   */
  const inTransaction = async <T>(
    mode: IDBTransactionMode,
    body: (tx: IDBTransaction, safe: Safe) => () => T,
  ): Promise<T> => {
    const d = await open();
    const action = mode === 'readonly' ? 'read' : 'write';
    return new Promise<T>((resolve, reject) => {
      let tx: IDBTransaction;
      try {
        tx = d.transaction(STORES, mode, { durability });
      } catch (err) {
        reject(wrapError(label, 'start a transaction', err));
        return;
      }
      let thrown: { err: unknown } | undefined;
      const fail = (err: unknown) => {
        thrown ??= { err };
        try {
          tx.abort();
        } catch {
          // already finished or aborting: the rejection carries the first error
        }
      };
      const safe: Safe = (fn) => () => {
        try {
          fn();
        } catch (err) {
          fail(err);
        }
      };
      let result: () => T;
      tx.oncomplete = () => {
        try {
          resolve(result());
        } catch (err) {
          reject(err);
        }
      };
      tx.onabort = () => reject(wrapError(label, action, thrown ? thrown.err : tx.error));
      try {
        result = body(tx, safe);
      } catch (err) {
        fail(err);
      }
    });
  };

  const flushGroup = (g: Group): Promise<void> => {
    if (group === g) group = undefined; // commits from now on form the next group
    const { range } = factory();
    return inTransaction('readwrite', (tx, safe) => {
      writeBatches(tx, g.batches, range, safe);
      return () => undefined;
    });
  };

  return {
    name: label,
    async load(): Promise<PersistedState> {
      life.guard('load');
      return ordered(() =>
        inTransaction('readonly', (tx) => {
          const cells = tx.objectStore('cells').getAll();
          const txs = tx.objectStore('transactions').index('order').getAll();
          const metaKeys = tx.objectStore('meta').getAllKeys();
          const metaValues = tx.objectStore('meta').getAll();
          return () =>
            decodeState(label, dbName, cells.result, txs.result, metaKeys.result, metaValues.result);
        }),
      );
    },
    async commit(batch: PersistenceBatch): Promise<void> {
      life.guard('commit');
      const normalized = normalizeBatch(batch);
      if (!normalized) return;
      let g = group;
      if (!g || g.batches.length >= MAX_GROUP) {
        const fresh: Group = { batches: [], done: Promise.resolve() };
        fresh.done = life.serial(() => flushGroup(fresh));
        group = g = fresh;
      }
      g.batches.push(normalized);
      await g.done;
    },
    async clear(): Promise<void> {
      life.guard('clear');
      await ordered(() =>
        inTransaction('readwrite', (tx) => {
          for (const s of STORES) tx.objectStore(s).clear();
          return () => undefined;
        }),
      );
    },
    close: () =>
      life.close(async () => {
        group = undefined;
        const d = db ?? (opening ? await opening.catch(() => undefined) : undefined);
        d?.close();
        db = undefined;
        opening = undefined;
      }),
  };
}

function openDatabase(idb: IDBFactory, dbName: string, label: string): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    let req: IDBOpenDBRequest;
    try {
      req = idb.open(dbName, INDEXEDDB_VERSION);
    } catch (err) {
      reject(wrapError(label, 'open the database', err));
      return;
    }
    req.onupgradeneeded = (event) => {
      const d = req.result;
      if (event.oldVersion < 1) {
        d.createObjectStore('cells', { keyPath: ['collection', 'id', 'field'] });
        const txs = d.createObjectStore('transactions');
        txs.createIndex('order', 'seq', { unique: true });
        d.createObjectStore('meta');
      }
    };
    req.onerror = () => {
      const err = req.error;
      if (err?.name === 'VersionError')
        reject(
          new PersistenceError(
            `${label}: the database was written by a newer OmniSync (schema newer than v${INDEXEDDB_VERSION}); update the app, or clear the site data to start over.`,
            { cause: err },
          ),
        );
      else reject(wrapError(label, 'open the database', err));
    };
    req.onsuccess = () => {
      const d = req.result;
      const names = d.objectStoreNames;
      const missing = STORES.filter((s) => !names.contains(s));
      if (missing.length > 0) {
        d.close();
        reject(
          new PersistenceCorruptError(
            `${label}: database ${JSON.stringify(dbName)} exists but lacks the object store(s) ${missing.join(', ')}; it was not created by OmniSync or was damaged. Nothing was changed; delete the database to start over.`,
            { details: { database: dbName, missing } },
          ),
        );
        return;
      }
      resolve(d);
    };
  });
}

/**
 * Issue the batches' requests in order. IndexedDB runs requests in issue order within a
 * transaction, but a transaction put needs the stored seq first (a re-put keeps its place),
 * so each batch's puts are issued from its gets' callbacks and the next batch starts only
 * after them: the result is exactly that of committing the batches one after another.
 */
function writeBatches(
  tx: IDBTransaction,
  batches: readonly NormalizedBatch[],
  range: typeof IDBKeyRange,
  safe: Safe,
): void {
  const cells = tx.objectStore('cells');
  const txs = tx.objectStore('transactions');
  const meta = tx.objectStore('meta');
  let next = 0; // the seq of the next new transaction
  const run = (from: number): void => {
    for (let k = from; k < batches.length; k++) {
      const b = batches[k]!;
      for (const d of b.forgetDocuments)
        cells.delete(range.bound([d.collection, d.id], [d.collection, d.id, []]));
      for (const c of b.cells) {
        // [c, id] < [c, id, field] < [c, id, []]: arrays sort after strings, so this covers every field.
        if (c.field === DELETED_FIELD)
          cells.delete(range.bound([c.collection, c.id], [c.collection, c.id, []]));
        cells.put(c);
      }
      for (const id of b.deleteTransactions) txs.delete(id);
      for (const [key, value] of b.meta) {
        if (value === null) meta.delete(key);
        else meta.put(value, key);
      }
      if (b.putTransactions.length > 0) {
        let pending = b.putTransactions.length;
        for (const t of b.putTransactions) {
          const get = txs.get(t.id);
          get.onsuccess = () => {
            const existing = get.result as TxRecord | undefined;
            const record: TxRecord = {
              seq: typeof existing?.seq === 'number' ? existing.seq : next++,
              tx: t,
            };
            txs.put(record, t.id);
            if (--pending === 0) run(k + 1);
          };
        }
        return; // the rest continues from the last get's callback
      }
    }
  };
  if (batches.some((b) => b.putTransactions.length > 0)) {
    const last = txs.index('order').openKeyCursor(null, 'prev');
    last.onsuccess = safe(() => {
      const key = last.result?.key;
      next = typeof key === 'number' ? key + 1 : 0;
      run(0);
    });
  } else {
    run(0);
  }
}

function decodeState(
  label: string,
  dbName: string,
  cellRows: unknown[],
  txRows: unknown[],
  metaKeys: IDBValidKey[],
  metaValues: unknown[],
): PersistedState {
  const corrupt = (store: string, what: string, key: unknown) =>
    new PersistenceCorruptError(
      `${label}: object store ${store} holds ${what} at key ${safeKey(key)}; the database was damaged or written by something else. Nothing was changed; export what you need and delete the database to start over.`,
      { details: { database: dbName, store, key: safeKey(key) } },
    );
  const cells: Cell[] = new Array<Cell>(cellRows.length);
  for (let i = 0; i < cellRows.length; i++) {
    const c = cellRows[i] as Partial<Cell> | null;
    if (
      typeof c !== 'object' ||
      c === null ||
      typeof c.collection !== 'string' ||
      typeof c.id !== 'string' ||
      typeof c.field !== 'string' ||
      typeof c.hlc !== 'string' ||
      !('value' in c)
    )
      throw corrupt('cells', 'a record that is not a cell', c && [c.collection, c.id, c.field]);
    cells[i] = { collection: c.collection, id: c.id, field: c.field, value: c.value, hlc: c.hlc };
  }
  const transactions: PersistedTransaction[] = new Array<PersistedTransaction>(txRows.length);
  for (let i = 0; i < txRows.length; i++) {
    const r = txRows[i] as Partial<TxRecord> | null;
    if (
      typeof r !== 'object' ||
      r === null ||
      typeof r.seq !== 'number' ||
      typeof r.tx !== 'object' ||
      r.tx === null ||
      typeof r.tx.id !== 'string'
    )
      throw corrupt(
        'transactions',
        'a record that is not a transaction',
        (r?.tx as { id?: unknown } | undefined)?.id,
      );
    transactions[i] = r.tx;
  }
  const meta: PersistedState['meta'] = {};
  for (let i = 0; i < metaKeys.length; i++) {
    const key = metaKeys[i];
    if (typeof key !== 'string') throw corrupt('meta', 'a non-string key', key);
    defineOwn(meta, key, metaValues[i] as PersistedState['meta'][string]);
  }
  return { cells, transactions, meta };
}

function safeKey(key: unknown): string {
  try {
    return JSON.stringify(key) ?? String(key);
  } catch {
    return String(key);
  }
}

function wrapError(label: string, action: string, err: unknown): Error {
  if (
    err instanceof PersistenceError ||
    err instanceof PersistenceCorruptError ||
    err instanceof PersistenceQuotaError ||
    err instanceof InvalidStateError
  )
    return err;
  const name = (err as { name?: unknown } | null)?.name;
  if (name === 'QuotaExceededError')
    // IndexedDB aborts the whole transaction: nothing of this call was stored, nothing before it lost.
    return new PersistenceQuotaError(
      `${label}: could not ${action}: the browser storage quota is full (${String((err as Error).message)}). Nothing of this call was stored and nothing stored before it was lost; free space (delete old data) or ask for persistent storage (navigator.storage.persist()), then retry.`,
      { cause: err, details: { errorName: name } },
    );
  const hint =
    name === 'QuotaExceededError'
      ? ' The browser storage quota is full; free space or ask for persistent storage (navigator.storage.persist()).'
      : ' Nothing of this call was stored; retry, or reload the page if it keeps failing.';
  return new PersistenceError(
    `${label}: could not ${action}: ${String((err as Error | null)?.message ?? err)}.${hint}`,
    {
      cause: err,
      details: { errorName: typeof name === 'string' ? name : undefined },
    },
  );
}
