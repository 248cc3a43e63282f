import { describe, expect, it } from 'vitest';
import {
  createMemorySource,
  createQueryEngine,
  op,
  type Predicate,
  q,
  QueryError,
  validateQuery,
} from '../index.js';

const refused = (input: unknown): QueryError => {
  try {
    validateQuery(input);
  } catch (e) {
    expect(e).toBeInstanceOf(QueryError);
    return e as QueryError;
  }
  throw new Error(`accepted ${JSON.stringify(input)}`);
};

describe('validateQuery', () => {
  it('names the path of the first problem', () => {
    expect(refused(null).message).toMatch(/^Invalid query: query must be an object/);
    expect(refused({ collection: 'todos', sort: [] }).message).toMatch(/query\.sort is not a known key/);
    expect(
      refused({
        collection: 'todos',
        where: {
          op: 'and',
          args: [
            { op: 'eq', field: 'a', value: 1 },
            { op: 'eq', field: 'b', value: {} },
          ],
        },
      }).message,
    ).toMatch(/query\.where\.args\[1\]\.value must be a string, a finite number/);
    expect(
      refused({ collection: 'todos', where: { op: 'eq', field: 'a', value: Number.NaN } }).message,
    ).toMatch(/finite number/);
    expect(refused({ collection: 'todos', where: { op: 'between', field: 'a' } }).message).toMatch(
      /query\.where\.op must be one of/,
    );
    expect(refused({ collection: 'todos', orderBy: [{ field: 'a', dir: 'up' }] }).message).toMatch(
      /query\.orderBy\[0\]\.dir must be "asc" or "desc"/,
    );
    expect(
      refused({ collection: 'todos', include: { o: { collection: 'users', on: 'oid', limit: 2 } } }).message,
    ).toMatch(/query\.include\.o\.limit only applies to to-many relations/);
    expect(
      refused({ collection: 'todos', include: { o: { collection: 'users', references: 'x', many: true } } })
        .message,
    ).toMatch(/many only applies to "on"/);
    expect(
      refused({ collection: 'todos', groupBy: ['a'], aggregate: { a: { fn: 'count' } } }).message,
    ).toMatch(/same name as a groupBy field/);
    expect(
      refused({ collection: 'todos', distinct: ['a'], orderBy: [{ field: 'a', dir: 'asc' }] }).message,
    ).toMatch(/orderBy cannot be used with distinct/);
    expect(refused({ collection: 'todos', after: { values: [] } }).message).toMatch(
      /query\.after\.id is required when the query has no orderBy/,
    );
    expect(
      refused({ collection: 'todos', where: { op: 'in', field: 'a', values: new Array(10_001).fill(1) } })
        .message,
    ).toMatch(/at most 10000/);
  });

  it('refuses predicates nested beyond the depth limit', () => {
    let p: Predicate = { op: 'eq', field: 'a', value: 1 };
    for (let i = 0; i < 40; i++)
      p = { op: 'not', arg: { op: 'or', args: [p, { op: 'exists', field: 'b' }] } };
    expect(refused({ collection: 'todos', where: p }).message).toMatch(/nested deeper than 32/);
  });

  it('normalises: flattened and sorted and/or, not(not p) = p, sorted unique in-lists, offset 0 dropped', () => {
    const ast = validateQuery({
      collection: 'todos',
      where: {
        op: 'and',
        args: [
          { op: 'and', args: [{ op: 'eq', field: 'b', value: 1 }] },
          { op: 'not', arg: { op: 'not', arg: { op: 'in', field: 'a', values: [3, 1, 3, 'x', null] } } },
          { op: 'eq', field: 'b', value: 1 },
        ],
      },
      offset: 0,
    });
    expect(ast).toEqual({
      collection: 'todos',
      where: {
        op: 'and',
        args: [
          { op: 'in', field: 'a', values: [null, 1, 3, 'x'] },
          { op: 'eq', field: 'b', value: 1 },
        ],
      },
    });
  });
});

