import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propertyParams } from '../test/property.js';
import { deepFreeze, shuffleBy } from '../test/histories.js';
import { explainInvalidCell } from './cells.js';
import {
  type Cell,
  type CellValue,
  encodeHlc,
  type FieldEntry,
  flattenDocument,
  Replica,
  unflattenDocument,
  validateCell,
} from './index.js';

const REF_MANY = new Set(['tags', 'meta.refs']);
const T = encodeHlc({ wall: 1_700_000_000_000, counter: 0, node: 'w' });

const key = fc.string({ minLength: 1, maxLength: 5 }).filter((k) => !/[.[\]]/.test(k) && k !== '__proto__');
const leaf = fc.oneof(
  fc.string({ maxLength: 6 }),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
  fc.date({ noInvalidDate: true }),
  fc.constant({}),
);
const { tree } = fc.letrec<{ tree: Record<string, unknown> }>((tie) => ({
  tree: fc.dictionary(key, fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('tree')), {
    maxKeys: 4,
    noNullPrototype: true,
  }),
}));
const members = fc.uniqueArray(
  fc.string({ minLength: 1, maxLength: 4 }).filter((m) => !/[[\]]/.test(m)),
  { minLength: 1, maxLength: 4 },
);
const omit = (o: Record<string, unknown>, ...keys: string[]) =>
  Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));

/** A random document with nested objects, dates, arrays and refMany at `tags` and `meta.refs`. */
const document = fc
  .record({
    id: fc.string({ minLength: 1, maxLength: 6 }),
    rest: tree,
    tags: fc.option(members, { nil: undefined }),
    meta: fc.option(fc.record({ rest: tree, refs: members }), { nil: undefined }),
  })
  .map(({ id, rest, tags, meta }) => {
    const doc: Record<string, unknown> = { id, ...omit(rest, 'id', '_deleted', 'tags', 'meta') };
    if (tags) doc.tags = tags;
    if (meta) doc.meta = { ...omit(meta.rest, 'refs'), refs: meta.refs };
    return doc;
  });

/** What a document looks like after a round trip: dates as ISO strings, refMany sorted. */
function expected(v: unknown, path = ''): unknown {
  if (v instanceof Date) return v.toISOString();
  if (REF_MANY.has(path)) return [...(v as string[])].sort();
  if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0) {
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, expected(x, path ? `${path}.${k}` : k === 'id' ? '' : k)]),
    );
  }
  return v;
}

