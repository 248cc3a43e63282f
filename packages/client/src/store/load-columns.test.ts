/**
 * A client started on a real file store (10,000 documents, format v3 after compaction, a
 * journal after it) against one started on the same cells through the memory store (loaded
 * cell by cell): live queries, writes, updates and deletes on documents still held only in
 * columns, a compaction after the load, and a second start on what it wrote all agree.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Cell, ColumnEntries, encodeHlc } from '@omnisync/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createClient } from '../client.js';
import { createFilePersistence } from '../persistence/file.js';
import { createMemoryPersistence, createMemoryPersistenceStore } from '../persistence/memory.js';
import type { Persistence } from '../persistence/types.js';
import { createState, defineState } from '../state/index.js';

const dir = mkdtempSync(join(tmpdir(), 'omnisync-load-columns-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Todo {
  id: string;
  title: string;
  completed: boolean;
  priority: number;
  createdAt: number;
  ownerId?: string;
}
const N = 10_000;
const T0 = 1_700_000_000_000;

function snapshotCells(): Cell[] {
  const out: Cell[] = [];
  for (let i = 0; i < N; i++) {
    const id = `t${i}`;
    // Mixed stamps: every 7th document had its priority changed later; every 11th has no owner.
    const hlc = encodeHlc({ wall: T0 + (i % 3), counter: 0, node: 'seed' });
    const later = encodeHlc({ wall: T0 + 10, counter: 0, node: 'other' });
    out.push(
      { collection: 'todos', id, field: 'title', value: `Todo ${i}`, hlc },
      { collection: 'todos', id, field: 'completed', value: i % 2 === 0, hlc },
      { collection: 'todos', id, field: 'priority', value: i % 5, hlc: i % 7 === 0 ? later : hlc },
      { collection: 'todos', id, field: 'createdAt', value: T0 + i, hlc },
      { collection: 'todos', id, field: 'ownerId', value: i % 11 === 0 ? undefined : `o${i % 13}`, hlc },
    );
  }
  for (let i = 0; i < 50; i++)
    out.push({
      collection: 'todos',
      id: `gone${i}`,
      field: '_deleted',
      value: true,
      hlc: encodeHlc({ wall: T0, counter: 0, node: 'seed' }),
    });
  return out;
}
const journalCells = (): Cell[] => {
  const hlc = encodeHlc({ wall: T0 + 20, counter: 0, node: 'late' });
  return [
    { collection: 'todos', id: 't1', field: 'title', value: 'changed in the journal', hlc },
    { collection: 'todos', id: 't2', field: '_deleted', value: true, hlc },
    { collection: 'todos', id: 'fresh', field: 'title', value: 'new in the journal', hlc },
    { collection: 'todos', id: 'fresh', field: 'completed', value: false, hlc },
    { collection: 'todos', id: 'fresh', field: 'createdAt', value: T0 + N + 5, hlc },
  ];
};

const schema = defineState({ todos: { _type: [] as Todo[] } });

async function start(persistence: Persistence) {
  const client = createClient({ persistence });
  const state = createState(client, schema);
  await client.ready;
  return { client, state };
}

type Started = Awaited<ReturnType<typeof start>>;
const view = ({ state }: Started) => ({
  open: state.todos.where({ completed: false }).orderBy({ createdAt: 'desc' }).limit(50),
  byPriority: state.todos.where({ priority: 3 }).orderBy({ createdAt: 'asc' }).limit(20),
  count: state.todos.$collection.count(),
  all: [...state.todos.$collection.all()].sort((a, b) => (a.id < b.id ? -1 : 1)),
});

describe('a client started on columns (10,000 documents from a v3 file)', () => {
  it('queries, writes, deletes and a compaction after the load agree with a client loaded cell by cell', async () => {
    const path = join(dir, 'todos.omnisync');
    const seed = createFilePersistence({ path, fsync: false });
    await seed.commit({ cells: snapshotCells() });
    await seed.compact();
    await seed.commit({ cells: journalCells() });
    await seed.close();
    const memory = createMemoryPersistenceStore();
    const mem = createMemoryPersistence({ store: memory });
    await mem.commit({ cells: [...snapshotCells(), ...journalCells()] });

    const file = createFilePersistence({ path, fsync: false });
    const lazy = await start(file);
    const ref = await start(createMemoryPersistence({ store: memory }));
    const entries = lazy.client.store.base.entries('todos');
    expect(entries instanceof ColumnEntries && entries.parts !== undefined).toBe(true);

    // The first live query runs on the columns, before any entry is built.
    const first = view(lazy);
    expect(entries instanceof ColumnEntries && entries.parts !== undefined).toBe(true);
    expect(first).toEqual(view(ref));
    expect(first.open[0]!.id).toBe('fresh');
    expect(first.count).toBe(N - 1 + 1);
    expect(lazy.state.todos.$collection.get('t7')).toEqual(ref.state.todos.$collection.get('t7'));
    expect(lazy.state.todos.$collection.get('t1')?.title).toBe('changed in the journal');
    expect(lazy.state.todos.$collection.get('gone3')).toBeUndefined();
    // Reading fields of the results (by id) still builds no entry.
    expect(entries instanceof ColumnEntries && entries.parts !== undefined).toBe(true);

    // Writes on documents held only in columns (the first one builds the entries).
    for (const s of [lazy, ref]) {
      s.state.todos.update('t3', { title: 'updated', priority: 3 });
      s.state.todos.delete(['t5', 't9999']);
      s.state.todos.insert({
        id: 'x1',
        title: 'inserted',
        completed: false,
        priority: 3,
        createdAt: T0 + N + 9,
      });
      s.state.todos.update('t1', { completed: false });
    }
    expect(entries instanceof ColumnEntries && entries.parts === undefined).toBe(true);
    expect(view(lazy)).toEqual(view(ref));
    expect(lazy.state.todos.$collection.get('t3')).toEqual(ref.state.todos.$collection.get('t3'));
    expect(lazy.state.todos.$collection.get('t3')?.title).toBe('updated');
    expect(lazy.state.todos.$collection.get('t2')).toBeUndefined();
    await Promise.all([lazy.client.flush(), ref.client.flush()]);
    const afterWrites = view(lazy);
    await lazy.client.close();
    await ref.client.close();

    // Compact what the client wrote after a columnar load, then start again on it.
    const again = createFilePersistence({ path, fsync: false });
    await again.compact();
    await again.close();
    const second = await start(createFilePersistence({ path, fsync: false }));
    expect(view(second)).toEqual(afterWrites);
    await second.client.close();
  });
});
