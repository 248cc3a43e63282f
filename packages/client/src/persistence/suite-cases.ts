/**
 * The semantic cases of the shared persistence suite (see suite.ts): what `commit` stores
 * and `load` returns, bad input, copying, clearing.
 */
import type { Cell } from '@omnisync/core';
import type { PersistenceCase } from './suite.js';
import {
  assertDeepEqual,
  assertRejects,
  assertSameState,
  cell,
  check,
  type ExpectedError,
  tombstone,
} from './suite-support.js';
import type { PersistedState, PersistenceBatch } from './types.js';

const empty: PersistedState = { cells: [], transactions: [], meta: {} };

/** Cells of every value shape, including an unset field and awkward strings. */
const variety: Cell[] = [
  cell('todos', 'a', 'id', 'a'),
  cell('todos', 'a', 'title', 'Buy milk'),
  cell('todos', 'a', 'done', false),
  cell('todos', 'a', 'rank', -12.75),
  cell('todos', 'a', 'note', null),
  cell('todos', 'a', 'gone', undefined),
  cell('todos', 'a', 'tags', ['x', 1, null, { y: [true] }]),
  cell('todos', 'a', 'meta.count', 3),
  cell('todos', 'a', 'meta.extra', { nested: { deep: 'yes' }, empty: {} }),
  cell('todos', 'a', 'tagIds[t1]', true),
  cell('todos', 'a', 'tagIds[t2]', false),
  cell('todos', 'a\u0000b', 'title', 'id with NUL'),
  cell('todo-lists_2', '\u{1F600} \u2028 "quoted" \\', 'ünïcødé', '\u{1F600}\u2029\u0000\ud800'),
];

