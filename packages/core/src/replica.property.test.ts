import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propertyParams } from '../test/property.js';
import {
  batches,
  COLLECTIONS,
  deepFreeze,
  FIELDS,
  fieldValue,
  history,
  MEMBERS,
  oracle,
  playHistory,
  REF_MANY,
  shuffleBy,
  snapshot,
} from '../test/histories.js';
import {
  type Cell,
  createHlc,
  DELETED_FIELD,
  type DocChange,
  encodeHlc,
  parseHlc,
  Replica,
  seededRandom,
} from './index.js';

// ---- random cell sets, with many exact HLC ties (a malformed but possible input) ----------------
const stamp = fc.constantFrom(
  ...[1, 2, 3, 4].flatMap((wall) =>
    [0, 1].flatMap((counter) => ['p', 'q'].map((node) => encodeHlc({ wall, counter, node }))),
  ),
);
const target = fc.record({ collection: fc.constantFrom(...COLLECTIONS), id: fc.constantFrom('a', 'b', 'c') });
const cell: fc.Arbitrary<Cell> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .record({ t: target, field: fc.constantFrom(...FIELDS), value: fieldValue, hlc: stamp })
      .map(({ t, ...c }) => ({ ...t, ...c })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ t: target, hlc: stamp })
      .map(({ t, hlc }) => ({ ...t, field: 'id', value: t.id, hlc })),
  },
  {
    weight: 2,
    arbitrary: fc
      .record({ t: target, m: fc.constantFrom(...MEMBERS), value: fc.boolean(), hlc: stamp })
      .map(({ t, m, value, hlc }) => ({ ...t, field: `${REF_MANY}[${m}]`, value, hlc })),
  },
  {
    weight: 1,
    arbitrary: fc
      .record({ t: target, hlc: stamp })
      .map(({ t, hlc }) => ({ ...t, field: DELETED_FIELD, value: true, hlc })),
  },
);
const cellSet = fc.array(cell, { maxLength: 30, size: 'medium' }).map((cs) => deepFreeze(cs));

const stateOf = (cells: readonly Cell[]): Replica => {
  const r = new Replica();
  r.apply(cells);
  return r;
};
/** Merge two replica states by shipping each one's full state (cellsSince(0)) into a fresh replica. */
const merge = (a: Replica, b: Replica): Replica => {
  const r = new Replica();
  r.apply(a.cellsSince(0));
  r.apply(b.cellsSince(0));
  return r;
};

// ---- what apply() must report -------------------------------------------------------------------
type Slots = Map<string, { value: unknown; hlc: string }>;
const slotsOf = (r: Replica, collection: string, id: string): Slots =>
  new Map([...(r.fields(collection, id) ?? [])].map(([f, s]) => [f, { value: s.value, hlc: s.hlc }]));

/** Apply one batch and check that the reported changes are exactly what changed. */
function applyAndCheck(r: Replica, batch: readonly Cell[]): void {
  const keys = new Map<string, { collection: string; id: string }>();
  for (const c of batch) keys.set(`${c.collection}/${c.id}`, { collection: c.collection, id: c.id });
  const before = new Map(
    [...keys].map(([k, { collection, id }]) => [
      k,
      { doc: r.get(collection, id), slots: slotsOf(r, collection, id) },
    ]),
  );
  const seq = r.seq;
  const changes = r.apply(batch);
  const byKey = new Map<string, DocChange>();
  for (const ch of changes) {
    const k = `${ch.collection}/${ch.id}`;
    expect(keys.has(k), `change for untouched document ${k}`).toBe(true);
    expect(byKey.has(k), `two changes for ${k}`).toBe(false);
    byKey.set(k, ch);
    expect(new Set(ch.fields).size).toBe(ch.fields.length);
  }
  for (const [k, { collection, id }] of keys) {
    const was = before.get(k)!;
    const now = r.get(collection, id);
    const after = slotsOf(r, collection, id);
    const changed = [...after].filter(([f, s]) => {
      const b = was.slots.get(f);
      return !b || b.hlc !== s.hlc || b.value !== s.value;
    });
    const ch = byKey.get(k);
    if (now && !was.doc) expect(ch).toMatchObject({ kind: 'insert' });
    else if (now && was.doc && changed.length > 0) expect(ch).toMatchObject({ kind: 'update' });
    else if (!now && was.doc) expect(ch).toEqual({ collection, id, kind: 'delete', fields: [] });
    else expect(ch).toBeUndefined();
    if (ch && ch.kind !== 'delete') expect([...ch.fields].sort()).toEqual(changed.map(([f]) => f).sort());
    // Reactivity relies on identity: an unchanged document is the very same object.
    if (!ch && now) expect(now).toBe(was.doc);
    if (r.isDeleted(collection, id)) expect(now).toBeUndefined();
  }
  // The sequence moves exactly when some stored cell changed.
  const storedChanged = [...keys.values()].some(({ collection, id }) =>
    r.cellsSince(seq).some((c) => c.collection === collection && c.id === id),
  );
  expect(r.seq > seq).toBe(storedChanged);
}

