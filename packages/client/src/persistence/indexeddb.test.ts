import { IDBFactory, IDBKeyRange, IDBObjectStore } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { createIndexedDbPersistence } from './indexeddb.js';
import { persistenceSuite } from './suite.js';
import { cell } from './suite-support.js';

// The randomized cases replay from OMNISYNC_SEED (their failure messages print the seed).
const seed = Number(process.env.OMNISYNC_SEED ?? 1);

// fake-indexeddb stands in for the browser here; the same suite runs against Chromium's
// real IndexedDB in test/persistence/indexeddb-chromium.test.ts.
const idb = new IDBFactory();
persistenceSuite(
  'IndexedDB persistence (fake-indexeddb)',
  (location) => createIndexedDbPersistence({ name: location, indexedDB: idb, IDBKeyRange }),
  {
    describe,
    it,
    seed,
    cleanup: (location) =>
      new Promise<void>((resolve, reject) => {
        const req = idb.deleteDatabase(`omnisync:${location}`);
        req.onsuccess = () => resolve();
        req.onerror = () => reject(req.error);
      }),
  },
);

const request = <T>(r: IDBRequest<T>) =>
  new Promise<T>((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });

describe('IndexedDB persistence specifics (fake-indexeddb)', () => {
  it('imports and constructs without touching a global indexedDB (SSR-safe), and fails clearly on first use', async () => {
    expect((globalThis as { indexedDB?: unknown }).indexedDB).toBeUndefined();
    const p = createIndexedDbPersistence({ name: 'ssr' });
    expect(p.name).toBe('indexeddb:ssr');
    await expect(p.load()).rejects.toMatchObject({
      name: 'PersistenceError',
      code: 'persistence_failed',
      message: expect.stringMatching(/IndexedDB is not available/),
    });
  });

  it('refuses a missing name with ValidationError', () => {
    expect(() => createIndexedDbPersistence({ name: '' })).toThrow(
      expect.objectContaining({ name: 'ValidationError', code: 'invalid_input' }),
    );
  });

  it('uses one database with the cells, transactions and meta object stores', async () => {
    const factory = new IDBFactory();
    const p = createIndexedDbPersistence({ name: 'layout', indexedDB: factory, IDBKeyRange });
    await p.commit({
      cells: [cell('todos', 'a', 'title', 'x')],
      putTransactions: [{ id: 't1' }],
      meta: { cursor: 1 },
    });
    await p.close();
    const db = await request(factory.open('omnisync:layout'));
    expect([...db.objectStoreNames].sort()).toEqual(['cells', 'meta', 'transactions']);
    const tx = db.transaction(['cells', 'transactions', 'meta']);
    expect(await request(tx.objectStore('cells').getAllKeys())).toEqual([['todos', 'a', 'title']]);
    expect(await request(tx.objectStore('transactions').get('t1'))).toEqual({ seq: 0, tx: { id: 't1' } });
    expect(tx.objectStore('transactions').index('order').keyPath).toBe('seq');
    expect(await request(tx.objectStore('meta').get('cursor'))).toBe(1);
    db.close();
  });

  it('reports a record that is not a cell as PersistenceCorruptError and changes nothing', async () => {
    const factory = new IDBFactory();
    const p = createIndexedDbPersistence({ name: 'damaged', indexedDB: factory, IDBKeyRange });
    await p.commit({ cells: [cell('todos', 'a', 'title', 'x')] });
    await p.close();
    const db = await request(factory.open('omnisync:damaged'));
    await request(
      db
        .transaction('cells', 'readwrite')
        .objectStore('cells')
        .put({ collection: 'todos', id: 'b', field: 'title', hlc: 5 }),
    );
    db.close();
    const again = createIndexedDbPersistence({ name: 'damaged', indexedDB: factory, IDBKeyRange });
    await expect(again.load()).rejects.toMatchObject({
      name: 'PersistenceCorruptError',
      code: 'persistence_corrupt',
      message: expect.stringMatching(/cells/),
    });
    await again.close();
    const check = await request(factory.open('omnisync:damaged'));
    expect(await request(check.transaction('cells').objectStore('cells').count())).toBe(2);
    check.close();
  });

  it('refuses a database of the same name that OmniSync did not create', async () => {
    const factory = new IDBFactory();
    const open = factory.open('omnisync:foreign', 1);
    open.onupgradeneeded = () => open.result.createObjectStore('something');
    (await request(open)).close();
    const p = createIndexedDbPersistence({ name: 'foreign', indexedDB: factory, IDBKeyRange });
    await expect(p.load()).rejects.toMatchObject({
      name: 'PersistenceCorruptError',
      message: expect.stringMatching(/lacks the object store/),
    });
  });

  it('refuses a database from a newer schema version', async () => {
    const factory = new IDBFactory();
    (await request(factory.open('omnisync:newer', 7))).close();
    const p = createIndexedDbPersistence({ name: 'newer', indexedDB: factory, IDBKeyRange });
    await expect(p.load()).rejects.toMatchObject({
      name: 'PersistenceError',
      message: expect.stringMatching(/newer OmniSync/),
    });
  });

  it('a failing request rolls the whole commit back (one IndexedDB transaction)', async () => {
    const factory = new IDBFactory();
    const p = createIndexedDbPersistence({ name: 'atomic', indexedDB: factory, IDBKeyRange });
    await p.commit({ cells: [cell('todos', 'a', 'title', 'before')], meta: { cursor: 1 } });
    // Make the meta write fail after the cells were written in the same transaction.
    const proto = IDBObjectStore.prototype as unknown as {
      put: (this: IDBObjectStore, ...a: unknown[]) => unknown;
    };
    const put = proto.put;
    proto.put = function (this: IDBObjectStore, ...args: unknown[]) {
      if (this.name === 'meta') throw new DOMException('disk full (simulated)', 'QuotaExceededError');
      return put.apply(this, args);
    };
    try {
      await expect(
        p.commit({
          cells: [cell('todos', 'a', 'title', 'after'), cell('todos', 'b', 'title', 'new')],
          putTransactions: [{ id: 't' }],
          meta: { cursor: 2 },
        }),
      ).rejects.toMatchObject({
        name: 'PersistenceQuotaError',
        code: 'persistence_quota',
        message: expect.stringMatching(/quota/),
      });
    } finally {
      proto.put = put;
    }
    expect(await p.load()).toEqual({
      cells: [cell('todos', 'a', 'title', 'before')],
      transactions: [],
      meta: { cursor: 1 },
    });
    await p.close();
  });
});
