/** Capture in the app's own transaction, with fake-indexeddb (IndexedDB in Node). */
import { Dexie } from 'dexie';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { describe, expect, it } from 'vitest';
import { createDexieBridge, OUTBOX_STORE, omnisyncStores } from '@omnisync/dexie';

let n = 0;
function openDb(tables = ['todos']) {
  const db = new Dexie(`capture-${n++}`, { indexedDB: new IDBFactory(), IDBKeyRange });
  db.version(1).stores({ todos: 'id, done', notes: 'id', ...omnisyncStores });
  const bridge = createDexieBridge(db, { tables });
  return { db, bridge };
}

describe('capture middleware (fake-indexeddb)', () => {
  it('captures put, add, update, bulkPut, delete and deleteRange as cells', async () => {
    const { db, bridge } = openDb();
    await db.table('todos').put({ id: 'a', title: 'milk', done: false });
    await db.table('todos').add({ id: 'b', title: 'eggs', done: false });
    await db.table('todos').update('a', { done: true });
    await db.table('todos').bulkPut([
      { id: 'c', title: 'c' },
      { id: 'd', title: 'd' },
    ]);
    await db.table('todos').delete('b');
    await db.table('todos').where('id').between('c', 'd', true, true).delete();
    const out = await bridge.outbox();
    const cells = out.map((e) => e.cells.map((c) => `${c.id}.${c.field}=${JSON.stringify(c.value)}`));
    expect(cells).toEqual([
      ['a.title="milk"', 'a.done=false'],
      ['b.title="eggs"', 'b.done=false'],
      ['a.done=true'],
      ['c.title="c"', 'd.title="d"'],
      ['b._deleted=true'],
      ['c._deleted=true', 'd._deleted=true'],
    ]);
    // Every entry carries its HLC per cell, increasing.
    const hlcs = out.flatMap((e) => e.cells.map((c) => c.hlc));
    expect([...hlcs].sort()).toEqual(hlcs);
    expect(new Set(out.map((e) => e.mutationId)).size).toBe(out.length);
  });

  it('an aborted transaction leaves neither the write nor an outbox entry', async () => {
    const { db, bridge } = openDb();
    await expect(
      db.transaction('rw', 'todos', async () => {
        await db.table('todos').put({ id: 'x', title: 'doomed' });
        expect(await db.table(OUTBOX_STORE).count()).toBe(1); // inside: both are there
        throw new Error('app fails after the write');
      }),
    ).rejects.toThrow('app fails after the write');
    expect(await db.table('todos').get('x')).toBeUndefined();
    expect(await bridge.outbox()).toEqual([]);
  });

  it('a failing write (duplicate add) leaves no outbox entry', async () => {
    const { db, bridge } = openDb();
    await db.table('todos').add({ id: 'x', title: 'one' });
    await expect(db.table('todos').add({ id: 'x', title: 'two' })).rejects.toThrow();
    expect((await bridge.outbox()).length).toBe(1);
    expect(await db.table('todos').get('x')).toEqual({ id: 'x', title: 'one' });
  });

  it('tables that are not synced are not captured', async () => {
    const { db, bridge } = openDb();
    await db.table('notes').put({ id: 'n', text: 'local only' });
    expect(await bridge.outbox()).toEqual([]);
  });

  it('a non-string key is refused with a typed error and nothing is written', async () => {
    const { db, bridge } = openDb();
    await expect(db.table('todos').put({ id: 7, title: 'x' })).rejects.toMatchObject({
      code: 'invalid_input',
    });
    expect(await db.table('todos').count()).toBe(0);
    expect(await bridge.outbox()).toEqual([]);
  });

  it("writes in Dexie's populate event are captured", async () => {
    const db = new Dexie(`capture-${n++}`, { indexedDB: new IDBFactory(), IDBKeyRange });
    db.version(1).stores({ todos: 'id', ...omnisyncStores });
    db.on('populate', (tx) => {
      void tx.table('todos').add({ id: 'seed', title: 'seeded' });
    });
    const bridge = createDexieBridge(db, { tables: ['todos'] });
    await db.open();
    const out = await bridge.outbox();
    expect(out.flatMap((e) => e.cells.map((c) => `${c.id}.${c.field}`))).toEqual(['seed.title']);
  });

  it('a schema without the bridge stores is refused on open with a typed error', async () => {
    const db = new Dexie(`capture-${n++}`, { indexedDB: new IDBFactory(), IDBKeyRange });
    db.version(1).stores({ todos: 'id' });
    createDexieBridge(db, { tables: ['todos'] });
    await expect(db.open()).rejects.toMatchObject({ code: 'schema_invalid' });
  });

  it('an auto-incremented primary key is refused on open', async () => {
    const db = new Dexie(`capture-${n++}`, { indexedDB: new IDBFactory(), IDBKeyRange });
    db.version(1).stores({ todos: '++id', ...omnisyncStores });
    createDexieBridge(db, { tables: ['todos'] });
    await expect(db.open()).rejects.toMatchObject({ code: 'schema_invalid' });
  });
});
