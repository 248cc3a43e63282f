import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Cell, type DocChange, encodeHlc } from '@omnisync/core';
import { afterAll, describe, expect, it } from 'vitest';
import { createFilePersistence } from '../persistence/file.js';
import { loadedBaseOf } from '../persistence/loaded-base.js';
import type { PersistedState, PersistenceBatch } from '../persistence/types.js';
import { ClientStore } from './client-store.js';

const dir = mkdtempSync(join(tmpdir(), 'omnisync-load-base-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const hlc = (t: number, node = 'n1') => encodeHlc({ wall: 1_700_000_000_000 + t, counter: 0, node });
const c = (collection: string, id: string, field: string, value: Cell['value'], t: number): Cell => ({
  collection,
  id,
  field,
  value,
  hlc: hlc(t),
});

/** Cells of every kind a base holds: flat, nested, refMany, unset, tombstones, mixed stamps. */
function snapshotBatch(): PersistenceBatch {
  const cells: Cell[] = [];
  for (let i = 0; i < 30; i++) {
    const id = `t${i}`;
    cells.push(
      c('todos', id, 'title', `Todo ${i}`, 1),
      c('todos', id, 'done', i % 2 === 0, 1),
      c('todos', id, 'n', i % 3 === 0 ? i / 4 : i, i % 4 === 0 ? 2 : 1),
    );
    if (i % 5 === 0) cells.push({ ...c('todos', id, 'note', 'x', 3), value: undefined });
  }
  cells.push(c('todos', 'gone', '_deleted', true, 5));
  cells.push(c('notes', 'a', 'meta.author', 'ann', 1), c('notes', 'a', 'meta.n', 2, 2));
  cells.push(c('notes', 'a', 'tagIds[x]', true, 1), c('notes', 'a', 'tagIds[y]', false, 1));
  cells.push(c('notes', 'b', 'id', 'b', 1), c('notes', 'b', 'body', { rich: [1, 'two', null] }, 1));
  return { cells, putTransactions: [{ id: 'tx1', state: 'pending' }], meta: { cursor: 'c' } };
}

const journalBatch = (): PersistenceBatch => ({
  cells: [
    c('todos', 't1', 'title', 'changed', 9),
    c('todos', 't2', '_deleted', true, 9),
    c('todos', 'fresh', 'title', 'new', 9),
    c('todos', 't3', 'extra', 7, 9),
    c('extra', 'e1', 'v', 1, 9),
  ],
});

async function loadFile(journal: boolean): Promise<PersistedState> {
  const path = join(dir, `f${++n}.omnisync`);
  const p = createFilePersistence({ path });
  await p.commit(snapshotBatch());
  await p.compact();
  if (journal) await p.commit(journalBatch());
  await p.close();
  const q = createFilePersistence({ path });
  try {
    return await q.load();
  } finally {
    await q.close();
  }
}

/** Everything a store shows, for comparing two stores. */
function picture(s: ClientStore) {
  const out: Record<string, unknown> = {};
  for (const name of s.base.collections())
    out[name] = { docs: [...s.documents(name)], count: s.count(name), deleted: s.isDeleted(name, 'gone') };
  return { out, cells: s.base.cellsSince(0), seq: s.base.seq };
}

describe('ClientStore.loadBase: a persisted base from columns', () => {
  for (const journal of [false, true])
    it(`shows exactly what applyBase of the same cells shows (${journal ? 'with' : 'without'} a journal after the snapshot), and listeners hear the same`, async () => {
      const state = await loadFile(journal);
      const base = loadedBaseOf(state);
      expect(base).toBeDefined();
      const viaCells = new ClientStore();
      const viaColumns = new ClientStore();
      viaCells.applyBase(state.cells);
      let asked = 0;
      viaColumns.loadBase(base!, () => (asked++, state.cells));
      expect(asked).toBe(0); // built from the columns, not from cells
      expect(picture(viaColumns)).toEqual(picture(viaCells));
      // With a listener, the changes it hears are the cell path's, in cell order.
      const heard: DocChange[][] = [[], []];
      const a = new ClientStore();
      const b = new ClientStore();
      a.subscribe((ch) => heard[0]!.push(...ch));
      b.subscribe((ch) => heard[1]!.push(...ch));
      a.applyBase(state.cells);
      b.loadBase(base!, () => state.cells);
      expect(heard[1]).toEqual(heard[0]);
      expect(heard[1]).toHaveLength(journal ? 33 : 32);
      expect(viaColumns.get('todos', 't1')).toEqual(
        journal
          ? { id: 't1', title: 'changed', done: false, n: 1 }
          : { id: 't1', title: 'Todo 1', done: false, n: 1 },
      );
      expect(viaColumns.get('notes', 'a')).toEqual({ id: 'a', meta: { author: 'ann', n: 2 }, tagIds: ['x'] });
      expect(viaColumns.has('todos', 'gone')).toBe(false);
      expect(viaColumns.count('todos')).toBe(journal ? 30 : 30);
    });

  it('an invalid stored cell throws the same typed error as applyBase, and a store that already holds documents takes the cell path', async () => {
    const state = await loadFile(false);
    const base = loadedBaseOf(state)!;
    const bad = { ...base, hlcs: base.hlcs.map((h, i) => (i === 0 ? 'not-an-hlc' : h)) };
    const badCells = state.cells.map((x) => (x.hlc === base.hlcs[0] ? { ...x, hlc: 'not-an-hlc' } : x));
    const a = new ClientStore();
    let expected: unknown;
    try {
      a.applyBase(badCells);
    } catch (e) {
      expected = e;
    }
    expect(expected).toBeInstanceOf(Error);
    expect(() => new ClientStore().loadBase(bad, () => badCells)).toThrow((expected as Error).message);

    const viaCells = new ClientStore();
    const viaColumns = new ClientStore();
    for (const s of [viaCells, viaColumns])
      s.applyBase([c('todos', 't1', 'title', 'older', 0), c('todos', 'zz', 'title', 'z', 0)]);
    viaCells.applyBase(state.cells);
    viaColumns.loadBase(base, () => state.cells);
    expect(picture(viaColumns)).toEqual(picture(viaCells));
    expect(viaColumns.get('todos', 't1')?.title).toBe('Todo 1');
  });
});