describe('operators (engine.matches: the filter the server uses before and after a change)', () => {
  const engine = createQueryEngine(createMemorySource());
  const m = (p: Predicate, doc: Record<string, unknown>) =>
    engine.matches(q('t').where(p), { id: 'x', ...doc });

  it('eq/ne: missing reads as null; values compare by type', () => {
    expect(m(op.eq('a', null), {})).toBe(true);
    expect(m(op.eq('a', null), { a: null })).toBe(true);
    expect(m(op.eq('a', 1), { a: '1' })).toBe(false);
    expect(m(op.eq('a', 1), { a: 1 })).toBe(true);
    expect(m(op.ne('a', 1), {})).toBe(true);
    expect(m(op.ne('a', null), { a: 0 })).toBe(true);
    expect(m(op.eq('meta.n', 2), { meta: { n: 2 } })).toBe(true);
    expect(m(op.eq('meta.n', 2), { meta: 2 })).toBe(false);
  });

  it('gt/gte/lt/lte only match the operand type; null never matches a range', () => {
    expect(m(op.gt('p', 3), { p: 4 })).toBe(true);
    expect(m(op.gt('p', 3), { p: 3 })).toBe(false);
    expect(m(op.gte('p', 3), { p: 3 })).toBe(true);
    expect(m(op.lt('p', 3), { p: '1' })).toBe(false);
    expect(m(op.lt('p', 3), {})).toBe(false);
    expect(m(op.lte('s', 'b'), { s: 'ab' })).toBe(true);
    expect(m(op.gt('s', 'b'), { s: 'B' })).toBe(false);
    expect(m(op.gt('f', false), { f: true })).toBe(true);
  });

  it('in/nin, including null for missing', () => {
    expect(m(op.in('a', [1, 2]), { a: 2 })).toBe(true);
    expect(m(op.in('a', [1, null]), {})).toBe(true);
    expect(m(op.in('a', [1, 2]), {})).toBe(false);
    expect(m(op.nin('a', [1, 2]), {})).toBe(true);
    expect(m(op.nin('a', [1, 2]), { a: 1 })).toBe(false);
  });

  it('like/ilike: % and _, backslash escapes, strings only', () => {
    expect(m(op.like('t', 'Bu%'), { t: 'Buy milk' })).toBe(true);
    expect(m(op.like('t', 'bu%'), { t: 'Buy milk' })).toBe(false);
    expect(m(op.ilike('t', 'bu%MILK'), { t: 'Buy milk' })).toBe(true);
    expect(m(op.like('t', '_'), { t: 'ab' })).toBe(false);
    expect(m(op.like('t', 'a_c'), { t: 'abc' })).toBe(true);
    expect(m(op.like('t', '100\\%'), { t: '100%' })).toBe(true);
    expect(m(op.like('t', '100\\%'), { t: '1000' })).toBe(false);
    expect(m(op.like('t', 'a.c'), { t: 'abc' })).toBe(false);
    expect(m(op.like('t', '%'), { t: 5 })).toBe(false);
  });

  it('contains (refMany arrays) and exists', () => {
    expect(m(op.contains('tags', 't1'), { tags: ['t0', 't1'] })).toBe(true);
    expect(m(op.contains('tags', 't1'), { tags: 't1' })).toBe(false);
    expect(m(op.exists('a'), { a: 0 })).toBe(true);
    expect(m(op.exists('a'), { a: null })).toBe(false);
    expect(m(op.not(op.exists('a')), {})).toBe(true);
  });

  it('and/or/not with empty lists (true/false)', () => {
    expect(m(op.and(), {})).toBe(true);
    expect(m(op.or(), {})).toBe(false);
    expect(m(op.or(op.eq('a', 1), op.eq('b', 2)), { b: 2 })).toBe(true);
    expect(m(op.and(op.eq('a', 1), op.eq('b', 2)), { b: 2 })).toBe(false);
  });

  it('matches the cursor and the id of a get, and ignores windows', () => {
    const page2 = q('t')
      .orderBy('n')
      .limit(1)
      .after({ values: [5], id: 'b' });
    expect(engine.matches(page2, { id: 'c', n: 5 })).toBe(true);
    expect(engine.matches(page2, { id: 'a', n: 5 })).toBe(false);
    expect(engine.matches(page2, { id: 'a', n: 6 })).toBe(true);
    expect(engine.matches(q('t').get('x'), { id: 'x' })).toBe(true);
    expect(engine.matches(q('t').get('x'), { id: 'y' })).toBe(false);
  });
});

describe('names every object inherits', () => {
  it('refuses __proto__ as a field, relation or column, and reads constructor/toString as plain fields', () => {
    expect(refused({ collection: 'todos', where: { op: 'exists', field: '__proto__' } }).message).toMatch(
      /__proto__/,
    );
    expect(
      refused({ collection: 'todos', include: JSON.parse('{"__proto__":{"collection":"users","on":"o"}}') })
        .message,
    ).toMatch(/query\.include/);
    expect(
      refused({ collection: 'todos', aggregate: JSON.parse('{"__proto__":{"fn":"count"}}') }).message,
    ).toMatch(/__proto__/);
    const engine = createQueryEngine(createMemorySource());
    expect(engine.matches(q('t').where(op.exists('constructor')), { id: 'a' })).toBe(false);
    expect(engine.matches(q('t').where(op.exists('meta.toString')), { id: 'a', meta: {} })).toBe(false);
    expect(engine.matches(q('t').where({ constructor: 'x' }), { id: 'a', constructor: 'x' })).toBe(true);
  });
});
