import { describe, expect, it } from 'vitest';
import {
  createHlc,
  createManualScheduler,
  flattenDocument,
  OmniSyncError,
  Replica,
  ReplicaEntry,
  type Cell,
} from './index.js';

const clock = createManualScheduler();
const hlc = createHlc({ nodeId: 'n1', clock });
const doc = (collection: string, d: Record<string, unknown>): Cell[] => {
  const t = hlc.now();
  return [
    { collection, id: d.id as string, field: 'id', value: d.id as string, hlc: t },
    ...flattenDocument(d).map(([field, value]) => ({ collection, id: d.id as string, field, value, hlc: t })),
  ];
};

describe('Replica', () => {
  it('applies a document and reports an insert, then an update with exactly the changed fields', () => {
    const r = new Replica();
    expect(r.apply(doc('todos', { id: 'a', title: 'x', meta: { n: 1 } }))).toEqual([
      { collection: 'todos', id: 'a', kind: 'insert', fields: ['id', 'title', 'meta.n'] },
    ]);
    expect(r.get('todos', 'a')).toEqual({ id: 'a', title: 'x', meta: { n: 1 } });
    const before = r.get('todos', 'a');
    expect(r.get('todos', 'a')).toBe(before);
    const ch = r.apply([{ collection: 'todos', id: 'a', field: 'meta.n', value: 2, hlc: hlc.now() }]);
    expect(ch).toEqual([{ collection: 'todos', id: 'a', kind: 'update', fields: ['meta.n'] }]);
    expect(r.get('todos', 'a')).toEqual({ id: 'a', title: 'x', meta: { n: 2 } });
  });

  it('refuses a whole batch when one cell is bad and applies nothing', () => {
    const r = new Replica();
    const good = doc('todos', { id: 'a', title: 'x' });
    expect(() =>
      r.apply([...good, { collection: 'todos', id: 'a', field: '', value: 1, hlc: hlc.now() }]),
    ).toThrow(expect.objectContaining({ code: 'invalid_cell' }));
    expect(r.get('todos', 'a')).toBeUndefined();
    expect(r.seq).toBe(0);
  });

  it('delete wins over a later write and hides the document', () => {
    const r = new Replica();
    r.apply(doc('todos', { id: 'a', title: 'x' }));
    const del = hlc.now();
    const later = hlc.now();
    expect(r.apply([{ collection: 'todos', id: 'a', field: '_deleted', value: true, hlc: del }])).toEqual([
      { collection: 'todos', id: 'a', kind: 'delete', fields: [] },
    ]);
    expect(r.apply([{ collection: 'todos', id: 'a', field: 'title', value: 'y', hlc: later }])).toEqual([]);
    expect(r.get('todos', 'a')).toBeUndefined();
    expect([...r.documents('todos')]).toEqual([]);
    expect(r.cellsSince(0)).toEqual([
      { collection: 'todos', id: 'a', field: '_deleted', value: true, hlc: del },
    ]);
  });
});

