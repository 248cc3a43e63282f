import type { StandardSchemaV1 } from '@standard-schema/spec';
import { describe, expect, expectTypeOf, it } from 'vitest';
import { t, type TOutput, type TInput } from '../index.js';

const validate = <S extends StandardSchemaV1>(
  s: S,
  v: unknown,
): { value?: unknown; issues?: readonly StandardSchemaV1.Issue[] | undefined } => {
  const r = s['~standard'].validate(v);
  if (r instanceof Promise) throw new Error('t.object must validate synchronously');
  return r;
};

describe('t builder', () => {
  const todo = t.object({
    title: t.string(),
    count: t.number(),
    done: t.boolean().default(false),
    due: t.date().optional(),
    ownerId: t.ref('users'),
    tagIds: t.refMany('tags').default([]),
    extra: t.json().optional(),
    note: t.string().nullable().optional(),
    meta: t.object({ rank: t.number().default(0), at: t.date().optional() }).optional(),
  });

  it('implements Standard Schema v1 with vendor omnisync', () => {
    expect(todo['~standard'].version).toBe(1);
    expect(todo['~standard'].vendor).toBe('omnisync');
  });

  it('accepts a valid document, applies defaults and turns ISO strings into Dates', () => {
    const r = validate(todo, {
      id: 'a',
      title: 'x',
      count: 1,
      ownerId: 'u1',
      due: '2024-01-15T10:30:00.000Z',
      meta: {},
    });
    expect(r.issues).toBeUndefined();
    expect(r.value).toEqual({
      id: 'a',
      title: 'x',
      count: 1,
      ownerId: 'u1',
      due: new Date('2024-01-15T10:30:00.000Z'),
      done: false,
      tagIds: [],
      meta: { rank: 0 },
    });
  });

  it('reports every failing field with its path and rule', () => {
    const r = validate(todo, {
      title: 3,
      count: Number.NaN,
      ownerId: '',
      tagIds: ['t1', 7],
      due: 'yesterday',
      meta: { rank: 'high' },
      extra: () => 1,
    });
    expect(r.issues?.map((i) => [i.path, i.message])).toEqual([
      [['title'], 'Expected a string, received a number'],
      [['count'], 'Expected a finite number, received NaN'],
      [
        ['ownerId'],
        'Expected a users id (a non-empty string of at most 512 characters), received the string ""',
      ],
      [['tagIds', 1], "Expected a tags id (a non-empty string without '[' or ']'), received a number"],
      [['due'], 'Expected a valid date (a Date or an ISO 8601 string), received the string "yesterday"'],
      [['meta', 'rank'], 'Expected a number, received the string "high"'],
      [['extra'], expect.stringContaining('Expected a JSON value (the value: a function cannot be stored')],
    ]);
  });

  it('says a missing required field is required', () => {
    const r = validate(todo, { count: 1, ownerId: 'u' });
    expect(r.issues).toEqual([
      { path: ['title'], message: 'Required: expected a string, but the field is missing' },
    ]);
  });

  it('refuses null unless nullable, and a non-object document', () => {
    expect(validate(todo, { title: null, count: 1, ownerId: 'u' }).issues).toEqual([
      { path: ['title'], message: 'Expected a string, received null' },
    ]);
    expect(validate(todo, { title: 'x', count: 1, ownerId: 'u', note: null }).issues).toBeUndefined();
    expect(validate(todo, [1]).issues).toEqual([
      { path: [], message: 'Expected an object, received an array' },
    ]);
    expect(validate(todo, new Date(0)).issues?.[0]?.message).toBe('Expected an object, received a Date');
  });

  it('keeps unknown keys (documents from newer clients keep their fields) and explicit undefined of optional fields', () => {
    const r = validate(todo, { title: 'x', count: 1, ownerId: 'u', fromTheFuture: { a: 1 }, due: undefined });
    expect(r.value).toEqual({
      title: 'x',
      count: 1,
      ownerId: 'u',
      fromTheFuture: { a: 1 },
      due: undefined,
      done: false,
      tagIds: [],
    });
    expect(Object.hasOwn(r.value as object, 'due')).toBe(true);
  });

  it('treats refMany as a set: repeated ids collapse', () => {
    const r = validate(t.object({ tagIds: t.refMany('tags') }), { tagIds: ['a', 'b', 'a'] });
    expect(r.value).toEqual({ tagIds: ['a', 'b'] });
  });

  it('gives each document a fresh copy of an object default, and calls function defaults', () => {
    let n = 0;
    const s = t.object({ tags: t.json<string[]>().default(['x']), seq: t.number().default(() => ++n) });
    const a = validate(s, {}).value as { tags: string[]; seq: number };
    const b = validate(s, {}).value as { tags: string[]; seq: number };
    expect(a.tags).toEqual(['x']);
    expect(a.tags).not.toBe(b.tags);
    expect([a.seq, b.seq]).toEqual([1, 2]);
  });

  it('does not mutate the input', () => {
    const input = { title: 'x', count: 1, ownerId: 'u', due: '2024-01-15T10:30:00.000Z' };
    const copy = structuredClone(input);
    validate(todo, input);
    expect(input).toEqual(copy);
  });

  it('records each field spec (kind, target, optional, default) for the storage layer', () => {
    expect(todo.shape.ownerId.spec).toEqual({
      kind: 'ref',
      target: 'users',
      optional: false,
      nullable: false,
      hasDefault: false,
    });
    expect(todo.shape.tagIds.spec).toMatchObject({
      kind: 'refMany',
      target: 'tags',
      hasDefault: true,
      defaultValue: [],
    });
    expect(todo.shape.due.spec).toMatchObject({ kind: 'date', optional: true });
    expect(() => t.ref('')).toThrow(/t.ref\(collection\) needs the name/);
  });

  it('infers output and input types', () => {
    type Out = TOutput<typeof todo.shape>;
    type In = TInput<typeof todo.shape>;
    expectTypeOf<Out['done']>().toEqualTypeOf<boolean>();
    expectTypeOf<Out['due']>().toEqualTypeOf<Date | undefined>();
    expectTypeOf<Out['tagIds']>().toEqualTypeOf<string[]>();
    expectTypeOf<In['due']>().toEqualTypeOf<Date | string | undefined>();
    expectTypeOf<{ title: string; count: number; ownerId: string }>().toExtend<In>();
    expectTypeOf<StandardSchemaV1.InferOutput<typeof todo>>().toEqualTypeOf<Out>();
  });
});
