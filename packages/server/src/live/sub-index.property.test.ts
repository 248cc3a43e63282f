/**
 * The fan-out index never loses a recipient: for random subscriptions (whole collection,
 * pinned by eq/in, other filters) and random document changes, every subscription whose
 * query matches the document before or after the change has its connection among the
 * candidates of that change (and every subscriber of the collection for a deletion); after
 * removals, only live subscriptions count. Runs: OMNISYNC_RUNS, seed: OMNISYNC_SEED.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileSyncQuery, DELETED_FIELD, op, type Predicate, q } from '@omnisync/core';
import type { DocChangeEvent } from '../engine/working-doc.js';
import { SubscriptionIndex } from './sub-index.js';

const RUNS = Number(process.env.OMNISYNC_RUNS ?? 1000);
const SEED = process.env.OMNISYNC_SEED === undefined ? undefined : Number(process.env.OMNISYNC_SEED);

const VALUES = ['u1', 'u2', 1, 0, true, null] as const;
const arbValue = fc.constantFrom(...VALUES);
const arbField = fc.constantFrom('ownerId', 'meta.tag');
const arbLeaf: fc.Arbitrary<Predicate> = fc.oneof(
  fc.record({ op: fc.constant('eq' as const), field: arbField, value: arbValue }),
  fc.record({
    op: fc.constant('in' as const),
    field: arbField,
    values: fc.uniqueArray(arbValue, { minLength: 1, maxLength: 3 }),
  }),
  fc.record({ op: fc.constant('ne' as const), field: arbField, value: arbValue }),
);
const arbWhere: fc.Arbitrary<Predicate | undefined> = fc.oneof(
  fc.constant(undefined),
  arbLeaf,
  fc.tuple(arbLeaf, arbLeaf).map(([a, b]) => op.and(a, b)),
  fc.tuple(arbLeaf, arbLeaf).map(([a, b]) => op.or(a, b)),
);
const arbSub = fc.record({
  conn: fc.nat(5),
  collection: fc.constantFrom('t', 'u'),
  where: arbWhere,
});
const arbDoc = fc.option(
  fc.record({
    ownerId: fc.option(arbValue, { nil: undefined }),
    tag: fc.option(arbValue, { nil: undefined }),
  }),
  { nil: undefined },
);
const arbEvent = fc.record({
  collection: fc.constantFrom('t', 'u'),
  before: arbDoc,
  after: arbDoc,
  tombstone: fc.boolean(),
});

const docOf = (d: { ownerId?: unknown; tag?: unknown } | undefined) =>
  d === undefined
    ? undefined
    : {
        id: 'x',
        ...(d.ownerId === undefined ? {} : { ownerId: d.ownerId }),
        ...(d.tag === undefined ? {} : { meta: { tag: d.tag } }),
      };

describe('SubscriptionIndex', () => {
  it('names every connection a change may concern', () => {
    fc.assert(
      fc.property(
        fc.array(arbSub, { maxLength: 12 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        fc.array(arbEvent, { minLength: 1, maxLength: 4 }),
        (specs, removals, evs) => {
          const index = new SubscriptionIndex<number>();
          const subs = specs.map((s) => ({
            conn: s.conn,
            query: compileSyncQuery(
              s.where ? { collection: s.collection, where: s.where } : q(s.collection).ast,
            ),
          }));
          for (const sub of subs) index.add(sub);
          const live = new Set(subs);
          for (const r of removals) {
            const sub = subs[r % Math.max(1, subs.length)];
            if (sub && live.has(sub)) {
              index.remove(sub);
              live.delete(sub);
            }
          }
          expect(index.size).toBe(live.size);
          const events = evs.map((e): DocChangeEvent => ({
            collection: e.collection,
            id: 'x',
            version: 1,
            before: docOf(e.before),
            after: e.tombstone ? undefined : docOf(e.after),
            changed: e.tombstone
              ? [{ collection: e.collection, id: 'x', field: DELETED_FIELD, value: true, hlc: 'h' }]
              : [{ collection: e.collection, id: 'x', field: 'ownerId', value: 'u1', hlc: 'h' }],
            all: [],
          }));
          const candidates = index.candidates(events);
          events.forEach((ev, i) => {
            for (const sub of live) {
              if (sub.query.collection !== ev.collection) continue;
              const concerned =
                ev.after === undefined && ev.changed[0]!.field === DELETED_FIELD
                  ? true
                  : (ev.before !== undefined && sub.query.test(ev.before)) ||
                    (ev.after !== undefined && sub.query.test(ev.after));
              if (concerned) expect(candidates.get(sub.conn)).toContain(i);
            }
          });
          // and only connections with a live subscription in the event's collection
          for (const [conn, indices] of candidates)
            for (const i of indices)
              expect(
                [...live].some((s) => s.conn === conn && s.query.collection === events[i]!.collection),
              ).toBe(true);
        },
      ),
      { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) },
    );
  });

  it('looks a pinned change up by value instead of visiting every subscription', () => {
    const index = new SubscriptionIndex<number>();
    for (let c = 0; c < 1000; c++)
      index.add({ conn: c, query: compileSyncQuery(q('t').where('ownerId', '=', `u${c}`).ast) });
    index.add({ conn: 5000, query: compileSyncQuery(q('t').ast) });
    const ev: DocChangeEvent = {
      collection: 't',
      id: 'x',
      version: 1,
      before: { id: 'x', ownerId: 'u7' },
      after: { id: 'x', ownerId: 'u42' },
      changed: [{ collection: 't', id: 'x', field: 'ownerId', value: 'u42', hlc: 'h' }],
      all: [],
    };
    expect([...index.candidates([ev]).keys()].sort((a, b) => a - b)).toEqual([7, 42, 5000]);
  });
});