describe('Replica refuses bad input and applies nothing of the batch', () => {
  const cyclic = (() => {
    const o: Record<string, unknown> = {};
    o.self = o;
    return o;
  })();
  let deep: unknown = 1;
  for (let i = 0; i < 33; i++) deep = { d: deep };
  const t = () => hlc.now();
  const base = (over: Record<string, unknown>) => ({
    collection: 'todos',
    id: 'a',
    field: 'title',
    value: 'z',
    hlc: t(),
    ...over,
  });

  it.each<[string, () => unknown, string]>([
    ['a cell without a field', () => base({ field: undefined }), 'invalid_cell'],
    ['an empty field', () => base({ field: '' }), 'invalid_cell'],
    ['a numeric id', () => base({ id: 42 }), 'invalid_cell'],
    ['an empty id', () => base({ id: '' }), 'invalid_cell'],
    ['a null id', () => base({ id: null }), 'invalid_cell'],
    ['a null cell', () => null, 'invalid_cell'],
    ['a function value', () => base({ value: () => 1 }), 'invalid_value'],
    ['a symbol value', () => base({ value: Symbol('x') }), 'invalid_value'],
    ['a BigInt value', () => base({ value: 5n }), 'invalid_value'],
    ['a NaN value', () => base({ value: Number.NaN }), 'invalid_value'],
    ['an Infinity value', () => base({ value: Number.POSITIVE_INFINITY }), 'invalid_value'],
    [
      'a -Infinity nested in an object',
      () => base({ value: { n: Number.NEGATIVE_INFINITY } }),
      'invalid_value',
    ],
    ['a cyclic object', () => base({ value: cyclic }), 'invalid_value'],
    ['a class instance', () => base({ value: new Map([[1, 2]]) }), 'invalid_value'],
    ['a Date', () => base({ value: new Date(0) }), 'invalid_value'],
    ['nesting deeper than 32', () => base({ value: deep }), 'invalid_value'],
    ['an HLC that does not parse', () => base({ hlc: '2024-01-01' }), 'invalid_hlc'],
    ['a tombstone with value false', () => base({ field: '_deleted', value: false }), 'invalid_cell'],
  ])('%s → code %s; seq, cells and documents unchanged', (_name, bad, code) => {
    const r = new Replica();
    r.apply(doc('todos', { id: 'a', title: 'x', meta: { n: 1 } }));
    const seq = r.seq;
    const before = r.get('todos', 'a');
    const cellsBefore = r.cellsSince(0);
    const good: Cell[] = [
      { collection: 'todos', id: 'a', field: 'title', value: 'changed', hlc: t() },
      { collection: 'todos', id: 'b', field: 'id', value: 'b', hlc: t() },
      { collection: 'todos', id: 'a', field: '_deleted', value: true, hlc: t() },
    ];
    for (const at of [0, 1, good.length]) {
      const batch = [...good];
      batch.splice(at, 0, bad() as Cell);
      let thrown: unknown;
      try {
        r.apply(batch);
      } catch (e) {
        thrown = e;
      }
      expect(thrown).toBeInstanceOf(OmniSyncError);
      expect(thrown).toMatchObject({ code });
      expect((thrown as Error).message).toMatch(new RegExp(`cell #${at}`));
      expect(r.seq).toBe(seq);
      expect(r.cellsSince(0)).toEqual(cellsBefore);
      expect(r.get('todos', 'a')).toBe(before);
      expect(r.get('todos', 'b')).toBeUndefined();
      expect([...r.documents('todos')]).toEqual([before]);
    }
  });

  it('refuses a batch that is not an array', () => {
    const r = new Replica();
    expect(() => r.apply('cells' as unknown as Cell[])).toThrow(
      expect.objectContaining({ code: 'invalid_cell' }),
    );
    expect(r.seq).toBe(0);
  });
});