describe('Replica merge properties', () => {
  it('merge is commutative, associative and idempotent, and agrees with the naive oracle', () => {
    fc.assert(
      fc.property(cellSet, cellSet, cellSet, (x, y, z) => {
        const [sx, sy, sz] = [stateOf(x), stateOf(y), stateOf(z)];
        const xy = snapshot(merge(sx, sy));
        expect(snapshot(merge(sy, sx))).toEqual(xy);
        const left = snapshot(merge(merge(sx, sy), sz));
        expect(snapshot(merge(sx, merge(sy, sz)))).toEqual(left);
        expect(snapshot(merge(sx, sx))).toEqual(snapshot(sx));
        expect(left).toEqual(oracle([...x, ...y, ...z]));
        // Re-applying what a replica already holds changes nothing, not even its sequence.
        const seq = sx.seq;
        expect(sx.apply(sx.cellsSince(0).map((c) => structuredClone(c)))).toEqual([]);
        expect(sx.apply(x)).toEqual([]);
        expect(sx.seq).toBe(seq);
      }),
      propertyParams(),
    );
  });

  it('the result is independent of order, batching and duplication of cells', () => {
    fc.assert(
      fc.property(
        cellSet,
        fc.array(fc.nat(), { minLength: 1, maxLength: 40 }),
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat({ max: 19 }), { maxLength: 10 }),
        (cells, order, sizes, dups) => {
          const once = snapshot(stateOf(cells));
          const delivered = shuffleBy(
            [...cells, ...dups.filter((i) => i < cells.length).map((i) => structuredClone(cells[i]!))],
            order,
          );
          const r = new Replica();
          for (const b of batches(delivered, sizes)) applyAndCheck(r, b);
          expect(snapshot(r)).toEqual(once);
          expect(once).toEqual(oracle(cells));
        },
      ),
      propertyParams(),
    );
  });

  it('N replicas fed random subsets of a multi-writer history, in random order and batches with duplicates, converge once all have everything', () => {
    fc.assert(
      fc.property(
        history({ writers: 3, docs: 3, deletes: 1, maxOps: 60 }),
        fc.integer({ min: 3, max: 5 }),
        fc.integer(),
        (ops, n, seed) => {
          const cells = deepFreeze(playHistory(ops, 3));
          const rnd = seededRandom(seed);
          const pick = (k: number) => Math.floor(rnd() * k);
          const deliver = (r: Replica, cs: readonly Cell[]) => {
            const withDups = cs.flatMap((c) => (rnd() < 0.2 ? [c, structuredClone(c)] : [c]));
            const order = Array.from({ length: 16 }, () => pick(1 << 30));
            const sizes = Array.from({ length: 4 }, () => 1 + pick(8));
            for (const b of batches(shuffleBy(withDups, order), sizes)) applyAndCheck(r, b);
          };
          const replicas = Array.from({ length: n }, () => new Replica());
          const got = new Set<number>();
          // 1. each replica hears a random subset
          for (const r of replicas) {
            const subset = cells.filter((_, i) => (rnd() < 0.5 ? (got.add(i), true) : false));
            deliver(r, subset);
          }
          // 2. what nobody heard goes to one replica
          deliver(
            replicas[pick(n)]!,
            cells.filter((_, i) => !got.has(i)),
          );
          // 3. anti-entropy around a ring, incrementally by cursor (cellsSince), twice around
          const cursor = replicas.map(() => 0);
          for (let round = 0; round < 2; round++) {
            for (let i = 0; i < n; i++) {
              const from = replicas[i]!;
              const delta = from.cellsSince(cursor[i]);
              cursor[i] = from.seq;
              for (const b of batches(delta, [1 + pick(10)])) applyAndCheck(replicas[(i + 1) % n]!, b);
            }
          }
          const want = oracle(cells);
          for (const r of replicas) {
            expect(snapshot(r)).toEqual(want);
            for (const c of COLLECTIONS) {
              expect(r.count(c)).toBe(want.docs[c]!.length);
              expect([...r.ids(c)].sort()).toEqual(want.docs[c]!.map((d) => d.id));
            }
          }
        },
      ),
      propertyParams(),
    );
  });

  it('delete wins in every order: a tombstoned document never shows again, whatever writes come before or after it', () => {
    fc.assert(
      fc.property(
        history({ writers: 3, docs: 1, deletes: 3, maxOps: 30 }),
        fc.array(fc.array(fc.nat(), { minLength: 1, maxLength: 20 }), { minLength: 1, maxLength: 3 }),
        fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }),
        (ops, orders, sizes) => {
          const written = playHistory(ops, 3);
          // Writes stamped after every tombstone (by a writer that has heard of all of them).
          const maxWall = Math.max(...written.map((c) => parseHlc(c.hlc).wall));
          const late = createHlc({ nodeId: 'late', clock: { now: () => maxWall } });
          for (const c of written) late.receive(c.hlc);
          const cells = deepFreeze([
            ...written,
            ...COLLECTIONS.map((collection) => ({
              collection,
              id: 'd0',
              field: 'title',
              value: 'after',
              hlc: late.now(),
            })),
            ...COLLECTIONS.map((collection) => ({
              collection,
              id: 'd0',
              field: 'id',
              value: 'd0',
              hlc: late.now(),
            })),
          ]);
          const tombs = new Map<string, string>();
          for (const c of cells)
            if (c.field === DELETED_FIELD && (tombs.get(c.collection) ?? '') < c.hlc)
              tombs.set(c.collection, c.hlc);

          for (const order of [...orders, [0]]) {
            const r = new Replica();
            const deleted = new Set<string>();
            for (const b of batches(shuffleBy(cells, order), sizes)) {
              applyAndCheck(r, b);
              for (const c of b) if (c.field === DELETED_FIELD) deleted.add(c.collection);
              for (const coll of deleted) {
                expect(r.get(coll, 'd0')).toBeUndefined();
                expect(r.has(coll, 'd0')).toBe(false);
                expect(r.isDeleted(coll, 'd0')).toBe(true);
                expect([...r.documents(coll)]).toEqual([]);
              }
            }
            for (const coll of COLLECTIONS) {
              const hlc = tombs.get(coll);
              if (hlc === undefined) {
                expect(r.get(coll, 'd0')).toMatchObject({ id: 'd0', title: 'after' });
              } else {
                expect(r.cellsSince(0).filter((c) => c.collection === coll)).toEqual([
                  { collection: coll, id: 'd0', field: DELETED_FIELD, value: true, hlc },
                ]);
                expect(r.count(coll)).toBe(0);
              }
            }
          }
        },
      ),
      propertyParams(),
    );
  });

  it('writing without a change report (write, and writeDoc for whole flat documents) reaches the same state as apply', () => {
    const flatDoc = fc
      .record({
        t: target,
        fields: fc.uniqueArray(fc.constantFrom('title', 'n', 'done', 'tag'), { maxLength: 4 }),
        v: fc.integer({ min: 0, max: 3 }),
        hlc: stamp,
      })
      .map(({ t, fields, v, hlc }) => {
        const doc: Record<string, string | number> = { id: t.id };
        for (const f of fields) doc[f] = f === 'n' ? v : `${f}${v}`;
        return { collection: t.collection, id: t.id, doc, hlc };
      });
    const step = fc.oneof(
      { weight: 2, arbitrary: flatDoc.map((d) => ({ kind: 'doc' as const, ...d })) },
      { weight: 3, arbitrary: cell.map((c) => ({ kind: 'cell' as const, c })) },
    );
    fc.assert(
      fc.property(fc.array(fc.array(step, { maxLength: 8 }), { maxLength: 6 }), (batchesOf) => {
        const viaApply = new Replica();
        const viaWrite = new Replica();
        const reported = new Replica();
        for (const b of batchesOf) {
          const cells: Cell[] = b.flatMap((s) =>
            s.kind === 'cell'
              ? [s.c]
              : Object.entries(s.doc).map(([field, value]) => ({
                  collection: s.collection,
                  id: s.id,
                  field,
                  value,
                  hlc: s.hlc,
                })),
          );
          const changes = viaApply.apply(cells);
          reported.beginWrite(true);
          let got: DocChange[];
          try {
            for (const s of b) {
              if (s.kind === 'cell') reported.write(s.c.collection, s.c.id, s.c.field, s.c.value, s.c.hlc);
              else reported.writeDoc(s.collection, s.id, s.doc, s.hlc);
            }
          } finally {
            got = reported.endWrite();
          }
          expect(got).toEqual(changes);
          viaWrite.beginWrite(false);
          try {
            for (const s of b) {
              if (s.kind === 'cell') viaWrite.write(s.c.collection, s.c.id, s.c.field, s.c.value, s.c.hlc);
              else viaWrite.writeDoc(s.collection, s.id, s.doc, s.hlc);
            }
          } finally {
            expect(viaWrite.endWrite()).toEqual([]);
          }
          expect(snapshot(viaWrite)).toEqual(snapshot(viaApply));
          expect(viaWrite.cellsSince(0)).toEqual(viaApply.cellsSince(0));
        }
      }),
      propertyParams(),
    );
  });
});
