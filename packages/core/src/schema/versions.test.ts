import { describe, expect, it } from 'vitest';
import {
  type Cell,
  defaultField,
  defineSchemaVersions,
  migrate,
  renameField,
  SchemaError,
  SchemaOutdatedError,
  splitField,
  ValidationError,
} from '../index.js';

const H = '000mxdfrui5-000000-clientA';
const cell = (collection: string, id: string, field: string, value: Cell['value'], hlc = H): Cell => ({
  collection,
  id,
  field,
  value,
  hlc,
});
const byField = (cells: readonly Cell[]) =>
  Object.fromEntries(cells.map((c) => [`${c.collection}/${c.id}.${c.field}`, c.value]));

const chain = defineSchemaVersions([
  { version: 1 },
  { version: 2, up: [renameField('todos', 'title', 'text')] },
  {
    version: 3,
    up: [
      splitField('users', 'name', ['first', 'last'], (v) => {
        const [first = '', ...rest] = String(v).split(' ');
        return { first, last: rest.join(' ') };
      }),
      defaultField('todos', 'priority', 0),
    ],
  },
]);

describe('defineSchemaVersions', () => {
  it('knows its range', () => {
    expect(chain.current).toBe(3);
    expect(chain.oldest).toBe(1);
    expect([0, 1, 2, 3, 4, 1.5].map((v) => chain.canUpcast(v))).toEqual([
      false,
      true,
      true,
      true,
      false,
      false,
    ]);
  });

  it('upcasts an insert of v1 through every step, keeping HLCs', () => {
    const out = chain.upcast(
      [
        cell('todos', 't1', 'id', 't1'),
        cell('todos', 't1', 'title', 'milk'),
        cell('users', 'u1', 'id', 'u1', '000mxdfrui6-000000-clientA'),
        cell('users', 'u1', 'name', 'Ada King Lovelace', '000mxdfrui6-000000-clientA'),
      ],
      1,
    );
    expect(byField(out)).toEqual({
      'todos/t1.id': 't1',
      'todos/t1.text': 'milk',
      'todos/t1.priority': 0,
      'users/u1.id': 'u1',
      'users/u1.first': 'Ada',
      'users/u1.last': 'King Lovelace',
    });
    expect(
      out.filter((c) => c.collection === 'users').every((c) => c.hlc === '000mxdfrui6-000000-clientA'),
    ).toBe(true);
  });

  it('applies only the steps after the client version, and leaves updates without defaults', () => {
    const v2 = [cell('todos', 't1', 'text', 'eggs')];
    expect(byField(chain.upcast(v2, 2))).toEqual({ 'todos/t1.text': 'eggs' });
    expect(chain.upcast(v2, 3)).toBe(v2); // current: untouched, not copied
  });

  it('moves nested fields and members with a rename, and unsets both split fields', () => {
    const c = defineSchemaVersions([
      { version: 1 },
      { version: 2, up: [renameField('posts', 'meta', 'info')] },
    ]);
    expect(
      byField(c.upcast([cell('posts', 'p', 'meta.n', 2), cell('posts', 'p', 'metadata', 'x')], 1)),
    ).toEqual({
      'posts/p.info.n': 2,
      'posts/p.metadata': 'x',
    });
    const out = chain.upcast([cell('users', 'u1', 'name', undefined)], 2);
    expect(out.map((x) => [x.field, x.value])).toEqual([
      ['first', undefined],
      ['last', undefined],
    ]);
  });

  it('passes tombstones through', () => {
    const del = cell('todos', 't1', '_deleted', true);
    expect(chain.upcast([del], 1)).toEqual([del]);
  });

  it('runs a general migrate on every collection with *', () => {
    const c = defineSchemaVersions([
      { version: 1 },
      { version: 2, up: [migrate('*', (w) => ({ ...w.fields, [`${w.collection}Seen`]: true }))] },
    ]);
    expect(byField(c.upcast([cell('a', '1', 'x', 1)], 1))).toEqual({ 'a/1.x': 1, 'a/1.aSeen': true });
  });

  it('refuses versions outside the chain with schema_outdated, saying what to do', () => {
    const old = defineSchemaVersions([{ version: 2 }, { version: 3 }]);
    let err: unknown;
    try {
      old.upcast([], 1);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SchemaOutdatedError);
    expect((err as SchemaOutdatedError).code).toBe('schema_outdated');
    expect((err as SchemaOutdatedError).status).toBe(409);
    expect((err as Error).message).toMatch(/too old.*Update the app/);
    expect((err as SchemaOutdatedError).details).toEqual({
      clientVersion: 1,
      serverVersion: 3,
      oldestVersion: 2,
    });
    expect(() => old.upcast([], 4)).toThrow(/server is still on version 3/);
  });

  it('turns a migration that throws or returns garbage into a ValidationError, and checks its cells', () => {
    const boom = defineSchemaVersions([
      { version: 1 },
      {
        version: 2,
        up: [
          migrate('a', () => {
            throw new Error('nope');
          }),
        ],
      },
    ]);
    expect(() => boom.upcast([cell('a', '1', 'x', 1)], 1)).toThrow(ValidationError);
    expect(() => boom.upcast([cell('a', '1', 'x', 1)], 1)).toThrow(/migrate failed on a\/1: nope/);
    const bad = defineSchemaVersions([
      { version: 1 },
      { version: 2, up: [migrate('a', () => null as never)] },
    ]);
    expect(() => bad.upcast([cell('a', '1', 'x', 1)], 1)).toThrow(/must return the fields/);
    const nan = defineSchemaVersions([
      { version: 1 },
      { version: 2, up: [migrate('a', () => ({ x: NaN }))] },
    ]);
    expect(() => nan.upcast([cell('a', '1', 'x', 1)], 1)).toThrow(/NaN|finite|number/i);
  });

  it.each([
    [[], /pass an array of steps/],
    [[{ version: 0 }], /needs a version/],
    [[{ version: 1 }, { version: 3 }], /must be consecutive/],
    [[{ version: 1 }, { version: 2, up: [{}] }], /must be an array of migrations/],
  ])('refuses a bad chain %#', (steps, message) => {
    expect(() => defineSchemaVersions(steps as never)).toThrow(SchemaError);
    expect(() => defineSchemaVersions(steps as never)).toThrow(message);
  });

  it("never applies the first step's migrations (a chain sliced to drop old versions)", () => {
    const sliced = defineSchemaVersions([
      { version: 2, up: [renameField('todos', 'title', 'text')] },
      { version: 3 },
    ]);
    expect(byField(sliced.upcast([cell('todos', 't', 'title', 'x')], 2))).toEqual({ 'todos/t.title': 'x' });
    expect(sliced.canUpcast(1)).toBe(false);
  });

  it('refuses helpers on reserved fields', () => {
    expect(() => renameField('todos', 'id', 'x')).toThrow(/cannot be migrated/);
    expect(() => defaultField('todos', '_deleted', true)).toThrow(/cannot be migrated/);
    expect(() => splitField('todos', 'a', [], () => ({}))).toThrow(/array/);
    expect(() => renameField('bad name', 'a', 'b')).toThrow(/not a valid name/);
  });
});
