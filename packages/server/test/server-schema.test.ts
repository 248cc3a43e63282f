/**
 * Server-side schema (issue 13 part 5) and in-process upcasting (part 6), on a real server
 * over loopback HTTP and WebSocket with SQLite files.
 */
import {
  defaultField,
  defineCollection,
  defineSchema,
  defineSchemaVersions,
  renameField,
  t,
} from '@omnisync/core';
import { type } from 'arktype';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { CellWriter, HttpClient, LiveClient, mutation } from './helpers/protocol-client.js';
import { startServer, type TestServer } from './helpers/servers.js';

const todos = defineCollection({
  name: 'todos',
  schema: z.object({
    title: z.string().min(1),
    done: z.boolean().default(false),
    priority: z.number().int().optional(),
    due: z.date().optional(),
    meta: z.object({ n: z.number() }).optional(),
  }),
});
const users = defineCollection({ name: 'users', schema: type({ name: 'string', 'age?': 'number' }) });
const notes = defineCollection({
  name: 'notes',
  schema: t.object({ body: t.string(), tagIds: t.refMany('users') }),
});
const schema = defineSchema({ todos, users, notes });

let server: TestServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function start(options: Parameters<typeof startServer>[0] = {}) {
  server = await startServer({ schema, ...options });
  return new HttpClient(server.url, 'app');
}

const pushRaw = (http: HttpClient, body: Record<string, unknown>) => http.call('push', body);

describe('server-side schema', () => {
  it('accepts valid inserts, partial updates, deletes and ISO dates', async () => {
    const http = await start();
    const w = new CellWriter();
    const res = await http.push('c1', [
      mutation(w.doc('todos', 't1', { title: 'milk', done: false, due: '2026-01-02T03:04:05.000Z' })),
      mutation(w.doc('users', 'u1', { name: 'Ada' })),
      mutation(w.doc('notes', 'n1', { body: 'hi', 'tagIds[u1]': true })),
    ]);
    expect(res.results.map((r) => r.status)).toEqual(['applied', 'applied', 'applied']);
    const upd = await http.push('c1', [
      mutation(w.update('todos', 't1', { done: true })),
      mutation(w.update('todos', 't1', { 'meta.n': 3 })),
      mutation(w.remove('users', 'u1')),
    ]);
    expect(upd.results.map((r) => r.status)).toEqual(['applied', 'applied', 'applied']);
    const { changes } = await http.pullAll(0);
    const t1 = Object.fromEntries(changes.filter((c) => c.id === 't1').map((c) => [c.field, c.value]));
    expect(t1).toMatchObject({ title: 'milk', done: true, 'meta.n': 3 });
  });

  it('refuses an invalid cell with 400 invalid_input naming collection, id and field; nothing of the push applies', async () => {
    const http = await start();
    const w = new CellWriter();
    const good = mutation(w.doc('todos', 'ok', { title: 'fine' }));
    const bad = mutation(w.doc('todos', 'bad', { title: 'x', done: 'yes' }));
    const r = await pushRaw(http, { clientId: 'c1', mutations: [good, bad] });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('invalid_input');
    expect(r.body.error.message).toMatch(/todos\/bad/);
    expect(r.body.error.message).toMatch(/field "done"/);
    expect(r.body.error.details).toMatchObject({
      collection: 'todos',
      id: 'bad',
      field: 'done',
      mutationId: bad.id,
    });
    // Atomic: the valid mutation before it was not applied either.
    const { changes, cursor } = await http.pullAll(0);
    expect(changes).toEqual([]);
    expect(cursor).toBe(0);
    // And the same push without the bad one goes through (the refusal was not recorded as a result).
    const again = await http.push('c1', [good]);
    expect(again.results).toEqual([{ id: good.id, status: 'applied' }]);
  });

  it.each([
    ['an insert missing a required field', (w: CellWriter) => w.doc('todos', 't9', { done: true }), 'title'],
    [
      'an update of the wrong type',
      (w: CellWriter) => w.update('todos', 't1', { priority: 1.5 }),
      'priority',
    ],
    [
      'an update unsetting a required field',
      (w: CellWriter) => w.update('todos', 't1', { title: undefined }),
      'title',
    ],
    [
      'a nested field of the wrong type',
      (w: CellWriter) => w.update('todos', 't1', { 'meta.n': 'x' }),
      'meta.n',
    ],
    ['an arktype field of the wrong type', (w: CellWriter) => w.update('users', 'u1', { age: 'old' }), 'age'],
    ['a t.object field of the wrong type', (w: CellWriter) => w.update('notes', 'n1', { body: 5 }), 'body'],
    ['an invalid date', (w: CellWriter) => w.update('todos', 't1', { due: 'not a date' }), 'due'],
  ])('refuses %s', async (_what, cells, field) => {
    const http = await start();
    const w = new CellWriter();
    const r = await pushRaw(http, { clientId: 'c1', mutations: [mutation(cells(w))] });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('invalid_input');
    expect(r.body.error.details.field).toBe(field);
    expect(r.body.error.message).toContain(`field "${field}"`);
  });

  it('holds an update only to the fields it writes (a partial document lacks the others)', async () => {
    const http = await start();
    const w = new CellWriter();
    // No title in this write: fine for an update, the stored document has it.
    const r = await http.push('c1', [mutation(w.update('todos', 't1', { priority: 2 }))]);
    expect(r.results[0].status).toBe('applied');
  });

  it('refuses a collection the schema does not define, unless unknownCollections is allow', async () => {
    let http = await start();
    const w = new CellWriter();
    const r = await pushRaw(http, {
      clientId: 'c1',
      mutations: [mutation(w.doc('secrets', 's1', { x: 1 }))],
    });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe('invalid_input');
    expect(r.body.error.message).toMatch(/no collection "secrets".*defines: todos, users, notes/);
    await server!.close();
    server = undefined;
    http = await start({ unknownCollections: 'allow' });
    const ok = await http.push('c1', [mutation(w.doc('secrets', 's1', { x: 1 }))]);
    expect(ok.results[0].status).toBe('applied');
  });

  it('refuses an invalid push over the WebSocket with an error for its requestId; nothing applied', async () => {
    const http = await start();
    const live = await LiveClient.open(server!.url, 'app');
    try {
      expect((await live.hello({ clientId: 'ws1' })).type).toBe('welcome');
      const w = new CellWriter();
      live.send({
        type: 'push',
        requestId: 'r1',
        clientId: 'ws1',
        mutations: [
          mutation(w.doc('todos', 'a', { title: 'ok' })),
          mutation(w.doc('todos', 'b', { title: '' })),
        ],
      });
      const err = await live.next((m) => m.requestId === 'r1');
      expect(err.type).toBe('error');
      expect(err.error.code).toBe('invalid_input');
      expect(err.error.details).toMatchObject({ collection: 'todos', id: 'b', field: 'title' });
      expect((await http.pullAll(0)).changes).toEqual([]);
      live.send({
        type: 'push',
        requestId: 'r2',
        clientId: 'ws1',
        mutations: [mutation(w.doc('todos', 'a', { title: 'ok' }))],
      });
      const ack = await live.next((m) => m.requestId === 'r2');
      expect(ack.type).toBe('ack');
      expect(ack.results[0].status).toBe('applied');
    } finally {
      live.close();
    }
  });

  it('fails an invalid push alone among concurrent pushes (checked before the group commit)', async () => {
    const http = await start();
    const writers = Array.from({ length: 8 }, () => new CellWriter());
    const answers = await Promise.all(
      writers.map((w, i) =>
        pushRaw(http, {
          clientId: `c${i}`,
          mutations: [mutation(w.doc('todos', `t${i}`, i === 3 ? { title: 7 } : { title: `n${i}` }))],
        }),
      ),
    );
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 400, 200, 200, 200, 200]);
    const ids = new Set((await http.pullAll(0)).changes.map((c) => c.id));
    expect([...ids].sort()).toEqual(['t0', 't1', 't2', 't4', 't5', 't6', 't7']);
  });
});

