/**
 * The shared storage suite: every SyncStorage (SQLite, Postgres) must pass it.
 * It checks the contract itself (round trips, atomicity, isolation, ordering, paging,
 * idempotency records, cursors, compaction, persistence across reopen) and then the
 * engine's merge rules on top of the storage against core's Replica as the oracle.
 *
 * Use: `storageSuite('sqlite', () => harness)` in a `*.test.ts`.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type Cell, DELETED_FIELD, Replica, type WireCell } from '@omnisync/core';
import { createSyncEngine, type DocWrite, type StoredDoc, type SyncStorage } from '@omnisync/server';

/** How the suite gets storages. */
export interface StorageHarness {
  /** A fresh, empty storage. */
  create(): Promise<SyncStorage>;
  /** Open again the storage last created (it was closed), with the same data. */
  reopen(): Promise<SyncStorage>;
  /** Remove everything created. */
  cleanup(): Promise<void>;
}

const RUNS = Number(process.env.OMNISYNC_RUNS ?? 1000);
const SEED = process.env.OMNISYNC_SEED === undefined ? undefined : Number(process.env.OMNISYNC_SEED);

const hlcAt = (n: number, node = 'n1') => `${n.toString(36).padStart(11, '0')}-000000-${node}`;
const cell = (collection: string, id: string, field: string, value: Cell['value'], hlc: string): Cell => ({
  collection,
  id,
  field,
  value,
  hlc,
});
const write = (
  version: number,
  cells: Cell[],
  prior: DocWrite['prior'] = [],
  dropOthers = false,
): DocWrite => ({
  collection: cells[0]!.collection,
  id: cells[0]!.id,
  version,
  cells,
  dropOthers,
  prior,
});
const asCells = (d: StoredDoc) =>
  Object.fromEntries(d.cells.map((c) => [c.field, { value: c.value, hlc: c.hlc, version: c.version }]));
const openAuth = { app: 'suite', userId: undefined, claims: undefined, expiresAt: undefined };

