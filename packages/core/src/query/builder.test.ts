import { describe, expect, it } from 'vitest';
import { op, q, Query, QueryError, queryHash, validateQuery } from '../index.js';

describe('query builder', () => {
  it("builds seed 000's chain as plain JSON", () => {
    const query = q('todos').where({ completed: false }).orderBy({ created_at: 'desc' }).limit(10);
    expect(query.ast).toEqual({
      collection: 'todos',
      where: { op: 'eq', field: 'completed', value: false },
      orderBy: [{ field: 'created_at', dir: 'desc' }],
      limit: 10,
    });
    expect(JSON.parse(JSON.stringify(query))).toEqual(query.ast);
  });

  it('builds get(id), operator forms, and/or/not, operator objects', () => {
    expect(q('todos').get('a1').ast).toEqual({ collection: 'todos', get: 'a1' });
    expect(q('todos').where('priority', '>', 3).ast.where).toEqual({ op: 'gt', field: 'priority', value: 3 });
    expect(q('todos').where('tag', 'not in', ['x', 'y']).ast.where).toEqual({
      op: 'nin',
      field: 'tag',
      values: ['x', 'y'],
    });
    expect(q('todos').where('title', 'exists', false).ast.where).toEqual({
      op: 'not',
      arg: { op: 'exists', field: 'title' },
    });
    expect(q('todos').where({ priority: { gte: 2, lt: 5 } }).ast.where).toEqual({
      op: 'and',
      args: [
        { op: 'gte', field: 'priority', value: 2 },
        { op: 'lt', field: 'priority', value: 5 },
      ],
    });
    const p = op.or(op.eq('owner', 'me'), op.not(op.like('title', 'x%')));
    // Arguments come sorted by their canonical JSON, so equal filters hash alike.
    expect(q('todos').where(p).ast.where).toEqual({
      op: 'or',
      args: [
        { op: 'not', arg: { op: 'like', field: 'title', pattern: 'x%' } },
        { op: 'eq', field: 'owner', value: 'me' },
      ],
    });
  });

  it('treats a document field called "op" as a field, not as a predicate', () => {
    expect(q('jobs').where({ op: 'sync' }).ast.where).toEqual({ op: 'eq', field: 'op', value: 'sync' });
  });

  it('ANDs successive where calls and appends orderBy keys', () => {
    const query = q('todos').where({ a: 1 }).where('b', '<', 2).orderBy('a').orderBy({ b: 'desc' });
    expect(query.ast.where).toEqual({
      op: 'and',
      args: [
        { op: 'eq', field: 'a', value: 1 },
        { op: 'lt', field: 'b', value: 2 },
      ],
    });
    expect(query.ast.orderBy).toEqual([
      { field: 'a', dir: 'asc' },
      { field: 'b', dir: 'desc' },
    ]);
  });

  it('is immutable: each call returns a new query', () => {
    const base = q('todos');
    const narrowed = base.where({ done: true });
    expect(base.ast).toEqual({ collection: 'todos' });
    expect(narrowed).not.toBe(base);
    expect(narrowed).toBeInstanceOf(Query);
  });

  it('takes a cursor from a row of the previous page', () => {
    const query = q('todos')
      .orderBy({ createdAt: 'desc' })
      .limit(2)
      .after({ id: 'x', createdAt: 5, title: 't' });
    expect(query.ast.after).toEqual({ values: [5], id: 'x' });
  });

  it('builds includes, aggregates and distinct', () => {
    const withOwner = q('posts').include({ author: { collection: 'users', on: 'authorId' } });
    expect(withOwner.ast.include).toEqual({ author: { collection: 'users', on: 'authorId' } });
    const agg = q('todos')
      .groupBy('ownerId')
      .aggregate({ n: 'count', total: ['sum', 'priority'], top: { fn: 'max', field: 'priority' } });
    expect(agg.ast).toEqual({
      collection: 'todos',
      groupBy: ['ownerId'],
      aggregate: {
        n: { fn: 'count' },
        top: { fn: 'max', field: 'priority' },
        total: { fn: 'sum', field: 'priority' },
      },
    });
    expect(q('todos').count().ast.aggregate).toEqual({ count: { fn: 'count' } });
    expect(q('todos').distinct('ownerId').ast.distinct).toEqual(['ownerId']);
  });

  it('refuses bad input at once with a QueryError naming the problem', () => {
    const bad = (f: () => unknown, text: RegExp) => {
      let caught: unknown;
      try {
        f();
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(QueryError);
      expect((caught as QueryError).code).toBe('query_invalid');
      expect((caught as QueryError).message).toMatch(text);
    };
    bad(() => q('bad name'), /query\.collection must be a collection name/);
    bad(() => q('todos').where('p', '~' as never, 1), /unknown operator/);
    bad(() => q('todos').where({ p: { gt: null } }), /query\.where\.value cannot be null for gt/);
    bad(() => q('todos').where({ 'a..b': 1 }), /where\.field must be a field path/);
    bad(() => q('todos').limit(-1), /query\.limit must be a whole number/);
    bad(() => q('todos').limit(1.5), /query\.limit must be a whole number/);
    bad(() => q('todos').get('x').limit(1), /query\.limit cannot be used with get/);
    bad(() => q('todos').where({ x: { in: 3 as never } }), /needs an array/);
    bad(() => q('todos').aggregate({ s: 'sum' }), /query\.aggregate\.s\.field is required for sum/);
    bad(() => q('todos').include({ o: { collection: 'users' } }), /exactly one of "on"/);
    bad(
      () =>
        q('todos')
          .orderBy('a')
          .after({ values: [1, 2] }),
      /has 2 values but the query orders by 1/,
    );
    bad(() => q('todos').where({ x: { foo: 1 } as never }), /unknown operator/);
  });
});

describe('stable identity (hash)', () => {
  it("uses the seed's form for equality filters", () => {
    expect(q('todos').where({ completed: false }).hash).toBe('todos:{"completed":false}');
    expect(q('todos').where({ b: 2, a: 1 }).hash).toBe('todos:{"a":1,"b":2}');
  });

  it('is the same for the same query written differently, and differs otherwise', () => {
    const a = q('todos')
      .where(op.and(op.eq('x', 1), op.gt('y', 2)))
      .orderBy('z');
    const b = q('todos').where('y', '>', 2).where({ x: 1 }).orderBy({ z: 'asc' });
    expect(a.hash).toBe(b.hash);
    expect(q('todos').where('t', 'in', [2, 1, 2]).hash).toBe(q('todos').where('t', 'in', [1, 2]).hash);
    expect(q('todos').where({ x: 1 }).hash).not.toBe(q('todos').where({ x: '1' }).hash);
    expect(q('todos').get('a').hash).not.toBe(q('todos').where({ id: 'a' }).hash);
    expect(q('todos').where({ x: 1 }).hash).not.toBe(q('todos').where({ x: 1 }).limit(1).hash);
  });

  it('cannot confuse an equality on a field named like a query key with that key', () => {
    const fieldNamedLimit = q('todos').where({ limit: 10 }).hash;
    const realLimit = q('todos').limit(10).hash;
    expect(fieldNamedLimit).not.toBe(realLimit);
    expect(realLimit).toBe('todos:{"limit":10}');
  });

  it('hashes ASTs from anywhere (the protocol) like builder queries', () => {
    const ast = validateQuery({
      collection: 'todos',
      where: { op: 'and', args: [{ op: 'eq', field: 'done', value: true }] },
    });
    expect(queryHash(ast)).toBe('todos:{"done":true}');
  });
});
