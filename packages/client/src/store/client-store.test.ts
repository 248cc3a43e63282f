import type { DocChange } from '@omnisync/core';
import { seededRandom } from '@omnisync/core';
import { describe, expect, it } from 'vitest';
import { createTestCollection } from '../testing/index.js';

type Row = { id: string; n: number; tags?: string[]; meta?: { a?: number; b?: number } };

async function started(initialData: Row[] = [{ id: 'a', n: 0 }]) {
  const t = createTestCollection<Row>({ initialData, client: { random: seededRandom(3) } });
  await t.syncControl.settle();
  return t;
}

describe('ClientStore: synced base + optimistic overlay (fake backend)', () => {
  it('a remote update under a pending write stays hidden until the write is rolled back', async () => {
    const { collection, syncControl, client } = await started();
    syncControl.setNetworkDelay(100);
    syncControl.failNextPersist(new (await import('@omnisync/core')).NonRetriableError('no'));
    collection.update('a', { n: 1 });
    await syncControl.settle();
    // Locked (ordered): held; the overlay shows our write either way.
    syncControl.emitUpdate([{ id: 'a', n: 5 }]);
    expect(collection.get('a')?.n).toBe(1);
    await syncControl.advance(100);
    expect(collection.get('a')?.n).toBe(5); // rolled back, then the held update applied
    expect(client.store.base.get('test', 'a')).toEqual({ id: 'a', n: 5 });
  });

  it('reports visible changes with kind and fields, once per batch', async () => {
    const { collection, client, syncControl } = await started();
    const seen: DocChange[][] = [];
    client.store.subscribe((c) => seen.push([...c]));
    collection.insert({ id: 'b', n: 1 });
    collection.update('b', { n: 2 });
    collection.delete('a');
    expect(seen).toEqual([
      [{ collection: 'test', id: 'b', kind: 'insert', fields: ['id', 'n'] }],
      [{ collection: 'test', id: 'b', kind: 'update', fields: ['n'] }],
      [{ collection: 'test', id: 'a', kind: 'delete', fields: [] }],
    ]);
    await syncControl.settle();
    expect(seen).toHaveLength(3); // confirmation changed nothing visible
    syncControl.emitUpdate([
      { id: 'b', n: 3 },
      { id: 'c', n: 1 },
    ]);
    expect(seen[3]).toEqual([
      { collection: 'test', id: 'b', kind: 'update', fields: ['n'] },
      { collection: 'test', id: 'c', kind: 'insert', fields: ['id', 'n'] },
    ]);
  });

  it('forgetBase drops synced documents; one with pending writes keeps them, on an empty base', async () => {
    const { collection, client, syncControl } = await started([
      { id: 'a', n: 1 },
      { id: 'b', n: 2, tags: ['x'] },
      { id: 'c', n: 3 },
    ]);
    syncControl.setNetworkDelay(100);
    collection.update('b', { n: 20 });
    const seen: DocChange[][] = [];
    client.store.subscribe((c) => seen.push([...c]));
    client.store.forgetBase('test', ['a', 'b', 'zz']);
    expect(seen).toEqual([
      [
        { collection: 'test', id: 'a', kind: 'delete', fields: [] },
        expect.objectContaining({ id: 'b', kind: 'update' }),
      ],
    ]);
    expect(collection.get('a')).toBeUndefined();
    expect(client.store.base.has('test', 'a')).toBe(false);
    expect(client.store.base.has('test', 'b')).toBe(false);
    expect(collection.get('b')).toEqual({ id: 'b', n: 20 }); // the pending update, on nothing
    expect(collection.get('c')).toEqual({ id: 'c', n: 3 });
    await syncControl.advance(100);
    // confirmed: the base holds what the write sent, and the visible document follows the base
    expect(collection.get('b')).toEqual({ id: 'b', n: 20 });
    expect(client.store.base.get('test', 'b')).toEqual({ id: 'b', n: 20 });
  });

  it('keeps the same object when a remote update leaves a document as it was', async () => {
    const { collection, syncControl } = await started();
    const before = collection.get('a');
    syncControl.emitUpdate([{ id: 'a', n: 0 }]);
    expect(collection.get('a')).toBe(before);
    syncControl.emitUpdate([{ id: 'a', n: 1 }]);
    expect(collection.get('a')).not.toBe(before);
  });

  it('a remote document replaces the synced one: fields it lacks are unset', async () => {
    const { collection, syncControl } = await started([{ id: 'a', n: 0, meta: { a: 1, b: 2 } }]);
    syncControl.emitUpdate([{ id: 'a', n: 1, meta: { a: 1 } }]);
    expect(collection.get('a')).toEqual({ id: 'a', n: 1, meta: { a: 1 } });
    syncControl.emitUpdate({ a: null });
    expect(collection.get('a')).toBeUndefined();
  });

  it('patches merge deeply (like cells); a draft function can remove a nested field', async () => {
    const { collection } = await started([{ id: 'a', n: 0, meta: { a: 1, b: 2 } }]);
    collection.update('a', { meta: { b: 3 } });
    expect(collection.get('a')).toEqual({ id: 'a', n: 0, meta: { a: 1, b: 3 } });
    collection.update('a', (d) => {
      delete d.meta!.a;
    });
    expect(collection.get('a')).toEqual({ id: 'a', n: 0, meta: { b: 3 } });
  });

  it('documents() and count() follow the visible state', async () => {
    const { collection, client } = await started();
    collection.insert([
      { id: 'b', n: 1 },
      { id: 'c', n: 2 },
    ]);
    collection.delete('a');
    expect([...client.store.documents('test')].map((d) => d.id).sort()).toEqual(['b', 'c']);
    expect(client.store.count('test')).toBe(2);
    expect(collection.all()).toBe(collection.all()); // the same array until something changes
  });

  it('base and overlay share one entry per document: a confirmed delete keeps its tombstone, and ids stay taken', async () => {
    const { collection, client, syncControl } = await started([{ id: 'a', n: 1 }]);
    const store = client.store;
    const entries = store.base.entries('test');
    syncControl.setNetworkDelay(10);
    // A pending insert: one entry, blank in the base, visible in the overlay.
    collection.insert({ id: 'b', n: 2 });
    const b = entries.get('b')!;
    expect(store.slot('test', 'b')).toBe(b);
    expect(store.base.has('test', 'b')).toBe(false);
    expect(store.idState('test', 'b')).toBe('taken');
    await syncControl.advance(10);
    // Confirmed into the same object.
    expect(entries.get('b')).toBe(b);
    expect(store.base.get('test', 'b')).toEqual({ id: 'b', n: 2 });
    // A confirmed delete: nothing visible, but the tombstone stays (the entry is kept).
    collection.delete('b');
    expect(store.idState('test', 'b')).toBe('taken'); // pending delete
    await syncControl.advance(10);
    expect(collection.get('b')).toBeUndefined();
    expect(entries.get('b')).toBe(b);
    expect(store.isDeleted('test', 'b')).toBe(true);
    expect(store.idState('test', 'b')).toBe('deleted');
    expect(() => collection.insert({ id: 'b', n: 3 })).toThrow(/deleted document/);
    // A rolled-back insert leaves no entry behind.
    syncControl.failNextPersist(new (await import('@omnisync/core')).NonRetriableError('no'));
    const tx = collection.insert({ id: 'c', n: 1 });
    expect(entries.has('c')).toBe(true);
    await syncControl.advance(10);
    await expect(tx.promise).rejects.toThrow('no');
    expect(entries.has('c')).toBe(false);
    expect(store.idState('test', 'c')).toBe('free');
    // A document forgotten while an insert of it is pending keeps its slot (the same object).
    collection.insert({ id: 'd', n: 4 });
    const d = entries.get('d')!;
    store.forgetBase('test', ['d', 'a']);
    expect(entries.get('d')).toBe(d);
    expect(collection.get('d')).toEqual({ id: 'd', n: 4 });
    expect(entries.has('a')).toBe(false);
    expect(collection.get('a')).toBeUndefined();
    await syncControl.advance(10);
    expect(store.base.get('test', 'd')).toEqual({ id: 'd', n: 4 });
    expect(collection.count()).toBe(1);
  });
});