describe('cells properties', () => {
  it('flatten then unflatten gives the document back (dates as ISO, refMany sorted), directly and through a Replica', () => {
    fc.assert(
      fc.property(document, (doc) => {
        const id = doc.id as string;
        const flat = flattenDocument(doc, { refMany: REF_MANY });
        const want = expected(doc);
        expect(
          unflattenDocument(
            id,
            flat.map(([field, value]) => ({ field, value, hlc: T })),
          ),
        ).toEqual(want);

        const cells: Cell[] = [
          { collection: 'docs', id, field: 'id', value: id, hlc: T },
          ...flat.map(([field, value]) => ({ collection: 'docs', id, field, value, hlc: T })),
        ];
        cells.forEach((c, i) => validateCell(c, i));
        const r = new Replica();
        r.apply(cells);
        expect(r.get('docs', id)).toEqual(want);
      }),
      propertyParams(),
    );
  });

  const PATHS = ['a', 'a.b', 'a.b.c', 'a.c', 'b', 'b.x', 'c'];
  const MEMBERS = ['a.m[x]', 'a.m[y]', 'b[z]', 'a.b[w]'];
  const stamps = fc.constantFrom(
    ...[0, 1, 2, 3].flatMap((wall) => ['p', 'q'].map((node) => encodeHlc({ wall, counter: 0, node }))),
  );
  const plainValue = fc.constantFrom<CellValue[]>(
    0,
    1,
    7,
    undefined,
    {},
    { k: 1 },
    { b: { c: 2 } },
    [1, 2],
    null,
    's',
  );
  const entry: fc.Arbitrary<FieldEntry> = fc.oneof(
    fc.record({ field: fc.constantFrom(...PATHS), value: plainValue, hlc: stamps }),
    fc.record({ field: fc.constantFrom(...MEMBERS), value: fc.boolean(), hlc: stamps }),
  );
  const getPath = (doc: Record<string, unknown>, field: string): unknown =>
    field
      .split('.')
      .reduce<unknown>(
        (o, k) => (o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined),
        doc,
      );

  it('unflatten (leaf vs children by HLC) gives one document whatever the entry order, never mutates stored values, and shows the latest write', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(entry, { selector: (e) => e.field, maxLength: 10 }),
        fc.array(fc.nat(), { minLength: 10, maxLength: 10 }),
        (raw, order) => {
          const entries = raw.map((e) => deepFreeze({ ...e }));
          const a = unflattenDocument('d', entries);
          const b = unflattenDocument('d', shuffleBy(entries, order));
          const c = unflattenDocument('d', [...entries].reverse());
          expect(b).toEqual(a);
          expect(c).toEqual(a);
          // The write with the greatest (HLC, field) decides what its own path shows, unless a
          // refMany member path is involved (members are laid on top of plain fields).
          const plain = entries.filter((e) => !e.field.endsWith(']'));
          if (plain.length > 0 && plain.length === entries.length) {
            const latest = plain.reduce((x, y) =>
              y.hlc > x.hlc || (y.hlc === x.hlc && y.field > x.field) ? y : x,
            );
            expect(getPath(a, latest.field)).toEqual(latest.value);
          }
        },
      ),
      propertyParams(),
    );
  });

  it('validateCell (fast path with caches) accepts and refuses exactly what the explaining slow path does', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const nest = (n: number): unknown => (n === 0 ? 1 : [nest(n - 1)]);
    const SAME_AS_ID = Symbol('same as id');
    const anyCell = fc.record({
      collection: fc.constantFrom<unknown>('todos', 'notes', 'a-b_c', '1x', '', 5, undefined),
      id: fc.constantFrom<unknown>('a', 'doc 1', '', 7, 'x'.repeat(513), undefined),
      field: fc.constantFrom<unknown>(
        'title',
        'meta.n',
        'tags[t1]',
        'id',
        '_deleted',
        'meta.id',
        'id.x',
        'id[x]',
        '_deleted.x',
        'a..b',
        '',
        '[x]',
        'a[',
        'tags[]',
        '__proto__',
        'meta.__proto__',
        undefined,
        5,
      ),
      value: fc.constantFrom<unknown>(
        SAME_AS_ID,
        'a',
        true,
        false,
        1,
        -0,
        Number.NaN,
        Number.POSITIVE_INFINITY,
        {},
        { a: [1, null] },
        cyclic,
        new Map(),
        new Date(0),
        undefined,
        null,
        () => 1,
        1n,
        Symbol('s'),
        nest(32),
        nest(33),
      ),
      hlc: fc.constantFrom<unknown>(
        T,
        encodeHlc({ wall: 5, counter: 1, node: 'x' }),
        '',
        'garbage',
        undefined,
        5,
        '2gosa7pa2gw-000000-n',
      ),
    });
    const outcome = (f: () => void): string => {
      try {
        f();
        return 'ok';
      } catch (e) {
        return (e as { code?: string }).code ?? 'not an OmniSyncError';
      }
    };
    fc.assert(
      fc.property(fc.array(anyCell, { minLength: 1, maxLength: 4 }), (raw) => {
        for (const r of raw) {
          const cell = { ...r, value: r.value === SAME_AS_ID ? r.id : r.value };
          const fast = outcome(() => validateCell(cell, 0));
          const slow = outcome(() => explainInvalidCell(cell, 0));
          expect(fast).toBe(slow);
          expect(['ok', 'invalid_cell', 'invalid_value', 'invalid_hlc']).toContain(fast);
        }
      }),
      propertyParams(),
    );
  });
});
