import { type } from 'arktype';
import * as v from 'valibot';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  defineCollection,
  defineSchema,
  fieldHint,
  fieldKinds,
  objectTypeOf,
  ObjectType,
  refManyFields,
  SchemaError,
  t,
  type InferDocument,
  type InferInput,
} from '../index.js';

const kindsOf = (c: Parameters<typeof fieldKinds>[0]) =>
  Object.fromEntries([...fieldKinds(c)].map(([p, s]) => [p, s.kind]));

describe('defineCollection', () => {
  it('takes the field kinds of a t.object schema, nested objects included', () => {
    const posts = defineCollection({
      name: 'posts',
      schema: t.object({
        title: t.string(),
        authorId: t.ref('users'),
        tagIds: t.refMany('tags'),
        meta: t.object({ publishedAt: t.date().optional(), extra: t.json() }),
      }),
    });
    expect(kindsOf(posts)).toEqual({
      title: 'string',
      authorId: 'ref',
      tagIds: 'refMany',
      meta: 'object',
      'meta.publishedAt': 'date',
      'meta.extra': 'json',
    });
    expect(refManyFields(posts)).toEqual(new Set(['tagIds']));
    expect(fieldKinds(posts).get('authorId')?.target).toBe('users');
  });

  it.each([
    [
      'zod',
      z.object({
        id: z.string(),
        at: z.date(),
        maybe: z.date().optional().nullable(),
        n: z.object({ d: z.date().default(() => new Date(0)) }),
        s: z.string(),
      }),
    ],
    [
      'valibot',
      v.object({
        id: v.string(),
        at: v.date(),
        maybe: v.nullish(v.date()),
        n: v.object({ d: v.date() }),
        s: v.string(),
      }),
    ],
    [
      'arktype',
      type({ id: 'string', at: 'Date', 'maybe?': 'Date | null', n: { d: 'Date' }, s: 'string | Date' }),
    ],
  ])('finds the Date fields of a %s schema by itself', (_vendor, schema) => {
    const c = defineCollection({ name: 'events', schema });
    expect(kindsOf(c)).toEqual({ at: 'date', maybe: 'date', 'n.d': 'date' });
  });

  it('lets `fields` declare what the validator cannot, by dotted path', () => {
    const c = defineCollection({
      name: 'posts',
      schema: z.object({
        id: z.string(),
        ownerId: z.string(),
        meta: z.object({ tagIds: z.array(z.string()) }),
        blob: z.unknown(),
      }),
      fields: { ownerId: t.ref('users'), 'meta.tagIds': t.refMany('tags'), blob: t.json() },
    });
    expect(kindsOf(c)).toEqual({ ownerId: 'ref', 'meta.tagIds': 'refMany', blob: 'json' });
    expect(refManyFields(c)).toEqual(new Set(['meta.tagIds']));
  });

  it('gives the objectTypeOf hint of a cell field', () => {
    const c = defineCollection({
      name: 'posts',
      schema: t.object({ at: t.date(), by: t.ref('users'), tags: t.refMany('tags'), n: t.number() }),
    });
    expect(fieldHint(c, 'at')).toBe('date');
    expect(fieldHint(c, 'by')).toBe('ref');
    expect(fieldHint(c, 'tags[t1]')).toBe('ref');
    expect(fieldHint(c, 'n')).toBeUndefined();
    expect(fieldHint(c, 'unknown')).toBeUndefined();
    expect(objectTypeOf('2024-01-15T10:30:00.000Z', fieldHint(c, 'at'))).toBe(ObjectType.DATE);
  });

  it.each([
    [{ name: 'bad name', schema: t.object({}) }, /Collection name "bad name" is not valid/],
    [{ name: 'todos', schema: { parse: () => 1 } }, /not a Standard Schema \(v1\)/],
    [
      { name: 'todos', schema: t.object({}), fields: { 'a[b]': t.date() } },
      /field "a\[b\]": not a valid field path/,
    ],
    [{ name: 'todos', schema: t.object({}), fields: { _deleted: t.boolean() } }, /reserved for tombstones/],
    [{ name: 'todos', schema: t.object({}), fields: { due: 'date' } }, /expected a field kind such as t.ref/],
    [
      { name: 'todos', schema: t.object({}), fields: { done: t.boolean().default(false) } },
      /put the default in the schema/,
    ],
    [
      { name: 'todos', schema: t.object({ due: t.string() }), fields: { due: t.date() } },
      /declared as date but the schema says string/,
    ],
  ])('refuses a bad definition %#', (options, message) => {
    expect(() => defineCollection(options as never)).toThrow(SchemaError);
    expect(() => defineCollection(options as never)).toThrow(message);
  });

  it('infers the document and input types', () => {
    const todos = defineCollection({
      name: 'todos',
      schema: z.object({ title: z.string(), done: z.boolean().default(false) }),
    });
    expectTypeOf(todos.name).toEqualTypeOf<'todos'>();
    expectTypeOf<InferDocument<typeof todos>>().toEqualTypeOf<
      { title: string; done: boolean } & { id: string }
    >();
    expectTypeOf<InferInput<typeof todos>>().toEqualTypeOf<{ title: string; done?: boolean | undefined }>();
  });
});

describe('defineSchema', () => {
  const users = defineCollection({ name: 'users', schema: t.object({ name: t.string() }) });
  const tags = defineCollection({ name: 'tags', schema: t.object({ label: t.string() }) });
  const todos = defineCollection({
    name: 'todos',
    schema: t.object({ ownerId: t.ref('users'), tagIds: t.refMany('tags') }),
  });

  it('gathers collections by name', () => {
    const schema = defineSchema({ users, tags, todos });
    expect(schema.names).toEqual(['users', 'tags', 'todos']);
    expect(schema.collection('todos')).toBe(todos);
    expect(schema.has('todos')).toBe(true);
    expect(schema.has('nope')).toBe(false);
    expect(() => schema.collection('nope' as 'todos')).toThrow(
      /Unknown collection "nope"; the schema defines: users, tags, todos/,
    );
    expectTypeOf(schema.collection('todos')).toEqualTypeOf(todos);
  });

  it('refuses a key that is not the collection name', () => {
    expect(() => defineSchema({ people: users })).toThrow(/Schema entry "people" holds collection "users"/);
  });

  it('refuses a ref to a collection it does not define', () => {
    expect(() => defineSchema({ todos, users })).toThrow(
      /field "tagIds" refers to collection "tags", which this schema does not define/,
    );
  });

  it('refuses an entry that is not a collection', () => {
    expect(() => defineSchema({ todos: { name: 'todos' } as never })).toThrow(
      /Schema entry "todos" is not a collection/,
    );
  });
});

describe('flattenOptions', () => {
  it('stores json fields whole and refMany fields as members', async () => {
    const { flattenOptions } = await import('./collection.js');
    const { flattenDocument } = await import('../cells.js');
    const todos = defineCollection({
      name: 'todos',
      schema: t.object({
        id: t.string(),
        settings: t.json(),
        tagIds: t.refMany('tags'),
        meta: t.object({ n: t.number() }),
      }),
    });
    const cells = flattenDocument(
      { id: 'a', settings: { a: 1 }, tagIds: ['x', 'y'], meta: { n: 2 } },
      flattenOptions(todos),
    );
    expect(cells).toEqual([
      ['settings', { a: 1 }],
      ['tagIds[x]', true],
      ['tagIds[y]', true],
      ['meta.n', 2],
    ]);
  });
});
