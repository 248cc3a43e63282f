/**
 * Backend bindings over real HTTP on loopback: the SQL binding against a SQL runner backed
 * by a real SQLite database (better-sqlite3), the GraphQL binding against an HTTP endpoint
 * that records each request and answers as a GraphQL server would (no GraphQL server runs
 * here: its answers are fixed per operation).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import { parse, print } from 'graphql';
import { NonRetriableError } from '@omnisync/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClient } from '../../client.js';
import { createTestScheduler } from '../../testing/test-scheduler.js';
import { createState } from '../../state/create-state.js';
import { defineState } from '../../state/define-state.js';
import { GraphQLBinding } from './graphql-binding.js';
import { meta } from '../../state/meta.js';
import { StateObserver } from '../../state/observer.js';
import { SQLBinding } from './sql-binding.js';
import { observeNode } from '../../state/state-runtime.js';

type Todo = { id: string; title: string; completed: boolean; n: number };

/** The text `graphql`'s printer makes of a document (the binding prints its ASTs). */
const printed = (doc: string) => print(parse(doc));

interface Endpoint {
  url: string;
  requests: { auth: string | undefined; body: any }[];
  status: { next: number | undefined };
  close(): Promise<void>;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function endpoint(answer: (body: any) => unknown): Promise<Endpoint> {
  const requests: Endpoint['requests'] = [];
  const status: Endpoint['status'] = { next: undefined };
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (d: Buffer) => (raw += d.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw);
      requests.push({ auth: req.headers.authorization, body });
      if (status.next !== undefined) {
        const code = status.next;
        status.next = undefined;
        res.writeHead(code, { 'content-type': 'application/json' }).end('{"error":"forced"}');
        return;
      }
      try {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer(body)));
      } catch (err) {
        res
          .writeHead(400, { 'content-type': 'application/json' })
          .end(JSON.stringify({ error: String(err) }));
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/sql-runner`,
    requests,
    status,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** A SQL runner over a real SQLite database. */
function sqlRunner(db: Database.Database) {
  return (body: { sql?: string; params?: unknown[]; statements?: { sql: string; params: unknown[] }[] }) => {
    if (body.statements) {
      db.transaction(() => {
        for (const s of body.statements!) db.prepare(s.sql).run(...s.params);
      })();
      return { ok: true };
    }
    return { rows: db.prepare(body.sql!).all(...(body.params ?? [])) };
  };
}

async function suspended(read: () => unknown): Promise<void> {
  try {
    read();
  } catch (p) {
    if (p instanceof Promise) return void (await p);
    throw p;
  }
  throw new Error('expected the read to suspend');
}

function sqlSetup(staleTime = 1000) {
  const db = new Database(':memory:');
  db.exec(
    'CREATE TABLE todos (id TEXT PRIMARY KEY, title TEXT NOT NULL, completed INTEGER NOT NULL, n INTEGER NOT NULL)',
  );
  const insert = db.prepare('INSERT INTO todos VALUES (?, ?, ?, ?)');
  for (let i = 1; i <= 4; i++) insert.run(`t${i}`, `Todo ${i}`, i % 2 === 0 ? 1 : 0, i);
  return { db, staleTime };
}

describe('SQLBinding over HTTP to a real SQLite', () => {
  it('first read suspends then shows the rows; writes by assignment become SQL; every request gets fresh headers', async () => {
    const { db } = sqlSetup();
    const api = await endpoint(sqlRunner(db));
    let token = 0;
    const binding = new SQLBinding<Todo>({
      endpoint: api.url,
      headers: async () => ({ authorization: `Bearer tok-${++token}` }),
      decode: (row) => ({ ...row, completed: row.completed === 1 }),
    });
    const scheduler = createTestScheduler();
    const client = createClient({ scheduler });
    const state = createState(
      client,
      defineState({ todos: { _binding: binding, _type: [] as Todo[], _options: { staleTime: 1000 } } }),
    );

    const open = state.todos.where({ completed: false }).orderBy({ n: 'asc' });
    await suspended(() => open.length);
    await vi.waitFor(() => expect(open.map((t) => t.title)).toEqual(['Todo 1', 'Todo 3']));
    expect(api.requests[0]!.body).toEqual({
      sql: 'SELECT * FROM "todos" WHERE "completed" = ? ORDER BY "n" ASC',
      params: [0],
    });
    expect(meta(open).status).toBe('ready');

    open[0]!.completed = true; // optimistic: leaves the query at once
    expect(open.map((t) => t.title)).toEqual(['Todo 3']);
    state.todos.insert({ id: 't9', title: 'New', completed: false, n: 9 });
    state.todos.delete('t3');
    await vi.waitFor(() =>
      expect(db.prepare('SELECT id, completed FROM todos ORDER BY n').all()).toEqual([
        { id: 't1', completed: 1 },
        { id: 't2', completed: 1 },
        { id: 't4', completed: 1 },
        { id: 't9', completed: 0 },
      ]),
    );
    const writes = api.requests.filter((r) => r.body.statements).map((r) => r.body.statements[0]);
    expect(writes).toEqual([
      { sql: 'UPDATE "todos" SET "completed" = ? WHERE "id" = ?', params: [1, 't1'] },
      {
        sql: 'INSERT INTO "todos" ("id", "title", "completed", "n") VALUES (?, ?, ?, ?)',
        params: ['t9', 'New', 0, 9],
      },
      { sql: 'DELETE FROM "todos" WHERE "id" = ?', params: ['t3'] },
    ]);
    // Dynamic headers: the function ran before every request, each got its own token.
    expect(api.requests.map((r) => r.auth)).toEqual(api.requests.map((_, i) => `Bearer tok-${i + 1}`));
    await client.close();
  });

  it('stale-while-revalidate: a new consumer after staleTime shows the cached rows at once and refetches in the background', async () => {
    const { db } = sqlSetup();
    const api = await endpoint(sqlRunner(db));
    const binding = new SQLBinding<Todo>({
      endpoint: api.url,
      decode: (row) => ({ ...row, completed: row.completed === 1 }),
    });
    const scheduler = createTestScheduler();
    const client = createClient({ scheduler });
    const state = createState(
      client,
      defineState({ todos: { _binding: binding, _type: [] as Todo[], _options: { staleTime: 5000 } } }),
    );
    const all = state.todos.orderBy('n');
    await suspended(() => all.length);
    const mount = () => {
      const o = new StateObserver();
      o.begin();
      const n = observeNode(all, o).length;
      o.end();
      return { o, n };
    };
    const first = mount(); // the first consumer reads what the first fetch brought
    first.o.dispose();
    expect(api.requests).toHaveLength(1);

    db.prepare("UPDATE todos SET title = 'changed elsewhere' WHERE id = 't1'").run();
    const fresh = mount(); // within staleTime: no refetch
    fresh.o.dispose();
    expect(api.requests).toHaveLength(1);

    await scheduler.advance(5001);
    let bumps = 0;
    const later = mount();
    later.o.subscribe(() => bumps++);
    expect(later.n).toBe(4); // cached rows at once
    expect(all[0]!.title).toBe('Todo 1');
    await vi.waitFor(() => expect(all[0]!.title).toBe('changed elsewhere'));
    expect(api.requests).toHaveLength(2);
    later.o.dispose();

    // refetchOnMount: false keeps the cache until something else refetches.
    const c2 = createClient({ scheduler });
    const s2 = createState(
      c2,
      defineState({
        todos: { _binding: binding, _type: [] as Todo[], _options: { staleTime: 0, refetchOnMount: false } },
      }),
    );
    await suspended(() => s2.todos.length);
    const before = api.requests.length;
    const o = new StateObserver();
    o.begin();
    void observeNode(s2.todos, o).length;
    o.end();
    o.dispose();
    const o2 = new StateObserver();
    o2.begin();
    void observeNode(s2.todos, o2).length;
    o2.end();
    o2.dispose();
    expect(api.requests.length).toBe(before);
    await client.close();
    await c2.close();
  });

  it('a 4xx fails the transaction at once and rolls it back; a 5xx is retried', async () => {
    const { db } = sqlSetup();
    const api = await endpoint(sqlRunner(db));
    const binding = new SQLBinding<Todo>({
      endpoint: api.url,
      decode: (row) => ({ ...row, completed: row.completed === 1 }),
    });
    const client = createClient({ retry: { baseDelay: 1, maxDelay: 5, jitter: 0 }, onError: () => {} });
    client.events.on('sync.error:action', () => {});
    const state = createState(client, defineState({ todos: { _binding: binding, _type: [] as Todo[] } }));
    await suspended(() => state.todos.length);

    api.status.next = 400;
    const t1 = state.todos.get('t1')!;
    const tx = state.todos.update('t1', { title: 'refused' });
    expect(t1.title).toBe('refused');
    await expect(tx.promise).rejects.toBeInstanceOf(NonRetriableError);
    expect(state.todos.get('t1')!.title).toBe('Todo 1');
    expect(tx.attempts).toHaveLength(1);

    api.status.next = 503;
    const tx2 = state.todos.update('t1', { title: 'after a retry' });
    await tx2.promise;
    expect(tx2.attempts).toHaveLength(2);
    expect(db.prepare("SELECT title FROM todos WHERE id = 't1'").get()).toEqual({ title: 'after a retry' });
    await client.close();
  });

  it('refuses identifiers that could inject SQL', () => {
    const b = new SQLBinding({ endpoint: 'http://127.0.0.1:1/x' });
    expect(() => b.buildQuery('todos', { where: { 'x" OR 1=1 --': 1 } })).toThrow(/not a plain identifier/);
    expect(() => new SQLBinding({ endpoint: 'x', table: 'a;b' })).toThrow(/not a plain identifier/);
  });
});

describe('GraphQLBinding over HTTP', () => {
  it('builds Hasura-style documents with variables, applies the answer, sends one mutation per transaction', async () => {
    const rows: Todo[] = [
      { id: 'a', title: 'A', completed: false, n: 1 },
      { id: 'b', title: 'B', completed: false, n: 2 },
    ];
    const api = await endpoint((body) =>
      String(body.query).startsWith('mutation') ? { data: { m1: { id: 'a' } } } : { data: { todos: rows } },
    );
    let calls = 0;
    const binding = new GraphQLBinding<Todo>({
      endpoint: api.url,
      fields: ['title', 'completed', 'n'],
      headers: () => ({ authorization: `Bearer g${++calls}`, 'x-hasura-role': 'user' }),
    });
    expect(binding.buildQuery('todos', { pk: 'a' })).toMatchObject({
      root: 'todos_by_pk',
      query: printed('query ($id: String!) { todos_by_pk(id: $id) { id title completed n } }'),
      variables: { id: 'a' },
    });
    const client = createClient();
    const state = createState(client, defineState({ todos: { _binding: binding, _type: [] as Todo[] } }));
    const open = state.todos.where({ completed: false }).orderBy({ n: 'desc' }).limit(10);
    await suspended(() => open.length);
    expect(open.map((t) => t.id)).toEqual(['b', 'a']);
    expect(api.requests[0]!.body).toEqual({
      query: printed(
        'query ($where: todos_bool_exp, $order_by: [todos_order_by!], $limit: Int) { todos(where: $where, order_by: $order_by, limit: $limit) { id title completed n } }',
      ),
      variables: { where: { completed: { _eq: false } }, order_by: [{ n: 'desc' }], limit: 10 },
    });
    open[1]!.title = 'A2';
    await vi.waitFor(() => expect(api.requests).toHaveLength(2));
    expect(api.requests[1]!.body).toEqual({
      query: printed(
        'mutation ($id1: String!, $s1: todos_set_input!) { m1: update_todos_by_pk(pk_columns: { id: $id1 }, _set: $s1) { id } }',
      ),
      variables: { id1: 'a', s1: { title: 'A2' } },
    });
    expect(api.requests.map((r) => r.auth)).toEqual(['Bearer g1', 'Bearer g2']);
    await client.close();
  });

  it('a GraphQL error answer fails the write (no retry) and rolls it back', async () => {
    const api = await endpoint((body) =>
      String(body.query).startsWith('mutation')
        ? { errors: [{ message: 'permission denied' }] }
        : { data: { todos: [{ id: 'a', title: 'A', completed: false, n: 1 }] } },
    );
    const binding = new GraphQLBinding<Todo>({ endpoint: api.url, fields: ['title', 'completed', 'n'] });
    const client = createClient({ onError: () => {} });
    client.events.on('sync.error:action', () => {});
    const state = createState(client, defineState({ todos: { _binding: binding, _type: [] as Todo[] } }));
    await suspended(() => state.todos.length);
    const tx = state.todos.update('a', { completed: true });
    await expect(tx.promise).rejects.toThrow(/permission denied/);
    expect(state.todos.get('a')!.completed).toBe(false);
    await client.close();
  });
});
