import { describe, expect, it } from 'vitest';
import {
  assertStorableValue,
  encodeHlc,
  flattenDocument,
  type FieldEntry,
  isValidFieldPath,
  ObjectType,
  objectTypeOf,
  unflattenDocument,
  validateCell,
} from './index.js';

const h = (n: number, node = 'n') => encodeHlc({ wall: 1_700_000_000_000 + n, counter: 0, node });

/** `depth` nested arrays around a number. */
const nested = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = [v];
  return v;
};
const cyclic = (): unknown => {
  const o: Record<string, unknown> = { a: 1 };
  o.self = o;
  return o;
};

describe('flattenDocument', () => {
  it('turns nested objects into dotted paths, keeps arrays and empty objects whole, dates as ISO, refMany as members', () => {
    const doc = {
      id: 'a',
      title: 'x',
      meta: { n: 1, deep: { ok: true }, empty: {} },
      list: [1, { k: 2 }],
      due: new Date(Date.UTC(2024, 0, 2, 3, 4, 5)),
      tagIds: ['t2', 't1'],
      nothing: null,
    };
    expect(flattenDocument(doc, { refMany: new Set(['tagIds']) })).toEqual([
      ['title', 'x'],
      ['meta.n', 1],
      ['meta.deep.ok', true],
      ['meta.empty', {}],
      ['list', [1, { k: 2 }]],
      ['due', '2024-01-02T03:04:05.000Z'],
      ['tagIds[t2]', true],
      ['tagIds[t1]', true],
      ['nothing', null],
    ]);
  });

  it('flattens a null-prototype object like a plain one', () => {
    const meta = Object.assign(Object.create(null) as Record<string, unknown>, { n: 1 });
    expect(flattenDocument({ meta })).toEqual([['meta.n', 1]]);
  });

  it('writes no cell for an empty refMany array', () => {
    expect(flattenDocument({ tags: [] }, { refMany: new Set(['tags']) })).toEqual([]);
  });

  it.each<[string, Record<string, unknown>, Set<string>?]>([
    ['a key with a dot', { 'a.b': 1 }],
    ['a key with a bracket', { 'a[b': 1 }],
    ['a nested key with a closing bracket', { meta: { 'x]': 1 } }],
    ['an empty key', { '': 1 }],
    ['a __proto__ key', JSON.parse('{"__proto__": {"polluted": 1}}') as Record<string, unknown>],
    ['the reserved _deleted field', { _deleted: true }],
    ['a function', { f: () => 1 }],
    ['a symbol', { s: Symbol('s') }],
    ['a BigInt', { b: 10n }],
    ['NaN', { n: Number.NaN }],
    ['Infinity', { n: Number.POSITIVE_INFINITY }],
    ['-Infinity inside an array', { n: [1, Number.NEGATIVE_INFINITY] }],
    ['a cyclic object', { c: cyclic() }],
    [
      'a cyclic array',
      {
        c: (() => {
          const a: unknown[] = [];
          a.push(a);
          return a;
        })(),
      },
    ],
    ['a class instance', { m: new Map() }],
    ['a Date inside an array', { d: [new Date(0)] }],
    ['an Invalid Date', { d: new Date(Number.NaN) }],
    ['nesting deeper than 32', { deep: nested(40) }],
    [
      'a field path longer than 1024 characters',
      { ['k'.repeat(256)]: { ['k'.repeat(256)]: { ['k'.repeat(256)]: { ['k'.repeat(256)]: { x: 1 } } } } },
    ],
    ['a refMany that is not an array', { tags: 't1' }, new Set(['tags'])],
    ['a refMany member that is not a string', { tags: [1] }, new Set(['tags'])],
    ['a refMany member with a bracket', { tags: ['a]'] }, new Set(['tags'])],
    ['an empty refMany member', { tags: [''] }, new Set(['tags'])],
  ])('refuses %s with InvalidValueError (code invalid_value)', (_name, doc, refMany) => {
    expect(() => flattenDocument(doc, refMany ? { refMany } : {})).toThrow(
      expect.objectContaining({ name: 'InvalidValueError', code: 'invalid_value' }),
    );
  });

  it('says in the error message what was wrong and what to do', () => {
    expect(() => flattenDocument({ f: () => 1 })).toThrow(/f: a function cannot be stored; use JSON values/);
    expect(() => flattenDocument({ 'a.b': 1 })).toThrow(/may not contain '\.'/);
  });
});

