import type { StandardSchemaV1 } from '@standard-schema/spec';
import { type } from 'arktype';
import * as v from 'valibot';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { z } from 'zod';
import {
  coerceFromStorage,
  defineCollection,
  flattenDocument,
  refManyFields,
  SchemaError,
  t,
  validateDocument,
  validatePatch,
  type InferDocument,
} from '../index.js';

const AT = '2024-01-15T10:30:00.000Z';

/** Run `fn`, expect a SchemaError, return it. */
function schemaError(fn: () => unknown): SchemaError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(SchemaError);
    expect((e as SchemaError).code).toBe('schema_invalid');
    return e as SchemaError;
  }
  throw new Error('expected a SchemaError, nothing was thrown');
}

// The same collection in each validator: the fields no validator can express are declared.
const fields = { ownerId: t.ref('users'), tagIds: t.refMany('tags') };
const vendors = {
  zod: defineCollection({
    name: 'todos',
    schema: z.object({
      id: z.string(),
      title: z.string().min(1),
      done: z.boolean().default(false),
      due: z.date().optional(),
      ownerId: z.string(),
      tagIds: z.array(z.string()).default([]),
    }),
    fields,
  }),
  valibot: defineCollection({
    name: 'todos',
    schema: v.object({
      id: v.string(),
      title: v.pipe(v.string(), v.minLength(1)),
      done: v.optional(v.boolean(), false),
      due: v.optional(v.date()),
      ownerId: v.string(),
      tagIds: v.optional(v.array(v.string()), []),
    }),
    fields,
  }),
  arktype: defineCollection({
    name: 'todos',
    schema: type({
      id: 'string',
      title: 'string >= 1',
      done: 'boolean = false',
      'due?': 'Date',
      ownerId: 'string',
      tagIds: type('string[]').default(() => []),
    }),
    fields,
  }),
  t: defineCollection({
    name: 'todos',
    schema: t.object({
      id: t.string(),
      title: t.string(),
      done: t.boolean().default(false),
      due: t.date().optional(),
      ownerId: t.ref('users'),
      tagIds: t.refMany('tags').default([]),
    }),
  }),
};

describe.each(Object.entries(vendors))('validateDocument with a %s schema', (vendor, todos) => {
  it('returns the validated document with defaults applied', () => {
    const doc = validateDocument(todos, { id: 'a', title: 'x', ownerId: 'u1', due: new Date(AT) });
    expect(doc).toEqual({ id: 'a', title: 'x', done: false, due: new Date(AT), ownerId: 'u1', tagIds: [] });
  });

  it('accepts an ISO string in a date field and hands back a Date (a document read back from storage)', () => {
    const doc = validateDocument(todos, { id: 'a', title: 'x', ownerId: 'u1', due: AT }) as { due: unknown };
    expect(doc.due).toEqual(new Date(AT));
  });

  it('names the collection, the field and the rule when a field is wrong', () => {
    const e = schemaError(() => validateDocument(todos, { id: 'a', title: 42, ownerId: 'u1' }));
    expect(e.message).toMatch(/^Invalid todos document "a": field "title": .+/);
    expect(e.details).toMatchObject({
      collection: 'todos',
      id: 'a',
      issues: [{ path: 'title', message: expect.any(String) }],
    });
    const issues = (e.details as { issues: { path: string; message: string }[] }).issues;
    expect(issues).toHaveLength(1);
    expect(e.message).toContain(issues[0]!.message);
  });

  it('reports a missing required field', () => {
    const e = schemaError(() => validateDocument(todos, { id: 'a', ownerId: 'u1' }));
    expect((e.details as { issues: { path: string }[] }).issues.map((i) => i.path)).toEqual(['title']);
  });

  it('checks the declared kinds the validator cannot: refMany members must be ids', () => {
    const e = schemaError(() =>
      validateDocument(todos, { id: 'a', title: 'x', ownerId: 'u1', tagIds: ['ok', ''] }),
    );
    expect(e.message).toContain('field "tagIds');
    expect(e.message).toContain('tags id');
  });

  it('refuses a document without a valid id', () => {
    const e = schemaError(() => validateDocument(todos, { id: '', title: 'x', ownerId: 'u1' }));
    expect(e.message).toContain('field "id"');
  });

  it(`knows the refMany fields and the date fields (${vendor})`, () => {
    expect([...refManyFields(todos)]).toEqual(['tagIds']);
    expect(todos.kinds.get('due')?.kind).toBe('date');
    expect(todos.kinds.get('ownerId')).toMatchObject({ kind: 'ref', target: 'users' });
    const doc = validateDocument(todos, {
      id: 'a',
      title: 'x',
      ownerId: 'u1',
      tagIds: ['t2', 't1'],
      due: new Date(AT),
    });
    expect(flattenDocument(doc as Record<string, unknown>, { refMany: refManyFields(todos) })).toEqual(
      expect.arrayContaining([
        ['tagIds[t2]', true],
        ['tagIds[t1]', true],
        ['due', AT],
      ]),
    );
  });

  it('round-trips: validated → stored form → coerceFromStorage → validates again', () => {
    const doc = validateDocument(todos, { id: 'a', title: 'x', ownerId: 'u1', due: new Date(AT) }) as Record<
      string,
      unknown
    >;
    const stored = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
    expect(stored.due).toBe(AT);
    const read = coerceFromStorage(todos, stored);
    expect(read).toEqual(doc);
    expect(validateDocument(todos, read)).toEqual(doc);
  });

  it('validates an update as the merged document and refuses an id change', () => {
    const current = validateDocument(todos, { id: 'a', title: 'x', ownerId: 'u1' }) as Record<
      string,
      unknown
    >;
    expect(validatePatch(todos, current, { done: true })).toEqual({ ...current, done: true });
    expect(schemaError(() => validatePatch(todos, current, { title: 7 })).message).toContain('field "title"');
    expect(schemaError(() => validatePatch(todos, current, { id: 'b' })).message).toContain(
      'id of a document cannot change',
    );
  });
});