describe('Replica change reports and reads', () => {
  it('reports refMany member adds and removes as field[member], unsets, and each field once per batch', () => {
    const r = new Replica();
    r.apply(doc('todos', { id: 'a', title: 'x' }));
    const ch = r.apply([
      { collection: 'todos', id: 'a', field: 'tags[t1]', value: true, hlc: hlc.now() },
      { collection: 'todos', id: 'a', field: 'title', value: 'y', hlc: hlc.now() },
      { collection: 'todos', id: 'a', field: 'title', value: undefined, hlc: hlc.now() },
    ]);
    expect(ch).toEqual([{ collection: 'todos', id: 'a', kind: 'update', fields: ['tags[t1]', 'title'] }]);
    expect(r.get('todos', 'a')).toEqual({ id: 'a', tags: ['t1'] });
    expect(
      r.apply([{ collection: 'todos', id: 'a', field: 'tags[t1]', value: false, hlc: hlc.now() }]),
    ).toEqual([{ collection: 'todos', id: 'a', kind: 'update', fields: ['tags[t1]'] }]);
    expect(r.get('todos', 'a')).toEqual({ id: 'a' });
  });

  it('ignores an older write and reports nothing for it', () => {
    const r = new Replica();
    const old = hlc.now();
    r.apply(doc('todos', { id: 'a', title: 'new' }));
    const seq = r.seq;
    expect(r.apply([{ collection: 'todos', id: 'a', field: 'title', value: 'old', hlc: old }])).toEqual([]);
    expect(r.get('todos', 'a')).toEqual({ id: 'a', title: 'new' });
    expect(r.seq).toBe(seq);
  });

  it('a tombstone that arrives first keeps the document from ever appearing', () => {
    const r = new Replica();
    expect(
      r.apply([{ collection: 'todos', id: 'a', field: '_deleted', value: true, hlc: hlc.now() }]),
    ).toEqual([]);
    expect(r.apply(doc('todos', { id: 'a', title: 'x' }))).toEqual([]);
    expect(r.has('todos', 'a')).toBe(false);
    expect(r.isDeleted('todos', 'a')).toBe(true);
    expect(r.count('todos')).toBe(0);
    expect(r.cell('todos', 'a', '_deleted')).toMatchObject({ value: true });
    expect(r.cell('todos', 'a', 'title')).toBeUndefined();
  });

  it('cellsSince(seq) lists only what changed after seq; ids, count and collections follow the visible docs', () => {
    const r = new Replica();
    r.apply(doc('todos', { id: 'a', title: 'x' }));
    r.apply(doc('notes', { id: 'n', body: 'b' }));
    const mark = r.seq;
    const t = hlc.now();
    r.apply([{ collection: 'todos', id: 'a', field: 'title', value: 'y', hlc: t }]);
    expect(r.cellsSince(mark)).toEqual([
      { collection: 'todos', id: 'a', field: 'title', value: 'y', hlc: t },
    ]);
    expect(r.cellsSince(r.seq)).toEqual([]);
    expect([...r.ids('todos')]).toEqual(['a']);
    expect(r.count('notes')).toBe(1);
    expect(r.collections().sort()).toEqual(['notes', 'todos']);
    expect([...r.ids('missing')]).toEqual([]);
    r.clear();
    expect(r.count('todos')).toBe(0);
  });

  it('forget() drops a document and its tombstone: a delete when it was visible, nothing otherwise', () => {
    const r = new Replica();
    r.apply(doc('todos', { id: 'a', title: 'x' }));
    r.apply([{ collection: 'todos', id: 'd', field: '_deleted', value: true, hlc: hlc.now() }]);
    expect(r.forget('todos', 'a')).toEqual({ collection: 'todos', id: 'a', kind: 'delete', fields: [] });
    expect(r.get('todos', 'a')).toBeUndefined();
    expect(r.cellsSince(0).some((c) => c.id === 'a')).toBe(false);
    expect(r.isDeleted('todos', 'd')).toBe(true);
    expect(r.forget('todos', 'd')).toBeUndefined();
    expect(r.isDeleted('todos', 'd')).toBe(false);
    expect(r.forget('todos', 'missing')).toBeUndefined();
    // A forgotten document can come back from a later sync.
    expect(r.apply(doc('todos', { id: 'a', title: 'z' }))).toEqual([
      { collection: 'todos', id: 'a', kind: 'insert', fields: ['id', 'title'] },
    ]);
  });

  it('stores documents of every width: shared shapes, wide documents and many distinct fields agree in any order', () => {
    // 300 fields (past the shared-shape limit), 100 documents each with its own refMany
    // members (past the transition fan-out), interleaved partial updates with other HLCs.
    const cells: Cell[] = [];
    const wide: Record<string, number> = { id: 0 };
    for (let f = 0; f < 300; f++) wide[`f${f}`] = f;
    const t0 = hlc.now();
    cells.push({ collection: 'w', id: 'wide', field: 'id', value: 'wide', hlc: t0 });
    for (let f = 0; f < 300; f++)
      cells.push({ collection: 'w', id: 'wide', field: `f${f}`, value: f, hlc: t0 });
    for (let d = 0; d < 100; d++) {
      const t = hlc.now();
      cells.push({ collection: 'm', id: `d${d}`, field: 'id', value: `d${d}`, hlc: t });
      cells.push({ collection: 'm', id: `d${d}`, field: `tags[x${d}]`, value: true, hlc: t });
      cells.push({ collection: 'm', id: `d${d}`, field: `tags[y${d % 7}]`, value: true, hlc: t });
    }
    for (let f = 0; f < 300; f += 7)
      cells.push({ collection: 'w', id: 'wide', field: `f${f}`, value: -f, hlc: hlc.now() });
    for (let d = 0; d < 100; d += 3)
      cells.push({ collection: 'm', id: `d${d}`, field: `tags[x${d}]`, value: false, hlc: hlc.now() });

    const forward = new Replica();
    forward.apply(cells);
    const backward = new Replica();
    for (let i = cells.length - 1; i >= 0; i--) backward.apply([cells[i]!]);

    const w = forward.get('w', 'wide')!;
    for (let f = 0; f < 300; f++) expect(w[`f${f}`]).toBe(f % 7 === 0 ? -f : f);
    expect(forward.get('m', 'd3')).toEqual({ id: 'd3', tags: ['y3'] });
    expect(forward.get('m', 'd4')).toEqual({ id: 'd4', tags: ['x4', 'y4'] });
    expect(forward.cell('w', 'wide', 'f7')?.value).toBe(-7);
    expect(forward.fields('m', 'd4')?.get('tags[x4]')?.value).toBe(true);
    for (const r of [forward, backward]) {
      expect(r.count('m')).toBe(100);
      expect(r.get('w', 'wide')).toEqual(w);
    }
    const sort = (cs: Cell[]) => cs.map((c) => JSON.stringify(c)).sort();
    expect(sort(backward.cellsSince(0))).toEqual(sort(forward.cellsSince(0)));
    // Shipping the state into a fresh replica is a no-op for the original.
    const copy = new Replica();
    copy.apply(forward.cellsSince(0));
    expect(forward.apply(copy.cellsSince(0))).toEqual([]);
    expect(copy.get('m', 'd99')).toEqual(forward.get('m', 'd99'));
  });

  it('cellsSince(seq) is exact per field after a partial update of a document written at once', () => {
    const r = new Replica();
    r.apply(doc('todos', { id: 'a', title: 'x', n: 1, done: false }));
    const mark = r.seq;
    const t = hlc.now();
    r.apply([{ collection: 'todos', id: 'a', field: 'n', value: 2, hlc: t }]);
    expect(r.cellsSince(mark)).toEqual([{ collection: 'todos', id: 'a', field: 'n', value: 2, hlc: t }]);
    expect(r.cellsSince(0)).toHaveLength(4);
    expect(r.get('todos', 'a')).toEqual({ id: 'a', title: 'x', n: 2, done: false });
  });

  it('keeps per-field stamps exact through one differing field, its repeats, a second field and an older write', () => {
    const r = new Replica();
    const t0 = hlc.now();
    r.apply(doc('todos', { id: 'a', title: 'x', n: 1, done: false }).map((c) => ({ ...c, hlc: t0 })));
    const s0 = r.seq;
    const t1 = hlc.now();
    r.apply([{ collection: 'todos', id: 'a', field: 'n', value: 2, hlc: t1 }]);
    const s1 = r.seq;
    const t2 = hlc.now();
    r.apply([{ collection: 'todos', id: 'a', field: 'n', value: 3, hlc: t2 }]);
    expect(r.cell('todos', 'a', 'n')).toEqual({ value: 3, hlc: t2, seq: r.seq });
    expect(r.cell('todos', 'a', 'title')).toEqual({ value: 'x', hlc: t0, seq: s0 });
    // An older write to the differing field loses.
    expect(r.apply([{ collection: 'todos', id: 'a', field: 'n', value: 9, hlc: t1 }])).toEqual([]);
    expect(r.cellsSince(s1)).toEqual([{ collection: 'todos', id: 'a', field: 'n', value: 3, hlc: t2 }]);
    // A second field with its own stamp: every field keeps its own.
    const t3 = hlc.now();
    r.apply([{ collection: 'todos', id: 'a', field: 'done', value: true, hlc: t3 }]);
    expect(r.cell('todos', 'a', 'n')!.hlc).toBe(t2);
    expect(r.cell('todos', 'a', 'done')!.hlc).toBe(t3);
    expect(r.cell('todos', 'a', 'title')!.hlc).toBe(t0);
    // A new field appended at yet another stamp.
    const t4 = hlc.now();
    r.apply([{ collection: 'todos', id: 'a', field: 'tag', value: 'k', hlc: t4 }]);
    expect(r.cellsSince(s1).map((c) => [c.field, c.hlc])).toEqual([
      ['n', t2],
      ['done', t3],
      ['tag', t4],
    ]);
    expect(r.get('todos', 'a')).toEqual({ id: 'a', title: 'x', n: 3, done: true, tag: 'k' });
    // A document whose one differing field is appended keeps it apart too.
    const b = new Replica();
    b.apply([{ collection: 'todos', id: 'b', field: 'id', value: 'b', hlc: t0 }]);
    b.apply([{ collection: 'todos', id: 'b', field: 'x', value: 1, hlc: t1 }]);
    expect(b.cell('todos', 'b', 'id')!.hlc).toBe(t0);
    expect(b.cell('todos', 'b', 'x')!.hlc).toBe(t1);
  });

  it('a document reference saves the lookup, and one to a forgotten or cleared document is not used', () => {
    const r = new Replica();
    const t = hlc.now();
    r.beginWrite(false);
    const ref = r.at('todos', 'a');
    r.writeDoc('todos', 'a', { id: 'a', n: 1 }, t);
    r.endWrite();
    r.beginWrite(false);
    expect(r.at('todos', 'a', ref)).toBe(ref);
    r.write('todos', 'a', 'n', 2, hlc.now());
    r.endWrite();
    expect(r.get('todos', 'a')).toEqual({ id: 'a', n: 2 });
    r.forget('todos', 'a');
    r.beginWrite(false);
    const fresh = r.at('todos', 'a', ref);
    r.writeDoc('todos', 'a', { id: 'a', n: 3 }, hlc.now());
    r.endWrite();
    expect(fresh).not.toBe(ref);
    expect(r.get('todos', 'a')).toEqual({ id: 'a', n: 3 });
    r.clear();
    r.beginWrite(false);
    expect(r.at('todos', 'a', fresh)).not.toBe(fresh);
    r.write('todos', 'a', 'id', 'a', hlc.now());
    r.endWrite();
    expect(r.get('todos', 'a')).toEqual({ id: 'a' });
  });

  it('owner entries: entries from a factory carry the state of their owner; release keeps any the replica holds data of', () => {
    class Owned extends ReplicaEntry {
      note = '';
    }
    const r = new Replica<Owned>({ entry: () => new Owned() });
    const map = r.entries('todos');
    expect(r.entries('todos')).toBe(map);
    // An owner adds a blank entry: to the replica it is a document never seen.
    const a = r.newEntry();
    a.note = 'overlay only';
    map.set('a', a);
    expect(r.has('todos', 'a')).toBe(false);
    expect(r.get('todos', 'a')).toBeUndefined();
    expect(r.fields('todos', 'a')).toBeUndefined();
    expect(r.cellsSince(0)).toEqual([]);
    expect(r.count('todos')).toBe(0);
    // Written through the entry (as a ref): the same object now holds the cells, no new entry.
    const t = hlc.now();
    r.beginWrite(false);
    expect(r.at('todos', 'a', a)).toBe(a);
    r.writeDoc('todos', 'a', { id: 'a', n: 1 }, t);
    r.endWrite();
    expect(map.get('a')).toBe(a);
    expect(a.note).toBe('overlay only');
    expect(r.docOf('a', a)).toEqual({ id: 'a', n: 1 });
    // Not blank: release keeps it.
    expect(r.release(map, 'a', a)).toBe(false);
    expect(r.get('todos', 'a')).toEqual({ id: 'a', n: 1 });
    // Cells from elsewhere create entries from the factory.
    r.apply([{ collection: 'todos', id: 'b', field: 'id', value: 'b', hlc: hlc.now() }]);
    expect(map.get('b')).toBeInstanceOf(Owned);
    // A tombstone is data: kept by release, invisible to docOf.
    r.apply([{ collection: 'todos', id: 'b', field: '_deleted', value: true, hlc: hlc.now() }]);
    const b = map.get('b')!;
    expect(r.release(map, 'b', b)).toBe(false);
    expect(r.docOf('b', b)).toBeUndefined();
    expect(r.isDeleted('todos', 'b')).toBe(true);
    // A blank entry is released and marked stale: a later write through it makes a new entry.
    const c = r.newEntry();
    map.set('c', c);
    expect(r.release(map, 'c', c)).toBe(true);
    expect(map.has('c')).toBe(false);
    r.beginWrite(false);
    expect(r.at('todos', 'c', c)).not.toBe(c);
    r.endWrite();
    // forget removes and blanks the entry; readopt puts the same object back, blank.
    expect(r.forget('todos', 'a')).toEqual({ collection: 'todos', id: 'a', kind: 'delete', fields: [] });
    expect(map.has('a')).toBe(false);
    r.readopt('todos', 'a', a);
    expect(map.get('a')).toBe(a);
    expect(r.get('todos', 'a')).toBeUndefined();
    expect(r.fields('todos', 'a')).toBeUndefined();
    expect(() => r.readopt('todos', 'a', a)).toThrow(/has an entry already/);
    r.beginWrite(false);
    expect(r.at('todos', 'a', a)).toBe(a);
    r.write('todos', 'a', 'id', 'a', hlc.now());
    r.endWrite();
    expect(r.get('todos', 'a')).toEqual({ id: 'a' });
    // clear empties the maps but keeps them.
    r.clear();
    expect(r.entries('todos')).toBe(map);
    expect(map.size).toBe(0);
    expect(r.isDeleted('todos', 'b')).toBe(false);
  });
});