describe('unflattenDocument', () => {
  it('rebuilds nested objects, skips unset fields and removed refMany members, sorts members', () => {
    const t = h(1);
    const entries: FieldEntry[] = [
      { field: 'id', value: 'a', hlc: t },
      { field: 'title', value: 'x', hlc: t },
      { field: 'gone', value: undefined, hlc: t },
      { field: 'meta.n', value: 1, hlc: t },
      { field: 'meta.old', value: undefined, hlc: t },
      { field: 'tags[t2]', value: true, hlc: t },
      { field: 'tags[t1]', value: true, hlc: t },
      { field: 'tags[t0]', value: false, hlc: t },
    ];
    expect(unflattenDocument('a', entries)).toEqual({
      id: 'a',
      title: 'x',
      meta: { n: 1 },
      tags: ['t1', 't2'],
    });
  });

  it('lets a leaf written after the children of its path replace them', () => {
    const doc = unflattenDocument('a', [
      { field: 'meta', value: 5, hlc: h(3) },
      { field: 'meta.n', value: 1, hlc: h(1) },
      { field: 'meta.m', value: 2, hlc: h(2) },
    ]);
    expect(doc).toEqual({ id: 'a', meta: 5 });
  });

  it('lets children written after a leaf replace it, keeping only the later children', () => {
    const doc = unflattenDocument('a', [
      { field: 'meta.m', value: 2, hlc: h(4) },
      { field: 'meta', value: 5, hlc: h(3) },
      { field: 'meta.n', value: 1, hlc: h(1) },
    ]);
    expect(doc).toEqual({ id: 'a', meta: { m: 2 } });
  });

  it('an unset of a path written after its children hides them', () => {
    const doc = unflattenDocument('a', [
      { field: 'meta.n', value: 1, hlc: h(1) },
      { field: 'meta', value: undefined, hlc: h(2) },
    ]);
    expect(doc).toEqual({ id: 'a' });
  });

  it('never writes into a stored object value (children newer than an object leaf)', () => {
    const stored = Object.freeze({ k: 1 });
    const inner = Object.freeze({});
    const entries: FieldEntry[] = [
      { field: 'meta', value: stored, hlc: h(1) },
      { field: 'meta.n', value: 2, hlc: h(2) },
      { field: 'meta.k', value: undefined, hlc: h(3) },
      { field: 'box', value: Object.freeze({ inner }), hlc: h(1) },
      { field: 'box.inner.x', value: 3, hlc: h(2) },
      { field: 'box.refs[m1]', value: true, hlc: h(2) },
    ];
    const doc = unflattenDocument('a', entries);
    expect(doc).toEqual({ id: 'a', meta: { n: 2 }, box: { inner: { x: 3 }, refs: ['m1'] } });
    expect(stored).toEqual({ k: 1 });
    expect(inner).toEqual({});
  });

  it('keeps a __proto__ entry (which validation refuses) as data, never as a prototype', () => {
    const doc = unflattenDocument('a', [
      { field: '__proto__', value: { polluted: true }, hlc: h(1) },
      { field: '__proto__.x', value: 1, hlc: h(2) },
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).x).toBeUndefined();
    expect(Object.getPrototypeOf(doc)).toBe(Object.prototype);
  });
});