describe('validateDocument', () => {
  it('refuses an async schema with a SchemaError saying async is not supported (zod)', () => {
    const todos = defineCollection({
      name: 'todos',
      schema: z.object({ id: z.string(), title: z.string().refine(async () => true) }),
    });
    const e = schemaError(() => validateDocument(todos, { id: 'a', title: 'x' }));
    expect(e.message).toContain('validated asynchronously');
    expect(e.message).toContain('async schemas are not supported');
  });

  it('refuses an async schema (valibot objectAsync)', () => {
    const todos = defineCollection({
      name: 'todos',
      schema: v.objectAsync({ id: v.string(), title: v.string() }),
    });
    expect(schemaError(() => validateDocument(todos, { id: 'a', title: 'x' })).message).toContain(
      'async schemas are not supported',
    );
  });

  it('wraps a validator that throws, keeping the cause (a hand-written Standard Schema)', () => {
    const boom = new Error('boom');
    const throwing: StandardSchemaV1<{ id: string }> = {
      '~standard': {
        version: 1,
        vendor: 'hand-written',
        validate: () => {
          throw boom;
        },
      },
    };
    const todos = defineCollection({ name: 'todos', schema: throwing });
    const e = schemaError(() => validateDocument(todos, { id: 'a' }));
    expect(e.message).toContain('threw while validating');
    expect(e.cause).toBe(boom);
  });

  it('refuses a non-object document and a schema whose output is not an object', () => {
    const todos = vendors.zod;
    expect(schemaError(() => validateDocument(todos, 'x')).message).toBe(
      'Invalid todos document: expected a plain object, received the string "x".',
    );
    const weird = defineCollection({
      name: 'weird',
      schema: z.object({ id: z.string() }).transform(() => 5),
    });
    expect(schemaError(() => validateDocument(weird, { id: 'a' })).message).toContain(
      'must produce an object',
    );
  });

  it('keeps the id when the schema does not declare it (zod strips unknown keys)', () => {
    const notes = defineCollection({ name: 'notes', schema: z.object({ text: z.string() }) });
    expect(validateDocument(notes, { id: 'n1', text: 'hi', stray: 1 })).toEqual({ id: 'n1', text: 'hi' });
    expectTypeOf<InferDocument<typeof notes>>().toEqualTypeOf<{ text: string } & { id: string }>();
  });

  it('lists at most three issues in the message and all of them in details, with nested paths', () => {
    const s = defineCollection({
      name: 'things',
      schema: z.object({
        id: z.string(),
        a: z.string(),
        b: z.string(),
        c: z.string(),
        d: z.string(),
        meta: z.object({ list: z.array(z.number()) }),
      }),
    });
    const e = schemaError(() =>
      validateDocument(s, { id: 'x', a: 1, b: 1, c: 1, d: 1, meta: { list: [1, 'two'] } }),
    );
    expect(e.message).toContain('and 2 more (see details.issues)');
    expect((e.details as { issues: { path: string }[] }).issues.map((i) => i.path)).toEqual([
      'a',
      'b',
      'c',
      'd',
      'meta.list[1]',
    ]);
  });

  it('turns a valid ISO string in a declared date field into a Date even when the schema accepts strings', () => {
    const events = defineCollection({
      name: 'events',
      schema: z.object({ id: z.string(), at: z.any() }),
      fields: { at: t.date() },
    });
    expect(validateDocument(events, { id: 'e', at: AT })).toEqual({ id: 'e', at: new Date(AT) });
    expect(schemaError(() => validateDocument(events, { id: 'e', at: 'soon' })).message).toContain(
      'field "at": Expected a valid date',
    );
  });

  it('checks declared ref and json kinds after a permissive validator', () => {
    const c = defineCollection({
      name: 'c',
      schema: type({ id: 'string', owner: 'unknown', blob: 'unknown' }),
      fields: { owner: t.ref('users'), blob: t.json() },
    });
    expect(validateDocument(c, { id: 'a', owner: 'u', blob: { x: [1] } })).toEqual({
      id: 'a',
      owner: 'u',
      blob: { x: [1] },
    });
    const e = schemaError(() =>
      validateDocument(c, { id: 'a', owner: 5, blob: { f: Number.POSITIVE_INFINITY } }),
    );
    expect((e.details as { issues: { path: string }[] }).issues.map((i) => i.path)).toEqual([
      'owner',
      'blob',
    ]);
  });

  it('does not mutate the caller’s document (arktype returns its input object)', () => {
    const input = { id: 'a', title: 'x', ownerId: 'u1', due: AT };
    validateDocument(vendors.arktype, input);
    expect(input.due).toBe(AT);
  });
});

