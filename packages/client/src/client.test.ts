import { effect, seededRandom } from '@omnisync/core';
import { describe, expect, it } from 'vitest';
import { createClient } from './client.js';
import { createCollection, getDefaultClient } from './create-collection.js';
import { createMemoryPersistence, createMemoryPersistenceStore } from './persistence/memory.js';
import { createTestScheduler } from './testing/test-scheduler.js';

type Row = { id: string; n: number };

describe('client', () => {
  it('shares one collection instance per id', () => {
    const client = createClient({ scheduler: createTestScheduler() });
    const a = client.collection<Row>({ id: 'rows' });
    expect(client.collection<Row>({ id: 'rows' })).toBe(a);
    expect(client.getCollection('rows')).toBe(a);
    expect(createCollection<Row>({ id: 'shared' })).toBe(createCollection<Row>({ id: 'shared' }));
    expect(getDefaultClient().getCollection('shared')).toBeDefined();
    const p = createMemoryPersistence();
    expect(createCollection<Row>({ id: 'p', persistence: p })).toBe(
      createCollection<Row>({ id: 'p', persistence: p }),
    );
  });

  it('refuses a bad collection id with a typed error', () => {
    const client = createClient({ scheduler: createTestScheduler() });
    expect(() => client.collection({ id: 'no spaces' })).toThrow(/collection id/);
  });

  it('exposes the transactions as a signal', async () => {
    const scheduler = createTestScheduler();
    const client = createClient({ scheduler, random: seededRandom(1) });
    const rows = client.collection<Row>({ id: 'rows' });
    const seen: string[][] = [];
    const e = effect(() => void seen.push(client.transactions.get().map((t) => t.state)));
    rows.insert({ id: 'a', n: 1 });
    await scheduler.settle();
    e.stop();
    expect(seen[0]).toEqual([]);
    expect(seen.at(-1)).toEqual(['completed']);
  });

  it('accepts writes before persistence is loaded and commits them after', async () => {
    const store = createMemoryPersistenceStore();
    const scheduler = createTestScheduler();
    const client = createClient({ scheduler, persistence: createMemoryPersistence({ store }) });
    const rows = client.collection<Row>({ id: 'rows' });
    const tx = rows.insert({ id: 'a', n: 1 }); // before `ready`
    expect(rows.get('a')?.n).toBe(1);
    await client.ready;
    await scheduler.settle();
    expect(tx.state).toBe('completed');
    await client.close();
    const again = createClient({
      scheduler: createTestScheduler(),
      persistence: createMemoryPersistence({ store }),
    });
    const rows2 = again.collection<Row>({ id: 'rows' });
    await again.ready;
    expect(rows2.get('a')).toEqual({ id: 'a', n: 1 });
  });
});