/** Register the suite for one storage. */
export function storageSuite(name: string, harness: () => StorageHarness): void {
  describe(`storage suite: ${name}`, () => {
    let h: StorageHarness;
    let s: SyncStorage;
    beforeEach(async () => {
      h = harness();
      s = await h.create();
    });
    afterEach(async () => {
      await s.close();
      await h.cleanup();
    });

    it('starts empty', async () => {
      await s.read(async (r) => {
        expect(await r.head()).toBe(0);
        expect(await r.horizon()).toBe(0);
        expect(await r.changesSince(0, 10)).toEqual([]);
        expect((await r.loadDocs([{ collection: 'a', id: 'x' }]))[0]!.cells).toEqual([]);
        const docs = [];
        for await (const d of r.scan()) docs.push(d);
        expect(docs).toEqual([]);
      });
    });

    it('round-trips every value type, unset cells, versions and head', async () => {
      const values: Cell['value'][] = [
        's',
        '',
        0,
        -1.5,
        1e300,
        true,
        false,
        null,
        [1, 'a', null, [2]],
        { a: { b: [1] } },
        {},
        undefined,
        'é😀',
      ];
      const cells = values.map((v, i) => cell('t', 'd1', `f${i}`, v, hlcAt(1000 + i)));
      await s.write(async (w) => {
        await w.writeDocs([write(1, cells, [['f0']])]);
        expect(await w.head()).toBe(1);
      });
      await s.read(async (r) => {
        expect(await r.head()).toBe(1);
        const [doc] = await r.loadDocs([{ collection: 't', id: 'd1' }]);
        expect(doc!.cells).toHaveLength(values.length);
        const got = asCells(doc!);
        values.forEach((v, i) =>
          expect(got[`f${i}`]).toEqual({ value: v, hlc: hlcAt(1000 + i), version: 1 }),
        );
      });
    });

    it('reports its size (the metrics gauge), growing with the data', async () => {
      expect(s.sizeBytes).toBeTypeOf('function');
      const before = await s.sizeBytes!();
      expect(before).toBeGreaterThan(0);
      const big = Array.from({ length: 400 }, (_, i) =>
        cell('t', `d${i}`, 'text', 'x'.repeat(500), hlcAt(5000 + i)),
      );
      await s.write(async (w) => {
        await w.writeDocs(big.map((c, i) => write(i + 1, [c])));
      });
      expect(await s.sizeBytes!()).toBeGreaterThan(before);
    });

    it('upserts a cell in place and keeps the latest version', async () => {
      await s.write((w) =>
        w.writeDocs([write(1, [cell('t', 'd', 'a', 1, hlcAt(1)), cell('t', 'd', 'b', 1, hlcAt(1))])]),
      );
      await s.write((w) => w.writeDocs([write(2, [cell('t', 'd', 'a', 2, hlcAt(2))], [['a', 1]])]));
      const [doc] = await s.read((r) => r.loadDocs([{ collection: 't', id: 'd' }]));
      expect(asCells(doc!)).toEqual({
        a: { value: 2, hlc: hlcAt(2), version: 2 },
        b: { value: 1, hlc: hlcAt(1), version: 1 },
      });
    });

    it('writes large mixed batches exactly (runs of alike documents, mixed stamps, collections, widths)', async () => {
      // Deterministic pseudo-random shapes: long runs of same-width documents with one stamp each
      // (bulk paths), broken by one-cell, wide, mixed-stamp and other-collection documents.
      let seed = 7;
      const rand = (n: number) => {
        // mulberry32
        seed = (seed + 0x6d2b79f5) | 0;
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) % n;
      };
      const expected = new Map<string, Record<string, { value: unknown; hlc: string; version: number }>>();
      const values: Cell['value'][] = [
        's',
        3,
        2.5,
        true,
        false,
        null,
        [1, 'a'],
        { k: 'v' },
        undefined,
        'é😀',
      ];
      let version = 0;
      let stamp = 1;
      for (let batch = 0; batch < 3; batch++) {
        const writes: DocWrite[] = [];
        const widths = [6, 2, 3, 40, 1, 6, 2, 6];
        for (let d = 0; d < 800; d++) {
          const width = widths[Math.floor(d / 100)]!;
          const odd = rand(250);
          const collection = odd === 1 && batch > 0 ? 'u' : 't'; // the first batch: one collection
          const id = `d${rand(batch === 0 ? 2000 : 400)}`;
          if (writes.some((w) => w.collection === collection && w.id === id)) continue; // once per batch
          const n = odd === 2 ? 1 : odd === 3 ? 40 : width;
          const hlc = hlcAt(stamp++);
          // Mostly one list of fields per width; sometimes another list of the same width; one
          // block with names that are no plain identifiers.
          const shift = batch + (rand(70) === 0 ? 1 : 0);
          const prefix = Math.floor(d / 100) === 5 ? "it's f" : 'f';
          const cells = Array.from({ length: n }, (_, f) =>
            cell(
              collection,
              id,
              `${prefix}${(f + shift) % 45}`,
              values[rand(values.length)],
              odd === 4 && f % 2 ? hlcAt(stamp++) : hlc,
            ),
          );
          const doc = expected.get(`${collection}/${id}`) ?? {};
          const update = write(++version, cells, expected.has(`${collection}/${id}`) ? [['f0']] : null);
          // The engine passes the replaced cells' versions (batch 1); without them (batch 2) the storage reads them.
          writes.push(
            update.prior && batch === 1 ? { ...update, priorVersions: [doc['f0']?.version ?? 0] } : update,
          );
          for (const c of cells) doc[c.field] = { value: c.value, hlc: c.hlc, version };
          expected.set(`${collection}/${id}`, doc);
        }
        await s.write((w) => w.writeDocs(writes));
      }
      const keys = [...expected.keys()].map((k) => {
        const [collection, id] = k.split('/') as [string, string];
        return { collection, id };
      });
      const docs = await s.read(async (r) => {
        expect(await r.head()).toBe(version);
        expect((await r.changesSince(0, 10_000)).map((c) => c.version)).toEqual(
          Array.from({ length: version }, (_, i) => i + 1),
        );
        return r.loadDocs(keys);
      });
      docs.forEach((d, i) =>
        expect(asCells(d)).toEqual(expected.get(`${keys[i]!.collection}/${keys[i]!.id}`)),
      );
    });

    it('a tombstone write drops the other cells of the document', async () => {
      await s.write((w) =>
        w.writeDocs([write(1, [cell('t', 'd', 'a', 1, hlcAt(1)), cell('t', 'e', 'a', 1, hlcAt(1))])]),
      );
      await s.write((w) =>
        w.writeDocs([
          write(2, [cell('t', 'd', DELETED_FIELD, true, hlcAt(2))], [['a', 1], [DELETED_FIELD]], true),
        ]),
      );
      const [d, e] = await s.read((r) =>
        r.loadDocs([
          { collection: 't', id: 'd' },
          { collection: 't', id: 'e' },
        ]),
      );
      expect(asCells(d!)).toEqual({ [DELETED_FIELD]: { value: true, hlc: hlcAt(2), version: 2 } });
      expect(e!.cells).toHaveLength(1);
    });

    it('logs changes in version order, pages them, and keeps priors newest first', async () => {
      await s.write((w) =>
        w.writeDocs([
          write(1, [cell('t', 'a', 'x', 1, hlcAt(1))], [['x']]),
          write(2, [cell('t', 'b', 'x', 1, hlcAt(1))], null),
        ]),
      );
      await s.write((w) => w.writeDocs([write(3, [cell('t', 'a', 'x', 2, hlcAt(2))], [['x', 1]])]));
      await s.read(async (r) => {
        expect(await r.changesSince(0, 10)).toEqual([
          { version: 1, collection: 't', id: 'a' },
          { version: 2, collection: 't', id: 'b' },
          { version: 3, collection: 't', id: 'a' },
        ]);
        expect(await r.changesSince(1, 1)).toEqual([{ version: 2, collection: 't', id: 'b' }]);
        expect(await r.changesSince(3, 10)).toEqual([]);
        expect(await r.priorsSince({ collection: 't', id: 'a' }, 0)).toEqual([[['x', 1]], [['x']]]);
        expect(await r.priorsSince({ collection: 't', id: 'a' }, 1)).toEqual([[['x', 1]]]);
        expect(await r.priorsSince({ collection: 't', id: 'b' }, 0)).toEqual([null]);
        // Many at once, where the storage offers it: the same answers, in the order asked.
        if (r.priorsSinceMany) {
          const keys = ['b', 'zz', 'a'].map((id) => ({ collection: 't', id }));
          for (const cursor of [0, 1, 2, 3])
            expect(await r.priorsSinceMany(keys, cursor)).toEqual(
              await Promise.all(keys.map((k) => r.priorsSince(k, cursor))),
            );
        }
      });
    });

    it('rolls back everything when the transaction throws', async () => {
      await expect(
        s.write(async (w) => {
          await w.writeDocs([write(1, [cell('t', 'a', 'x', 1, hlcAt(1))])]);
          await w.recordMutations('c', [{ id: 'm1', status: 'applied' }], 1);
          throw new Error('boom');
        }),
      ).rejects.toThrow('boom');
      await s.read(async (r) => {
        expect(await r.head()).toBe(0);
        expect(await r.changesSince(0, 10)).toEqual([]);
      });
      expect((await s.write((w) => w.findMutations('c', ['m1']))).size).toBe(0);
    });

    it('never shows a reader an uncommitted write', async () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      let written!: () => void;
      const didWrite = new Promise<void>((r) => (written = r));
      const writing = s.write(async (w) => {
        await w.writeDocs([write(1, [cell('t', 'a', 'x', 1, hlcAt(1))])]);
        written();
        await gate;
      });
      await didWrite;
      expect(await s.read((r) => r.head())).toBe(0);
      expect((await s.read((r) => r.loadDocs([{ collection: 't', id: 'a' }])))[0]!.cells).toEqual([]);
      release();
      await writing;
      expect(await s.read((r) => r.head())).toBe(1);
    });

    it('serializes write transactions', async () => {
      const log: string[] = [];
      const tx = (name: string, version: number) =>
        s.write(async (w) => {
          log.push(`${name}:start`);
          await new Promise((r) => setTimeout(r, 5));
          await w.writeDocs([write(version, [cell('t', name, 'x', 1, hlcAt(1))])]);
          log.push(`${name}:end`);
        });
      await Promise.all([tx('a', 1), tx('b', 2), tx('c', 3)]);
      expect(log).toEqual(['a:start', 'a:end', 'b:start', 'b:end', 'c:start', 'c:end']);
    });

    it('refuses a version that is not above head', async () => {
      await s.write((w) => w.writeDocs([write(1, [cell('t', 'a', 'x', 1, hlcAt(1))])]));
      await expect(
        s.write((w) => w.writeDocs([write(1, [cell('t', 'b', 'x', 1, hlcAt(1))])])),
      ).rejects.toMatchObject({
        code: 'storage_failed',
      });
      expect((await s.read((r) => r.loadDocs([{ collection: 't', id: 'b' }])))[0]!.cells).toEqual([]);
    });

    it('records mutation results per client', async () => {
      await s.write((w) =>
        w.recordMutations(
          'c1',
          [
            { id: 'm1', status: 'applied' },
            { id: 'm2', status: 'rejected', error: { code: 'mutation_rejected', message: 'no' } },
          ],
          0,
        ),
      );
      const found = await s.write((w) => w.findMutations('c1', ['m1', 'm2', 'm3']));
      expect(Object.fromEntries(found)).toEqual({
        m1: { id: 'm1', status: 'applied' },
        m2: { id: 'm2', status: 'rejected', error: { code: 'mutation_rejected', message: 'no' } },
      });
      expect((await s.write((w) => w.findMutations('c2', ['m1']))).size).toBe(0);
      // Many at once (several statements' worth), found again among ids never recorded.
      const many = Array.from({ length: 300 }, (_, i) =>
        i % 7 === 0
          ? { id: `b${i}`, status: 'rejected' as const, error: { code: 'forbidden', message: `no ${i}` } }
          : { id: `b${i}`, status: 'applied' as const },
      );
      await s.write((w) => w.recordMutations('c2', many, 1));
      const ids = many.flatMap((m) => [m.id, `x${m.id}`]);
      const again = await s.write((w) => w.findMutations('c2', ids));
      expect([...again.values()]).toEqual(many);
      expect((await s.write((w) => w.findMutations('c1', ids))).size).toBe(0);
    });

    it('keeps the highest cursor per device', async () => {
      await s.updateCursor('dev1', 5);
      await s.updateCursor('dev1', 3);
      await s.updateCursor('dev2', 7);
      expect((await s.deviceCursors()).map(({ deviceId, cursor }) => ({ deviceId, cursor }))).toEqual([
        { deviceId: 'dev1', cursor: 5 },
        { deviceId: 'dev2', cursor: 7 },
      ]);
    });

    /** Version 1: a live document `a`; 2 and 3: tombstones of `b` and `c`. */
    const writeLiveAndTwoTombstones = () =>
      s.write((w) =>
        w.writeDocs([
          write(1, [cell('t', 'a', 'x', 1, hlcAt(1))]),
          write(2, [cell('t', 'b', DELETED_FIELD, true, hlcAt(1))], [], true),
          write(3, [cell('t', 'c', DELETED_FIELD, true, hlcAt(1))], [], true),
        ]),
      );

    it.each([
      { dropTombstones: undefined, kept: true },
      { dropTombstones: true, kept: false },
    ])(
      'compacts the change log below a version; tombstones stay unless dropTombstones ($dropTombstones)',
      async ({ dropTombstones, kept }) => {
        await writeLiveAndTwoTombstones();
        const res = await s.gc({ olderThanVersion: 3, ...(dropTombstones ? { dropTombstones } : {}) });
        expect(res).toEqual({ horizon: 2, changesDropped: 2, tombstonesDropped: kept ? 0 : 1 });
        await s.read(async (r) => {
          expect(await r.horizon()).toBe(2);
          expect(await r.changesSince(0, 10)).toEqual([{ version: 3, collection: 't', id: 'c' }]);
          const [a, b, c] = await r.loadDocs(['a', 'b', 'c'].map((id) => ({ collection: 't', id })));
          expect(a!.cells).toHaveLength(1);
          expect(b!.cells.map((x) => [x.field, x.value])).toEqual(kept ? [[DELETED_FIELD, true]] : []);
          expect(c!.cells).toHaveLength(1);
        });
        expect(await s.gc({ olderThanVersion: 1 })).toMatchObject({ horizon: 2, changesDropped: 0 });
        expect((await s.gc({ olderThanVersion: 99 })).horizon).toBe(3); // never past head
      },
    );

    it('scans documents in (collection, id) order across many rows', async () => {
      const writes: DocWrite[] = [];
      let v = 0;
      for (let i = 0; i < 1300; i++) {
        const id = `d${String(i).padStart(5, '0')}`;
        writes.push(
          write(
            ++v,
            ['a', 'b', 'c', 'd', 'e'].map((f) => cell(i % 2 ? 'odd' : 'even', id, f, i, hlcAt(1))),
          ),
        );
      }
      await s.write((w) => w.writeDocs(writes));
      const seen: string[] = [];
      await s.read(async (r) => {
        for await (const d of r.scan()) {
          expect(d.cells).toHaveLength(5);
          seen.push(`${d.collection}/${d.id}`);
        }
      });
      expect(seen).toHaveLength(1300);
      expect(seen).toEqual([...seen].sort());
      let odd = 0;
      await s.read(async (r) => {
        for await (const d of r.scan('odd')) {
          expect(d.collection).toBe('odd');
          odd++;
        }
      });
      expect(odd).toBe(650);
    });

    it('keeps everything across close and reopen', async () => {
      await s.write(async (w) => {
        await w.writeDocs([write(1, [cell('t', 'a', 'x', 'kept', hlcAt(1))])]);
        await w.recordMutations('c', [{ id: 'm', status: 'applied' }], 1);
      });
      await s.updateCursor('dev', 1);
      await s.close();
      s = await h.reopen();
      await s.read(async (r) => {
        expect(await r.head()).toBe(1);
        expect((await r.loadDocs([{ collection: 't', id: 'a' }]))[0]!.cells[0]!.value).toBe('kept');
      });
      expect((await s.write((w) => w.findMutations('c', ['m']))).size).toBe(1);
      expect((await s.deviceCursors())[0]!.cursor).toBe(1);
    });

    it('refuses work after close with storage_failed', async () => {
      await s.close();
      await expect(s.read((r) => r.head())).rejects.toMatchObject({ code: 'storage_failed' });
      s = await h.reopen();
    });

    it('merges pushes on this storage exactly like core Replica (LWW per cell, delete wins)', async () => {
      const runs = Math.max(20, Math.floor(RUNS / 20));
      let round = 0;
      const ids = ['a', 'b', 'c'];
      const fields = ['x', 'y'];
      const arbCell = fc.record({
        id: fc.constantFrom(...ids),
        field: fc.constantFrom(...fields, DELETED_FIELD),
        value: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.constant(undefined)),
        wall: fc.integer({ min: 1, max: 6 }),
        node: fc.constantFrom('n1', 'n2'),
      });
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.array(arbCell, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 6 }),
          async (batches) => {
            const collection = `p${round++}`;
            const engine = createSyncEngine({
              storage: () => s,
              logLevel: 'silent',
              maxClockDriftMs: Number.MAX_SAFE_INTEGER,
            });
            const oracle = new Replica();
            let m = 0;
            for (const batch of batches) {
              const cells: WireCell[] = batch.map((c) => ({
                collection,
                id: c.id,
                field: c.field,
                ...(c.field === DELETED_FIELD
                  ? { value: true }
                  : c.value === undefined
                    ? {}
                    : { value: c.value }),
                hlc: hlcAt(c.wall, c.node),
              }));
              oracle.apply(cells.map((c) => ({ ...c, value: c.value }) as Cell));
              await engine.push('suite', openAuth, {
                clientId: 'p',
                mutations: [{ id: `${collection}-${m++}`, changes: cells }],
              });
            }
            const snap = await engine.snapshot('suite', openAuth, { queries: [{ collection }] });
            const server = new Replica();
            server.apply(snap.cells.map((c) => ({ ...c, value: c.value }) as Cell));
            for (const id of ids) expect(server.get(collection, id)).toEqual(oracle.get(collection, id));
            // The stored winners (incl. tombstones) equal the oracle's cells.
            const stored = await s.read((r) => r.loadDocs(ids.map((id) => ({ collection, id }))));
            for (const d of stored)
              for (const c of d.cells)
                expect(oracle.cell(collection, d.id, c.field)).toMatchObject({ hlc: c.hlc, value: c.value });
          },
        ),
        { numRuns: runs, ...(SEED !== undefined ? { seed: SEED } : {}) },
      );
    });
  });
}