describe('coerceFromStorage', () => {
  const todos = defineCollection({
    name: 'todos',
    schema: t.object({
      title: t.string(),
      rank: t.number().default(0),
      at: t.date().optional(),
      createdAt: t.date().default(() => new Date(0)),
      owner: t.ref('users').nullable(),
      tags: t.refMany('tags').optional(),
      meta: t.object({ seen: t.date().optional(), n: t.number().optional() }).optional(),
    }),
  });

  it('turns dates back into Dates and leaves good values alone', () => {
    const stored = { id: 'a', title: 'x', rank: 2, at: AT, owner: null, meta: { seen: AT } };
    const read = coerceFromStorage(todos, stored);
    expect(read).toEqual({
      id: 'a',
      title: 'x',
      rank: 2,
      at: new Date(AT),
      owner: null,
      meta: { seen: new Date(AT) },
    });
    expect(stored.at).toBe(AT);
    expect(stored.meta.seen).toBe(AT);
  });

  it('treats invalid data as undefined (seed 003) and never throws', () => {
    const read = coerceFromStorage(todos, {
      id: 'a',
      title: 5,
      rank: 'x',
      at: 'not a date',
      owner: 3,
      tags: 'nope',
      meta: { seen: 1, n: 'n' },
    });
    expect(read).toEqual({ id: 'a', rank: 0, meta: {} });
    expect(coerceFromStorage(todos, { id: 'a', meta: 'flat' })).toEqual({ id: 'a', rank: 0 });
  });

  it('fills constant defaults of missing fields but never invents function defaults', () => {
    expect(coerceFromStorage(todos, { id: 'a', title: 'x' })).toEqual({ id: 'a', title: 'x', rank: 0 });
  });

  it('returns the same object when nothing needs coercing (cheap reads)', () => {
    const stored = { id: 'a', title: 'x', rank: 1 };
    expect(coerceFromStorage(todos, stored)).toBe(stored);
  });

  it('coerces dates found in a zod schema without any declaration', () => {
    const events = defineCollection({
      name: 'events',
      schema: z.object({ id: z.string(), at: z.date(), nested: z.object({ when: z.date().nullable() }) }),
    });
    expect(coerceFromStorage(events, { id: 'e', at: AT, nested: { when: AT } })).toEqual({
      id: 'e',
      at: new Date(AT),
      nested: { when: new Date(AT) },
    });
  });
});