/** The semantic cases, in order (suite.ts adds the randomized and lifecycle ones). */
export const cases: PersistenceCase[] = [
  {
    name: 'load() on a fresh store returns an empty state',
    async run(ctx) {
      const p = await ctx.open();
      assertDeepEqual(await p.load(), empty, 'fresh store');
      assertDeepEqual(await p.load(), empty, 'fresh store, read twice');
    },
  },
  {
    name: 'committed cells of every value shape read back, also after reopening',
    async run(ctx) {
      let p = await ctx.open();
      await p.commit({ cells: variety });
      const expected = { cells: variety, transactions: [], meta: {} };
      assertSameState(await p.load(), expected, 'before reopening');
      const unset = (await p.load()).cells.find((c) => c.field === 'gone');
      check(
        unset !== undefined && 'value' in unset && unset.value === undefined,
        'an unset cell keeps its `value: undefined` property',
      );
      p = await ctx.reopen(p);
      assertSameState(await p.load(), expected, 'after reopening');
    },
  },
  {
    name: 'cells are upserted by (collection, id, field)',
    async run(ctx) {
      let p = await ctx.open();
      await p.commit({
        cells: [
          cell('todos', 'a', 'title', 'one', 1),
          cell('todos', 'b', 'title', 'b', 1),
          cell('lists', 'a', 'title', 'list', 1),
        ],
      });
      await p.commit({ cells: [cell('todos', 'a', 'title', 'two', 2), cell('todos', 'a', 'done', true, 2)] });
      await p.commit({ cells: [cell('todos', 'a', 'title', undefined, 3)] });
      const expected = {
        cells: [
          cell('todos', 'a', 'title', undefined, 3),
          cell('todos', 'a', 'done', true, 2),
          cell('todos', 'b', 'title', 'b', 1),
          cell('lists', 'a', 'title', 'list', 1),
        ],
        transactions: [],
        meta: {},
      };
      assertSameState(await p.load(), expected, 'after upserts');
      p = await ctx.reopen(p);
      assertSameState(await p.load(), expected, 'after reopening');
    },
  },
  {
    name: "a _deleted cell drops that document's other cells, and only those",
    async run(ctx) {
      let p = await ctx.open();
      await p.commit({
        cells: [
          cell('todos', 'a', 'title', 'x'),
          cell('todos', 'a', 'meta.n', 1),
          cell('todos', 'ab', 'title', 'prefix of a'),
          cell('todos', 'b', 'title', 'y'),
          cell('lists', 'a', 'title', 'same id, other collection'),
        ],
      });
      await p.commit({ cells: [tombstone('todos', 'a', 5)] });
      const expected = {
        cells: [
          tombstone('todos', 'a', 5),
          cell('todos', 'ab', 'title', 'prefix of a'),
          cell('todos', 'b', 'title', 'y'),
          cell('lists', 'a', 'title', 'same id, other collection'),
        ],
        transactions: [],
        meta: {},
      };
      assertSameState(await p.load(), expected, 'after the tombstone');
      p = await ctx.reopen(p);
      assertSameState(await p.load(), expected, 'after reopening');
      await p.commit({ cells: [tombstone('todos', 'a', 6)] });
      assertSameState(
        await p.load(),
        { ...expected, cells: [tombstone('todos', 'a', 6), ...expected.cells.slice(1)] },
        'a second tombstone replaces the first',
      );
    },
  },
  {
    name: 'forgetDocuments drops every cell of those documents (tombstones too) before the batch’s cells',
    async run(ctx) {
      let p = await ctx.open();
      await p.commit({
        cells: [
          cell('todos', 'a', 'title', 'x'),
          cell('todos', 'a', 'meta.n', 1),
          cell('todos', 'ab', 'title', 'prefix of a'),
          tombstone('todos', 'gone', 3),
          cell('lists', 'a', 'title', 'same id, other collection'),
        ],
      });
      await p.commit({
        forgetDocuments: [
          { collection: 'todos', id: 'a' },
          { collection: 'todos', id: 'gone' },
          { collection: 'todos', id: 'never-stored' },
        ],
      });
      const expected = {
        cells: [
          cell('todos', 'ab', 'title', 'prefix of a'),
          cell('lists', 'a', 'title', 'same id, other collection'),
        ],
        transactions: [],
        meta: {},
      };
      assertSameState(await p.load(), expected, 'after forgetting');
      p = await ctx.reopen(p);
      assertSameState(await p.load(), expected, 'after reopening');
      // In one batch the forget comes first: cells of the same batch stay.
      await p.commit({
        forgetDocuments: [{ collection: 'todos', id: 'ab' }],
        cells: [cell('todos', 'ab', 'title', 'back', 2)],
      });
      const after = { ...expected, cells: [cell('todos', 'ab', 'title', 'back', 2), expected.cells[1]!] };
      assertSameState(await p.load(), after, 'a forget then a cell in one batch');
      p = await ctx.reopen(p);
      assertSameState(await p.load(), after, 'after reopening again');
    },
  },
  {
    name: 'cells of one batch apply in order around a tombstone',
    async run(ctx) {
      let p = await ctx.open();
      await p.commit({
        cells: [
          cell('todos', 'a', 'title', 'before', 1),
          tombstone('todos', 'a', 2),
          cell('todos', 'a', 'late', 'after', 3),
        ],
      });
      const expected = {
        cells: [tombstone('todos', 'a', 2), cell('todos', 'a', 'late', 'after', 3)],
        transactions: [],
        meta: {},
      };
      assertSameState(await p.load(), expected, 'same batch');
      p = await ctx.reopen(p);
      assertSameState(await p.load(), expected, 'after reopening');
    },
  },
  {
    name: 'transactions keep first-put order; a re-put updates in place; deletes remove; unknown ids are ignored',
    async run(ctx) {
      let p = await ctx.open();
      await p.commit({
        putTransactions: [
          { id: 't1', state: 'pending' },
          { id: 't2', state: 'pending' },
        ],
      });
      await p.commit({ putTransactions: [{ id: 't3', state: 'pending' }] });
      await p.commit({ putTransactions: [{ id: 't1', state: 'persisting', attempts: [{ n: 1 }] }] });
      await p.commit({ deleteTransactions: ['t2', 'nope'] });
      await p.commit({ putTransactions: [{ id: 't2', state: 'pending', again: true }] });
      const expected = {
        cells: [],
        transactions: [
          { id: 't1', state: 'persisting', attempts: [{ n: 1 }] },
          { id: 't3', state: 'pending' },
          { id: 't2', state: 'pending', again: true },
        ],
        meta: {},
      };
      assertSameState(await p.load(), expected, 'outbox');
      p = await ctx.reopen(p);
      assertSameState(await p.load(), expected, 'after reopening');
    },
  },
  {
    name: 'in one batch a repeated put keeps its first position and last value, and a delete wins over a put',
    async run(ctx) {
      let p = await ctx.open();
      await p.commit({ putTransactions: [{ id: 'old', v: 0 }] });
      await p.commit({
        putTransactions: [
          { id: 'x', v: 1 },
          { id: 'y', v: 1 },
          { id: 'x', v: 2 },
          { id: 'z', v: 1 },
          { id: 'old', v: 9 },
        ],
        deleteTransactions: ['z', 'old'],
      });
      const expected = {
        cells: [],
        transactions: [
          { id: 'x', v: 2 },
          { id: 'y', v: 1 },
        ],
        meta: {},
      };
      assertSameState(await p.load(), expected, 'outbox');
      p = await ctx.reopen(p);
      assertSameState(await p.load(), expected, 'after reopening');
    },
  },
  {
    name: 'meta keys are set, overwritten, and removed by null',
    async run(ctx) {
      let p = await ctx.open();
      await p.commit({ meta: { cursor: 1, hlc: 'h1', clientId: 'c1', obj: { a: [1, { b: null }] } } });
      await p.commit({ meta: { cursor: 2, hlc: null, never: null } });
      const expected = {
        cells: [],
        transactions: [],
        meta: { cursor: 2, clientId: 'c1', obj: { a: [1, { b: null }] } },
      };
      assertSameState(await p.load(), expected, 'meta');
      p = await ctx.reopen(p);
      assertSameState(await p.load(), expected, 'after reopening');
    },
  },
  {
    name: 'an empty batch is a no-op',
    async run(ctx) {
      let p = await ctx.open();
      await p.commit({ cells: [cell('todos', 'a', 'title', 'x')] });
      const before = await p.load();
      await p.commit({});
      await p.commit({ cells: [], putTransactions: [], deleteTransactions: [], meta: {} });
      assertDeepEqual(await p.load(), before, 'after empty batches');
      p = await ctx.reopen(p);
      assertDeepEqual(await p.load(), before, 'after reopening');
    },
  },
  {
    name: 'one commit writes cells, outbox entries and meta together',
    async run(ctx) {
      let p = await ctx.open();
      const batch: PersistenceBatch = {
        cells: [cell('todos', 'a', 'id', 'a'), cell('todos', 'a', 'title', 'x')],
        putTransactions: [
          {
            id: 'tx1',
            state: 'persisting',
            mutations: [{ type: 'insert', key: 'a', modified: { id: 'a', title: 'x' } }],
          },
        ],
        meta: { hlc: 'h' },
      };
      await p.commit(batch);
      p = await ctx.reopen(p);
      assertSameState(
        await p.load(),
        { cells: batch.cells!.slice(), transactions: batch.putTransactions!.slice(), meta: { hlc: 'h' } },
        'after reopening',
      );
    },
  },
  {
    name: 'bad input is refused with a typed error and nothing of the batch is written',
    async run(ctx) {
      let p = await ctx.open();
      await p.commit({
        cells: [cell('todos', 'a', 'title', 'kept')],
        putTransactions: [{ id: 'kept' }],
        meta: { m: 1 },
      });
      const before = await p.load();
      const good = cell('todos', 'z', 'title', 'must not be written');
      const bad: [string, unknown, ExpectedError | ExpectedError[]][] = [
        [
          'a cell with a bad collection',
          { cells: [good, { ...good, collection: 'no spaces' }] },
          { name: 'InvalidCellError', code: 'invalid_cell' },
        ],
        [
          'a cell with a bad HLC',
          { cells: [good, { ...good, hlc: 'yesterday' }] },
          [
            { name: 'InvalidCellError', code: 'invalid_cell' },
            { name: 'HlcParseError', code: 'invalid_hlc' },
          ],
        ],
        [
          'a cell without a field',
          { cells: [good, { ...good, field: '' }] },
          { name: 'InvalidCellError', code: 'invalid_cell' },
        ],
        [
          'an undoable tombstone',
          { cells: [good, { ...good, field: '_deleted', value: false }] },
          { name: 'InvalidCellError', code: 'invalid_cell' },
        ],
        [
          'a NaN value',
          { cells: [good, { ...good, value: Number.NaN }] },
          { name: 'InvalidValueError', code: 'invalid_value' },
        ],
        [
          'a function value',
          { cells: [good, { ...good, value: () => 1 }] },
          { name: 'InvalidValueError', code: 'invalid_value' },
        ],
        ['a non-object cell', { cells: [good, 'cell'] }, { name: 'InvalidCellError', code: 'invalid_cell' }],
        ['cells that are not an array', { cells: good }, { name: 'ValidationError', code: 'invalid_input' }],
        [
          'a transaction without id',
          { cells: [good], putTransactions: [{ state: 'x' }] },
          { name: 'ValidationError', code: 'invalid_input' },
        ],
        [
          'a transaction holding a Date',
          { cells: [good], putTransactions: [{ id: 't', at: new Date(0) }] },
          { name: 'InvalidValueError', code: 'invalid_value' },
        ],
        [
          'a transaction holding a BigInt',
          { cells: [good], putTransactions: [{ id: 't', n: BigInt(1) }] },
          { name: 'InvalidValueError', code: 'invalid_value' },
        ],
        [
          'a document to forget without an id',
          { cells: [good], forgetDocuments: [{ collection: 'todos' }] },
          { name: 'ValidationError', code: 'invalid_input' },
        ],
        [
          'a non-string id to delete',
          { cells: [good], deleteTransactions: [1] },
          { name: 'ValidationError', code: 'invalid_input' },
        ],
        [
          'an undefined meta value',
          { cells: [good], meta: { cursor: undefined } },
          { name: 'InvalidValueError', code: 'invalid_value' },
        ],
        [
          'an Infinity meta value',
          { cells: [good], meta: { cursor: Number.POSITIVE_INFINITY } },
          { name: 'InvalidValueError', code: 'invalid_value' },
        ],
        [
          'an unknown batch key',
          { cells: [good], transactions: [] },
          { name: 'ValidationError', code: 'invalid_input' },
        ],
        ['null instead of a batch', null, { name: 'ValidationError', code: 'invalid_input' }],
      ];
      const cyclic: Record<string, unknown> = { id: 'cyc' };
      cyclic.self = cyclic;
      bad.push([
        'a cyclic transaction',
        { cells: [good], putTransactions: [cyclic] },
        { name: 'InvalidValueError', code: 'invalid_value' },
      ]);
      for (const [what, batch, error] of bad) {
        await assertRejects(() => p.commit(batch as PersistenceBatch), error, what);
        assertDeepEqual(await p.load(), before, `state after ${what}`);
      }
      await p.commit({ cells: [good] });
      p = await ctx.reopen(p);
      assertSameState(
        await p.load(),
        { ...before, cells: [...before.cells, good] },
        'a valid commit after the refusals, reopened',
      );
    },
  },
  {
    name: 'values are copied: mutating committed or loaded objects changes nothing stored',
    async run(ctx) {
      const p = await ctx.open();
      const value = { list: [1, 2], inner: { k: 'v' } };
      const tx = { id: 't', data: { n: 1 } };
      const meta = { cursor: { at: 1 } };
      const pending = p.commit({ cells: [cell('todos', 'a', 'obj', value)], putTransactions: [tx], meta });
      value.list.push(3); // after the call, before it resolved
      await pending;
      value.inner.k = 'changed';
      tx.data.n = 2;
      meta.cursor.at = 2;
      const expected = {
        cells: [cell('todos', 'a', 'obj', { list: [1, 2], inner: { k: 'v' } })],
        transactions: [{ id: 't', data: { n: 1 } }],
        meta: { cursor: { at: 1 } },
      };
      const loaded = await p.load();
      assertSameState(loaded, expected, 'after mutating the committed objects');
      (loaded.cells[0]!.value as { list: number[] }).list.push(99);
      (loaded.transactions[0]!.data as { n: number }).n = 99;
      (loaded.meta.cursor as { at: number }).at = 99;
      loaded.cells.pop();
      assertSameState(await p.load(), expected, 'after mutating the loaded objects');
    },
  },
  {
    name: 'clear() erases everything, durably, and the store stays usable',
    async run(ctx) {
      let p = await ctx.open();
      await p.commit({
        cells: [cell('todos', 'a', 'title', 'x')],
        putTransactions: [{ id: 't1' }],
        meta: { cursor: 3 },
      });
      await p.clear();
      assertDeepEqual(await p.load(), empty, 'after clear');
      p = await ctx.reopen(p);
      assertDeepEqual(await p.load(), empty, 'after clear and reopening');
      await p.commit({ cells: [cell('todos', 'b', 'title', 'y')], putTransactions: [{ id: 't2' }] });
      await p.commit({ putTransactions: [{ id: 't3' }] });
      p = await ctx.reopen(p);
      assertSameState(
        await p.load(),
        { cells: [cell('todos', 'b', 'title', 'y')], transactions: [{ id: 't2' }, { id: 't3' }], meta: {} },
        'writes after clear',
      );
    },
  },
];
