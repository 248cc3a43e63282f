/**
 * Query-filtered pull is exact for the client: a client that held the documents matching a
 * query at cursor c, and applies every page of pull(c, [query]), ends up showing exactly
 * the documents that match the query now, with their current content — whatever moved
 * in, out, back, or was deleted in between. Oracle: core Replica states per version.
 * Runs: OMNISYNC_RUNS / 5, seed: OMNISYNC_SEED. Real SQLite files.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type Cell, DELETED_FIELD, Replica } from '@omnisync/core';
import { createSqliteStorage, createSyncEngine } from '@omnisync/server';
import { tempDir } from './helpers/servers.js';

const RUNS = Math.max(20, Math.floor(Number(process.env.OMNISYNC_RUNS ?? 1000) / 5));
const SEED = process.env.OMNISYNC_SEED === undefined ? undefined : Number(process.env.OMNISYNC_SEED);
const auth = { app: 'p', userId: undefined, claims: undefined, expiresAt: undefined };
const dir = tempDir('omnisync-pullprop-');
afterAll(() => dir.remove());

const IDS = ['a', 'b', 'c', 'd'];
const OWNERS = ['u1', 'u2', 'u3'];
const arbOp = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('set' as const),
      id: fc.constantFrom(...IDS),
      withId: fc.boolean(),
      ownerId: fc.option(fc.constantFrom(...OWNERS), { nil: undefined, freq: 2 }),
      title: fc.option(fc.string({ maxLength: 3 }), { nil: undefined, freq: 2 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), id: fc.constantFrom(...IDS) }) },
);

const matches = (doc: Readonly<Record<string, unknown>> | undefined, owner: string) =>
  doc !== undefined && doc.ownerId === owner;

describe('query-filtered pull', () => {
  it('brings a client holding a query at any cursor to exactly the query’s current documents', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbOp, { minLength: 1, maxLength: 14 }),
        fc.nat(),
        fc.constantFrom(...OWNERS),
        fc.integer({ min: 1, max: 4 }),
        async (ops, cursorPick, owner, limit) => {
          const file = `${dir.dir}/run${run++}.sqlite`;
          const engine = createSyncEngine({
            storage: () => createSqliteStorage({ file, durability: 'off' }),
            logLevel: 'silent',
          });
          try {
            const oracle = new Replica();
            const states: Cell[][] = [[]]; // cells of the oracle after each head version
            let wall = 1_700_000_000_000;
            for (const [i, op] of ops.entries()) {
              const hlc = `${(wall++).toString(36).padStart(11, '0')}-000000-w`;
              const cells: Cell[] =
                op.kind === 'delete'
                  ? [{ collection: 't', id: op.id, field: DELETED_FIELD, value: true, hlc }]
                  : [
                      ...(op.withId ? [{ collection: 't', id: op.id, field: 'id', value: op.id, hlc }] : []),
                      ...(op.ownerId === undefined
                        ? []
                        : [{ collection: 't', id: op.id, field: 'ownerId', value: op.ownerId, hlc }]),
                      ...(op.title === undefined
                        ? []
                        : [{ collection: 't', id: op.id, field: 'title', value: op.title, hlc }]),
                    ];
              oracle.apply(cells);
              const res = await engine.push('p', auth, {
                clientId: 'w',
                mutations: [{ id: `m${i}`, changes: cells }],
              });
              while (states.length <= res.cursor) states.push(oracle.cellsSince(0));
            }
            const head = states.length - 1;
            const cursor = cursorPick % (head + 1);
            const q = { collection: 't', where: { ownerId: owner } };

            // The client at `cursor`: every cell of the documents that matched then.
            const then = new Replica();
            then.apply(states[cursor]!);
            const local = new Replica();
            for (const id of IDS)
              if (matches(then.get('t', id), owner)) local.apply(states[cursor]!.filter((c) => c.id === id));

            let c = cursor;
            for (let pages = 0; ; pages++) {
              expect(pages).toBeLessThan(100);
              const page = await engine.pull('p', auth, { cursor: c, queries: [q], limit });
              if ('reset' in page) throw new Error('unexpected reset');
              local.apply(page.changes.map((x) => ({ ...x, value: x.value }) as Cell));
              c = page.cursor;
              if (!page.hasMore) break;
            }
            expect(c).toBe(head);
            const shown = IDS.filter((id) => matches(local.get('t', id), owner)).map((id) =>
              local.get('t', id),
            );
            const expected = IDS.filter((id) => matches(oracle.get('t', id), owner)).map((id) =>
              oracle.get('t', id),
            );
            expect(shown).toEqual(expected);
          } finally {
            await engine.close();
          }
        },
      ),
      { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) },
    );
  });
});
