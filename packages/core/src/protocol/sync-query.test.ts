import { describe, expect, it } from 'vitest';
import { QueryError } from '../errors.js';
import { op, q } from '../query/builder.js';
import { createQueryEngine } from '../query/engine.js';
import { createMemorySource } from '../query/memory-source.js';
import { decodeMessage } from './codec.js';
import { pullRequestSchema } from './http-messages.js';
import { subscribeMessageSchema } from './live-messages.js';
import { compileSyncQuery, isLegacyWireQuery, syncScopeOf, wireQueryToAst } from './sync-query.js';

const docs = [
  { id: 'a', ownerId: 'u1', priority: 5, meta: { level: 2 }, tags: ['x'] },
  { id: 'b', ownerId: 'u2', priority: 1, meta: { level: 3 } },
  { id: 'c', ownerId: null, priority: 9 },
  { id: 'd', priority: 'high' },
];
const ids = (query: unknown) => docs.filter((d) => compileSyncQuery(query).test(d)).map((d) => d.id);

describe('wire queries', () => {
  it('reads the v1 equality form as the AST of its equalities', () => {
    expect(isLegacyWireQuery({ collection: 't', where: { ownerId: 'u1' } })).toBe(true);
    expect(wireQueryToAst({ collection: 't', where: { ownerId: 'u1', 'meta.level': 2 } })).toEqual({
      collection: 't',
      where: {
        op: 'and',
        args: [
          { op: 'eq', field: 'meta.level', value: 2 },
          { op: 'eq', field: 'ownerId', value: 'u1' },
        ],
      },
    });
    expect(ids({ collection: 't', where: { 'meta.level': 3 } })).toEqual(['b']);
    expect(ids({ collection: 't', where: {} })).toEqual(['a', 'b', 'c', 'd']);
    expect(ids({ collection: 't' })).toEqual(['a', 'b', 'c', 'd']);
  });

  it('refuses a v1 equality on an object or array value with a typed error naming the field', () => {
    expect(() => wireQueryToAst({ collection: 't', where: { meta: { level: 2 } } })).toThrow(QueryError);
    expect(() => wireQueryToAst({ collection: 't', where: { tags: ['x'] } })).toThrow(/query\.where\.tags/);
  });

  it('validates v2 ASTs with core’s validator: decoding a bad query throws query_invalid with its path', () => {
    const bad = { collection: 't', where: { op: 'gt', field: 'priority', value: null } };
    expect(() => decodeMessage(pullRequestSchema, { cursor: 0, queries: [bad] }, 'pull request')).toThrow(
      expect.objectContaining({ code: 'query_invalid', message: expect.stringContaining('queries[0]') }),
    );
    expect(() =>
      decodeMessage(
        subscribeMessageSchema,
        { type: 'subscribe', queryId: 'q', query: { collection: 't', frobnicate: 1 } },
        'subscribe',
      ),
    ).toThrow(expect.objectContaining({ code: 'query_invalid' }));
    // no collection: a protocol error, as before
    expect(() => decodeMessage(pullRequestSchema, { cursor: 0, queries: [{ where: {} }] }, 'pull')).toThrow(
      expect.objectContaining({ code: 'protocol_invalid' }),
    );
    // a good one decodes unchanged (the object as sent)
    const good = q('t').where('priority', '>', 3).limit(2).ast;
    expect(decodeMessage(pullRequestSchema, { cursor: 0, queries: [good] }, 'pull').queries![0]).toBe(good);
  });

  it('syncs by where and get only: order, window and includes do not filter', () => {
    const top = q('t').where('priority', '>=', 1).orderBy('priority', 'desc').limit(1);
    expect(syncScopeOf(top.ast)).toEqual({
      collection: 't',
      where: { op: 'gte', field: 'priority', value: 1 },
    });
    expect(ids(top.ast)).toEqual(['a', 'b', 'c']);
    expect(syncScopeOf(q('t').get('b').ast)).toEqual({
      collection: 't',
      where: { op: 'eq', field: 'id', value: 'b' },
    });
    expect(ids(q('t').get('b').ast)).toEqual(['b']);
    expect(ids(q('t').where('ownerId', '=', 'u1').get('b').ast)).toEqual([]);
  });

  it('matches exactly what the query engine matches', () => {
    const engine = createQueryEngine(createMemorySource());
    const queries = [
      q('t').where(op.or(op.eq('ownerId', 'u1'), op.gt('priority', 4))),
      q('t').where('ownerId', 'in', ['u1', 'u2']),
      q('t').where(op.not(op.exists('ownerId'))),
      q('t').where('priority', 'nin', [1, 5]),
      q('t').where('tags', 'contains', 'x'),
      q('t').where('ownerId', '=', null),
    ];
    for (const query of queries)
      for (const d of docs) expect(compileSyncQuery(query.ast).test(d)).toBe(engine.matches(query, d));
  });

  it('names the values a filter pins (for server indexes)', () => {
    const s = compileSyncQuery(
      q('t').where(op.and(op.eq('ownerId', 'u1'), op.in('status', ['a', 'b']), op.gt('n', 1))).ast,
    );
    expect([...s.pins]).toEqual([
      ['ownerId', ['u1']],
      ['status', ['a', 'b']],
    ]);
    expect(s.whole).toBe(false);
    expect(compileSyncQuery({ collection: 't' }).whole).toBe(true);
    expect(compileSyncQuery(q('t').where(op.or(op.eq('a', 1), op.eq('b', 2))).ast).pins.size).toBe(0);
    expect(compileSyncQuery(q('t').where(op.or(op.eq('a', 1), op.eq('b', 2))).ast).route).toBeUndefined();
    expect(s.route?.field).toBe('ownerId'); // an equality routes better than an in-list
  });

  it('routes exactly: a document matches a pinned query only if its route key is one of the keys', () => {
    const values = [0, -0, 1, '1', 'u1', true, false, null, undefined, ['u1'], { a: 1 }];
    const queries = [
      q('t').where('v', '=', 1),
      q('t').where('v', '=', '1'),
      q('t').where('v', '=', 0),
      q('t').where('v', '=', true),
      q('t').where('v', 'in', [false, 'u1', 1]),
      q('t').where(op.and(op.eq('v', 'u1'), op.gt('n', 0))),
      q('t').where('meta.v', 'in', [1, 2]),
    ];
    for (const query of queries) {
      const s = compileSyncQuery(query.ast);
      expect(s.route).toBeDefined();
      for (const v of values)
        for (const doc of [
          { id: 'x', v, n: 1 },
          { id: 'x', meta: { v }, n: 1 },
        ]) {
          const key = s.route!.key(doc);
          if (s.test(doc)) expect(key !== undefined && s.route!.keys.includes(key)).toBe(true);
        }
    }
  });
});
