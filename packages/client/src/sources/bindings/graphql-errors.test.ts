import { NetworkError, NonRetriableError } from '@omnisync/core';
import { describe, expect, it } from 'vitest';
import { GraphQLBinding } from './graphql-binding.js';
import { graphqlData } from './graphql-errors.js';

describe('graphqlData: a GraphQL answer sorted into data, final errors and retryable ones', () => {
  it('returns data', () => {
    expect(graphqlData({ data: { a: 1 } }, 'x')).toEqual({ a: 1 });
  });

  it('errors the server gave for the request are final, with their codes and what was applied', () => {
    const e = (() => {
      try {
        graphqlData(
          {
            data: { m1: { id: 'a' }, m2: null },
            errors: [{ message: 'check', extensions: { code: '23514' } }],
          },
          'x',
        );
      } catch (err) {
        return err;
      }
    })() as NonRetriableError;
    expect(e).toBeInstanceOf(NonRetriableError);
    expect(e.code).toBe('non_retriable');
    expect(e.details).toEqual({ errors: [{ message: 'check', code: '23514' }], applied: ['m1'] });
  });

  it.each(['40001', '40P01', '08006', '53300', '57P01', '55P03'])(
    'SQLSTATE %s (transient) is retried',
    (code) => {
      expect(() => graphqlData({ errors: [{ message: 'busy', extensions: { code } }] }, 'x')).toThrow(
        NetworkError,
      );
    },
  );

  it.each([
    ['a string', 'hello'],
    ['an array', [1, 2]],
    ['null', null],
    ['no data', {}],
    ['data not an object', { data: 3 }],
    ['errors not an array', { errors: 'oops' }],
    ['an empty errors array', { errors: [] }],
  ])('%s is not a GraphQL result: retried (NetworkError, code network)', (_, body) => {
    let caught: unknown;
    try {
      graphqlData(body, 'x');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(NetworkError);
    expect((caught as NetworkError).code).toBe('network');
  });
});

describe('GraphQLBinding documents: names checked, values only as variables', () => {
  const evil = '") { __typename } mutation { delete_todos(where: {}) { affected_rows } } #';
  it.each(['hasura', 'postgraphile'] as const)(
    '%s: a hostile value never reaches the document text',
    (dialect) => {
      const b = new GraphQLBinding({ endpoint: 'http://127.0.0.1:1/graphql', dialect, fields: ['title'] });
      const q = b.buildQuery('todos', { where: { title: evil }, orderBy: { title: 'asc' }, limit: 3 });
      expect(q.query).not.toContain('__typename');
      expect(JSON.stringify(q.variables)).toContain('__typename');
      const pk = b.buildQuery('todos', { pk: evil });
      expect(pk.query).not.toContain('__typename');
    },
  );

  it('refuses hostile names', () => {
    expect(() => new GraphQLBinding({ endpoint: 'x', fields: ['a b'] })).toThrow(/not a plain identifier/);
    expect(() => new GraphQLBinding({ endpoint: 'x', fields: [], typeName: 'T{' })).toThrow(
      /not a plain identifier/,
    );
    expect(() => new GraphQLBinding({ endpoint: 'x', fields: [], idType: 'String) {' })).toThrow(
      /not a plain identifier/,
    );
    const b = new GraphQLBinding({ endpoint: 'x', dialect: 'postgraphile', fields: [] });
    expect(() => b.buildQuery('todos', { where: { 'x: 1) { y': 1 } })).toThrow(/not a plain identifier/);
    expect(() => b.buildQuery('to dos', {})).toThrow(/not a plain identifier/);
  });

  it('postgraphile: the names PostGraphile 5 (Amber) generates', () => {
    const b = new GraphQLBinding({ endpoint: 'x', dialect: 'postgraphile', fields: ['title', 'n'] });
    const q = b.buildQuery('todos', { where: { n: 2 }, orderBy: { n: 'desc' }, limit: 5 });
    expect(q.query).toContain('allTodos(filter: $filter, orderBy: $orderBy, first: $first)');
    expect(q.variables).toEqual({ filter: { n: { equalTo: 2 } }, orderBy: ['N_DESC'], first: 5 });
    expect(b.buildQuery('categories', { pk: 'c' }).query).toContain('categoryByRowId(rowId: $id)');
  });
});