describe('schema versions on one server', () => {
  const v3 = defineSchema({
    todos: defineCollection({
      name: 'todos',
      schema: z.object({ text: z.string(), priority: z.number() }),
    }),
  });
  const versions = defineSchemaVersions([
    { version: 1 },
    { version: 2, up: [renameField('todos', 'title', 'text')] },
    { version: 3, schema: v3, up: [defaultField('todos', 'priority', 0)] },
  ]);

  it('upcasts a v1 push to v3 and validates the result', async () => {
    const http = await start({ schema: versions });
    const w = new CellWriter();
    const r = await pushRaw(http, {
      clientId: 'old',
      schemaVersion: 1,
      mutations: [mutation(w.doc('todos', 't1', { title: 'milk' }))],
    });
    expect(r.status).toBe(200);
    const { changes } = await http.pullAll(0);
    expect(Object.fromEntries(changes.map((c) => [c.field, c.value]))).toEqual({
      id: 't1',
      text: 'milk',
      priority: 0,
    });
    // The same v1 shape claimed as v3 is not upcast: its title is not in the v3 schema, its insert lacks text.
    const as3 = await pushRaw(http, {
      clientId: 'old',
      schemaVersion: 3,
      mutations: [mutation(w.doc('todos', 't2', { title: 'x' }))],
    });
    expect(as3.status).toBe(400);
    expect(as3.body.error.details.field).toBe('text');
  });

  it('refuses a version outside the chain with 409 schema_outdated, and a malformed one with 400', async () => {
    const http = await start({ schema: defineSchemaVersions([{ version: 2 }, { version: 3, schema: v3 }]) });
    const w = new CellWriter();
    for (const [v, what] of [
      [1, /too old/],
      [4, /still on version 3/],
    ] as const) {
      const r = await pushRaw(http, {
        clientId: 'c',
        schemaVersion: v,
        mutations: [mutation(w.doc('todos', `t${v}`, { text: 'a', priority: 1 }))],
      });
      expect(r.status).toBe(409);
      expect(r.body.error.code).toBe('schema_outdated');
      expect(r.body.error.message).toMatch(what);
      expect(r.body.error.details).toEqual({ clientVersion: v, serverVersion: 3, oldestVersion: 2 });
    }
    expect((await http.pullAll(0)).changes).toEqual([]);
    const bad = await pushRaw(http, { clientId: 'c', schemaVersion: '3', mutations: [] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('protocol_invalid');
  });
});
