/**
 * Query-filtered pull and snapshot are exact for the client, for any query the core query
 * AST can express (eq/ne/ranges/in/nin/exists/like under and/or/not, `get`, the v1
 * equality form; order and windows must not filter): a client that held the documents
 * matching a query at cursor c, and applies every page of pull(c, [query]), ends up
 * showing exactly the documents that match the query now, with their current content —
 * whatever moved in, out, back, or was deleted in between; a snapshot holds exactly the
 * matching documents. Oracles: core Replica states per version, and core's naive query
 * evaluator (test/query-oracle.ts, written apart from the engine the server runs).
 * Runs: OMNISYNC_RUNS / 5, seed: OMNISYNC_SEED. Real SQLite files.
 */
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { type Cell, DELETED_FIELD, type Predicate, Replica } from '@omnisync/core';
import { createSqliteStorage, createSyncEngine } from '@omnisync/server';
import { test as oracleTest } from '../../core/test/query-oracle.js';
import { tempDir } from './helpers/servers.js';

const RUNS = Math.max(20, Math.floor(Number(process.env.OMNISYNC_RUNS ?? 1000) / 5));
const SEED = process.env.OMNISYNC_SEED === undefined ? undefined : Number(process.env.OMNISYNC_SEED);
const auth = { app: 'p', userId: undefined, claims: undefined, expiresAt: undefined };
const dir = tempDir('omnisync-pullprop-');
afterAll(() => dir.remove());

const IDS = ['a', 'b', 'c', 'd'];
const OWNERS = ['u1', 'u2', 'u3'];
const unset = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined, freq: 2 });
const arbOp = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('set' as const),
      id: fc.constantFrom(...IDS),
      withId: fc.boolean(),
      ownerId: unset(fc.constantFrom(...OWNERS)),
      n: unset(fc.integer({ min: 0, max: 4 })),
      title: unset(fc.constantFrom('milk', 'Milk run', 'bread', '')),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), id: fc.constantFrom(...IDS) }) },
);

// Predicates over ownerId (string or missing), n (0..4 or missing), title (string or missing).
const arbLeaf: fc.Arbitrary<Predicate> = fc.oneof(
  fc.record({
    op: fc.constantFrom('eq' as const, 'ne' as const),
    field: fc.constant('ownerId'),
    value: fc.constantFrom<string | null>(...OWNERS, null),
  }),
  fc.record({
    op: fc.constantFrom(
      'eq' as const,
      'ne' as const,
      'gt' as const,
      'gte' as const,
      'lt' as const,
      'lte' as const,
    ),
    field: fc.constant('n'),
    value: fc.integer({ min: 0, max: 4 }),
  }),
  fc.record({
    op: fc.constantFrom('in' as const, 'nin' as const),
    field: fc.constant('ownerId'),
    values: fc.uniqueArray(fc.constantFrom<string | null>(...OWNERS, null), { minLength: 1, maxLength: 3 }),
  }),
  fc.record({
    op: fc.constant('in' as const),
    field: fc.constant('n'),
    values: fc.uniqueArray(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 3 }),
  }),
  fc.record({ op: fc.constant('exists' as const), field: fc.constantFrom('title', 'ownerId') }),
  fc.record({
    op: fc.constantFrom('like' as const, 'ilike' as const),
    field: fc.constant('title'),
    pattern: fc.constantFrom('milk%', '%i%', '_'),
  }),
);
const arbPredicate: fc.Arbitrary<Predicate> = fc.letrec<{ p: Predicate }>((tie) => ({
  p: fc.oneof(
    { maxDepth: 2, depthIdentifier: 'p' },
    arbLeaf,
    fc.record({
      op: fc.constantFrom('and' as const, 'or' as const),
      args: fc.array(tie('p'), { minLength: 2, maxLength: 3 }),
    }),
    fc.record({ op: fc.constant('not' as const), arg: tie('p') }),
  ),
})).p;

/** A query as sent, and its membership oracle (written here, not by the server's code). */
type Case = {
  wire: Record<string, unknown>;
  member: (doc: Readonly<Record<string, unknown>> | undefined) => boolean;
};
const arbCase: fc.Arbitrary<Case> = fc.oneof(
  fc
    .record({
      where: arbPredicate,
      extras: fc.constantFrom(
        {},
        { orderBy: [{ field: 'n', dir: 'desc' }], limit: 1 },
        { offset: 1, limit: 1 },
      ),
    })
    .map(({ where, extras }): Case => ({
      wire: { collection: 't', where, ...extras },
      member: (d) => d !== undefined && oracleTest(where, d),
    })),
  fc
    .constantFrom(...IDS)
    .map((id): Case => ({ wire: { collection: 't', get: id }, member: (d) => d?.id === id })),
  fc.constantFrom(...OWNERS).map((owner): Case => ({
    // protocol v1 equality form
    wire: { collection: 't', where: { ownerId: owner } },
    member: (d) => d !== undefined && d.ownerId === owner,
  })),
);

describe('query-filtered pull and snapshot', () => {
  it('bring a client holding a query at any cursor to exactly the query’s current documents', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(arbOp, { minLength: 1, maxLength: 14 }),
        fc.nat(),
        arbCase,
        fc.integer({ min: 1, max: 4 }),
        async (ops, cursorPick, { wire, member }, limit) => {
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
              const cell = (field: string, value: unknown): Cell =>
                ({ collection: 't', id: op.id, field, value, hlc }) as Cell;
              const cells: Cell[] = [];
              if (op.kind === 'delete') cells.push(cell(DELETED_FIELD, true));
              else {
                if (op.withId) cells.push(cell('id', op.id));
                for (const f of ['ownerId', 'n', 'title'] as const)
                  if (op[f] !== undefined) cells.push(cell(f, op[f]));
              }
              oracle.apply(cells);
              const res = await engine.push('p', auth, {
                clientId: 'w',
                mutations: [{ id: `m${i}`, changes: cells }],
              });
              while (states.length <= res.cursor) states.push(oracle.cellsSince(0));
            }
            const head = states.length - 1;
            const cursor = cursorPick % (head + 1);
            const queries = [wire as never];

            // The client at `cursor`: every cell of the documents that matched then.
            const then = new Replica();
            then.apply(states[cursor]!);
            const local = new Replica();
            for (const id of IDS)
              if (member(then.get('t', id))) local.apply(states[cursor]!.filter((c) => c.id === id));

            let c = cursor;
            for (let pages = 0; ; pages++) {
              expect(pages).toBeLessThan(100);
              const page = await engine.pull('p', auth, { cursor: c, queries, limit });
              if ('reset' in page) throw new Error('unexpected reset');
              local.apply(page.changes.map((x) => ({ ...x, value: x.value }) as Cell));
              c = page.cursor;
              if (!page.hasMore) break;
            }
            expect(c).toBe(head);
            const current = (r: Replica) =>
              IDS.filter((id) => member(r.get('t', id))).map((id) => r.get('t', id));
            const expected = current(oracle);
            expect(current(local)).toEqual(expected);

            const snap = new Replica();
            snap.apply((await engine.snapshot('p', auth, { queries })).cells as Cell[]);
            expect(IDS.map((id) => snap.get('t', id)).filter((d) => d !== undefined)).toEqual(expected);
          } finally {
            await engine.close();
          }
        },
      ),
      { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) },
    );
  });
});
