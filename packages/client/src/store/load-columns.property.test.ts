/**
 * A collection loaded from a columnar snapshot keeps its columns as its entries until first
 * needed (core `ColumnEntries`, `ClientStore.loadBase`). Whatever happens after the load —
 * reads before and after the entries are built, merges (newer, older and tied stamps),
 * deletes, forgets, unset fields, a journal after the snapshot — the store must show exactly
 * what a store given the same cells one by one shows (`applyBase`: the reference).
 */
import { type Cell, ColumnEntries, type DocChange, encodeHlc } from '@omnisync/core';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propertyParams } from '../../../core/test/property.js';
import { normalizeBatch } from '../persistence/batch.js';
import {
  encodeCommitBody,
  encodeCommits,
  encodeHeader,
  encodeSnapshot,
  scanFile,
} from '../persistence/file-format.js';
import { loadedBaseOf } from '../persistence/loaded-base.js';
import { StateModel } from '../persistence/state.js';
import type { PersistedState, PersistenceBatch } from '../persistence/types.js';
import { ClientStore } from './client-store.js';

const COLLS = ['todos', 'notes'] as const;
const IDS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
const FIELDS = ['title', 'done', 'n', 'note'];
const stamp = fc
  .record({ wall: fc.integer({ min: 1, max: 4 }), node: fc.constantFrom('p', 'q') })
  .map(({ wall, node }) => encodeHlc({ wall: 1_700_000_000_000 + wall, counter: 0, node }));
const value = fc.oneof(
  fc.string({ maxLength: 3 }),
  fc.integer({ min: -3, max: 3 }),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e3, max: 1e3 }).filter((x) => !Object.is(x, -0)),
  fc.boolean(),
  fc.constant(undefined), // an unset field
);
const cell: fc.Arbitrary<Cell> = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.record({
      collection: fc.constantFrom(...COLLS),
      id: fc.constantFrom(...IDS),
      field: fc.constantFrom(...FIELDS),
      value,
      hlc: stamp,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      collection: fc.constantFrom(...COLLS),
      id: fc.constantFrom(...IDS),
      field: fc.constant('_deleted'),
      value: fc.constant(true),
      hlc: stamp,
    }),
  },
);

type Op =
  | { kind: 'merge'; cells: Cell[] }
  | { kind: 'forget'; collection: string; ids: string[] }
  | { kind: 'get'; collection: string; id: string }
  | { kind: 'list' }
  | { kind: 'cells' };
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ kind: fc.constant('merge' as const), cells: fc.array(cell, { maxLength: 6 }) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('forget' as const),
      collection: fc.constantFrom(...COLLS),
      ids: fc.subarray(IDS, { maxLength: 3 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('get' as const),
      collection: fc.constantFrom(...COLLS),
      id: fc.constantFrom(...IDS),
    }),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'list' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'cells' as const }) },
);

/** The state a file store's load gives for `snapshot` compacted (format v3) then `journal` appended, decoded in memory. */
function loadV3(snapshot: readonly Cell[], journal: readonly Cell[]): PersistedState {
  const model = new StateModel();
  model.applyCells(snapshot);
  const parts = [encodeHeader(), encodeSnapshot(model)];
  if (journal.length > 0) {
    const batch: PersistenceBatch = { cells: [...journal] };
    parts.push(encodeCommits([encodeCommitBody(normalizeBatch(batch)!)]));
  }
  return scanFile(Buffer.concat(parts), 'memory.omnisync').state();
}

/** Everything a store shows: the documents in order (the reads apps make), counts, cells. */
function picture(s: ClientStore) {
  const docs: Record<string, unknown> = {};
  for (const name of COLLS)
    docs[name] = {
      list: [...s.documents(name)],
      count: s.count(name),
      byId: IDS.map((id) => [s.get(name, id), s.has(name, id), s.pending(name, id).length]),
    };
  return docs;
}

function stores(snapshot: readonly Cell[], journal: readonly Cell[]) {
  const state = loadV3(snapshot, journal);
  const columns = loadedBaseOf(state);
  expect(columns).toBeDefined();
  const lazy = new ClientStore();
  lazy.loadBase(columns!, () => state.cells);
  const ref = new ClientStore();
  ref.applyBase(state.cells);
  return { lazy, ref, columns: columns! };
}

describe('ClientStore.loadBase: entries built from columns on first need (property)', () => {
  it('reads, merges, deletes and forgets after a columnar load show what a load cell by cell shows', () => {
    fc.assert(
      fc.property(
        fc.array(cell, { maxLength: 40 }),
        fc.array(cell, { maxLength: 8 }),
        fc.array(op, { maxLength: 8 }),
        (snapshot, journal, ops) => {
          const { lazy, ref, columns } = stores(snapshot, journal);
          // Every collection the snapshot fills is of flat fields: it is loaded from its columns.
          for (const g of columns.groups) {
            const entries = lazy.base.entries(g.collection);
            // A ColumnEntries whose entries are not built yet.
            expect(entries instanceof ColumnEntries && entries.parts !== undefined).toBe(true);
          }
          // Read (in order, and by id) before anything builds the entries.
          expect(picture(lazy)).toEqual(picture(ref));
          for (const g of columns.groups) {
            const entries = lazy.base.entries(g.collection);
            expect(entries instanceof ColumnEntries && entries.parts !== undefined).toBe(true);
          }
          const heard = { lazy: [] as DocChange[][], ref: [] as DocChange[][] };
          lazy.subscribe((c) => heard.lazy.push([...c]));
          ref.subscribe((c) => heard.ref.push([...c]));
          for (const o of ops) {
            if (o.kind === 'merge') expect(lazy.applyBase(o.cells)).toEqual(ref.applyBase(o.cells));
            else if (o.kind === 'forget') {
              lazy.forgetBase(o.collection, o.ids);
              ref.forgetBase(o.collection, o.ids);
            } else if (o.kind === 'get') {
              expect(lazy.get(o.collection, o.id)).toEqual(ref.get(o.collection, o.id));
              expect(lazy.base.fields(o.collection, o.id)).toEqual(ref.base.fields(o.collection, o.id));
              expect(lazy.base.isDeleted(o.collection, o.id)).toBe(ref.base.isDeleted(o.collection, o.id));
            } else if (o.kind === 'cells') expect(lazy.base.cellsSince(0)).toEqual(ref.base.cellsSince(0));
            expect(picture(lazy)).toEqual(picture(ref));
          }
          expect(heard.lazy).toEqual(heard.ref);
          expect(lazy.base.cellsSince(0)).toEqual(ref.base.cellsSince(0));
          expect(lazy.base.seq).toBe(ref.base.seq);
          for (const name of COLLS)
            for (const id of IDS)
              expect(lazy.base.cell(name, id, 'title')).toEqual(ref.base.cell(name, id, 'title'));
        },
      ),
      propertyParams(),
    );
  });
});