describe('validateCell', () => {
  const ok = { collection: 'todos', id: 'a', field: 'title', value: 'x', hlc: h(1) };

  // Must stay the first validateCell call of this file: the known-HLC cache starts empty here.
  it('refuses an empty HLC even as the first cell this process validates', () => {
    expect(() => validateCell({ ...ok, hlc: '' })).toThrow(expect.objectContaining({ code: 'invalid_hlc' }));
  });

  it('accepts well-formed cells, including unset (undefined) and refMany members', () => {
    validateCell(ok);
    validateCell({ ...ok, value: undefined });
    validateCell({ ...ok, field: 'meta.deep.n', value: { a: [1, null] } });
    validateCell({ ...ok, field: 'tags[t1]', value: false });
    validateCell({ ...ok, field: 'id', value: 'a' });
    validateCell({ ...ok, field: '_deleted', value: true });
    validateCell({ ...ok, field: 'meta.id', value: 1 });
  });

  it.each<[string, unknown, string]>([
    ['a non-object', 'cell', 'invalid_cell'],
    ['null', null, 'invalid_cell'],
    ['a missing collection', { ...ok, collection: undefined }, 'invalid_cell'],
    ['a collection starting with a digit', { ...ok, collection: '1x' }, 'invalid_cell'],
    ['a numeric id', { ...ok, id: 7 }, 'invalid_cell'],
    ['an empty id', { ...ok, id: '' }, 'invalid_cell'],
    ['an id longer than 512', { ...ok, id: 'x'.repeat(513) }, 'invalid_cell'],
    ['no field', { ...ok, field: undefined }, 'invalid_cell'],
    ['an empty field', { ...ok, field: '' }, 'invalid_cell'],
    ['a field with an empty key', { ...ok, field: 'a..b' }, 'invalid_cell'],
    ['a field ending in a dot', { ...ok, field: 'a.' }, 'invalid_cell'],
    ['an unclosed member', { ...ok, field: 'tags[x', value: true }, 'invalid_cell'],
    ['an empty member', { ...ok, field: 'tags[]', value: true }, 'invalid_cell'],
    ['a member with no path', { ...ok, field: '[x]', value: true }, 'invalid_cell'],
    ['a field under id', { ...ok, field: 'id.x', value: 1 }, 'invalid_cell'],
    ['a member under id', { ...ok, field: 'id[x]', value: true }, 'invalid_cell'],
    ['a field under _deleted', { ...ok, field: '_deleted.x', value: 1 }, 'invalid_cell'],
    ['a __proto__ field', { ...ok, field: '__proto__.polluted', value: 1 }, 'invalid_cell'],
    ['a tombstone that is not true', { ...ok, field: '_deleted', value: false }, 'invalid_cell'],
    ['an id cell that differs from the id', { ...ok, field: 'id', value: 'b' }, 'invalid_cell'],
    ['a member whose value is not a boolean', { ...ok, field: 'tags[t1]', value: 1 }, 'invalid_cell'],
    ['an HLC that does not parse', { ...ok, hlc: 'yesterday' }, 'invalid_hlc'],
    ['a missing HLC', { ...ok, hlc: undefined }, 'invalid_hlc'],
    ['a function value', { ...ok, value: () => 1 }, 'invalid_value'],
    ['a symbol value', { ...ok, value: Symbol('s') }, 'invalid_value'],
    ['a BigInt value', { ...ok, value: 1n }, 'invalid_value'],
    ['a NaN value', { ...ok, value: Number.NaN }, 'invalid_value'],
    ['an Infinity value', { ...ok, value: Number.POSITIVE_INFINITY }, 'invalid_value'],
    ['a cyclic value', { ...ok, value: cyclic() }, 'invalid_value'],
    ['a class instance value', { ...ok, value: new (class Point {})() }, 'invalid_value'],
    ['a Date value', { ...ok, value: new Date(0) }, 'invalid_value'],
    ['a value nested deeper than 32', { ...ok, value: nested(33) }, 'invalid_value'],
  ])('refuses a cell with %s (code %s)', (_name, cell, code) => {
    expect(() => validateCell(cell, 3)).toThrow(expect.objectContaining({ code }));
    expect(() => validateCell(cell, 3)).toThrow(/cell #3/);
  });

  it('accepts a value nested exactly 32 deep', () => {
    validateCell({ ...ok, value: nested(32) });
    expect(() => assertStorableValue(nested(33), 'v')).toThrow(/deeper than 32/);
  });

  it('accepts a shared (non-cyclic) sub-object referenced twice', () => {
    const shared = { n: 1 };
    validateCell({ ...ok, value: { a: shared, b: [shared, shared] } });
  });
});

describe('field paths and type tags', () => {
  it.each(['a', 'a.b.c', 'tags[t1]', 'meta.tags[some id.with.dots]', 'meta.id', 'x-y_z'])(
    '%s is a valid path',
    (p) => {
      expect(isValidFieldPath(p)).toBe(true);
    },
  );

  it('tags values as seed 003 ObjectType', () => {
    expect(objectTypeOf('x')).toBe(ObjectType.STRING);
    expect(objectTypeOf('2024-01-01T00:00:00.000Z', 'date')).toBe(ObjectType.DATE);
    expect(objectTypeOf('a', 'ref')).toBe(ObjectType.REF);
    expect(objectTypeOf(1)).toBe(ObjectType.NUMBER);
    expect(objectTypeOf(false)).toBe(ObjectType.BOOLEAN);
    expect(objectTypeOf(null)).toBe(ObjectType.NULL);
    expect(objectTypeOf(undefined)).toBe(ObjectType.NULL);
    expect(objectTypeOf([1])).toBe(ObjectType.JSON);
    expect(objectTypeOf({ a: 1 })).toBe(ObjectType.JSON);
  });
});

describe('flattenDocument atomic (json) fields', () => {
  it('stores a json field holding an object as one cell, replaced whole', async () => {
    const { flattenDocument: flatten } = await import('./cells.js');
    const doc = { id: 'a', settings: { theme: 'dark', size: 2 }, meta: { n: 1 } };
    expect(flatten(doc, { atomic: new Set(['settings']) })).toEqual([
      ['settings', { theme: 'dark', size: 2 }],
      ['meta.n', 1],
    ]);
    expect(flatten(doc)).toEqual([
      ['settings.theme', 'dark'],
      ['settings.size', 2],
      ['meta.n', 1],
    ]);
  });
});
