/**
 * GraphQLBinding against a real GraphQL server: PostGraphile 5 (Amber preset, connection
 * filter) on the local Postgres, over HTTP and graphql-ws on loopback. Another writer is a
 * direct pg connection; its changes reach live queries through a trigger's pg_notify and
 * PostGraphile's listen() subscription, without polling.
 */
import { buildClientSchema, getIntrospectionQuery, parse, validate } from 'graphql';
import { NetworkError, NonRetriableError, OmniSyncError } from '@omnisync/core';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createClient } from '../../src/client.js';
import { GraphQLBinding, type GraphQLBindingOptions } from '../../src/sources/bindings/graphql-binding.js';
import { createState } from '../../src/state/create-state.js';
import { defineState } from '../../src/state/define-state.js';
import { meta } from '../../src/state/meta.js';
import { Omni } from '../../src/state/omni-write.js';
import { StateObserver } from '../../src/state/observer.js';
import { observeNode } from '../../src/state/state-runtime.js';
import { createTestScheduler } from '../../src/testing/test-scheduler.js';
import { pgUnreachable } from '../../../server/test/helpers/postgres.js';
import { startPostGraphile, type PostGraphileServer } from './postgraphile-server.js';
import { startFaultProxy, type FaultProxy } from './fault-proxy.js';

type Todo = { id: string; title: string; completed: boolean; n: number };

const noPg = await pgUnreachable('GraphQLBinding against PostGraphile');

let pgl: PostGraphileServer;
let proxy: FaultProxy;
let token = 0;
const bindings: GraphQLBinding<Todo>[] = [];

function binding(extra: Partial<GraphQLBindingOptions> = {}): GraphQLBinding<Todo> {
  const b = new GraphQLBinding<Todo>({
    dialect: 'postgraphile',
    endpoint: proxy.url,
    wsEndpoint: pgl.wsUrl,
    webSocketImpl: WebSocket,
    fields: ['title', 'completed', 'n'],
    headers: async () => ({ Authorization: `Bearer ok-${++token}` }),
    ...extra,
  });
  bindings.push(b);
  return b;
}

async function reset(rows: [string, string, boolean, number][]): Promise<void> {
  await pgl.db.query(`DELETE FROM ${pgl.schema}.todos`);
  for (const r of rows) await pgl.db.query(`INSERT INTO ${pgl.schema}.todos VALUES ($1, $2, $3, $4)`, r);
}

async function rowsInDb(): Promise<Todo[]> {
  const { rows } = await pgl.db.query(`SELECT id, title, completed, n FROM ${pgl.schema}.todos ORDER BY id`);
  return rows as Todo[];
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

/** Consume a query as a component would (subscribes when the collection is live). */
function mount(node: { readonly length: number }): { dispose(): void } {
  const o = new StateObserver();
  o.begin();
  void observeNode(node, o).length;
  o.end();
  return o;
}

const SEED: [string, string, boolean, number][] = [
  ['t1', 'Todo 1', false, 1],
  ['t2', 'Todo 2', true, 2],
  ['t3', 'Todo 3', false, 3],
  ['t4', 'Todo 4', false, 4],
];

describe.skipIf(noPg !== undefined)(
  'GraphQLBinding against PostGraphile 5 (real server, real Postgres)',
  () => {
    beforeAll(async () => {
      pgl = await startPostGraphile();
      proxy = await startFaultProxy(pgl.url);
    }, 60_000);
    afterAll(async () => {
      for (const b of bindings) await b.close();
      await proxy?.close();
      await pgl?.close();
    });

    it('every document the postgraphile dialect builds validates against the introspected schema', async () => {
      const res = await fetch(pgl.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: 'Bearer ok-introspect' },
        body: JSON.stringify({ query: getIntrospectionQuery() }),
      });
      const schema = buildClientSchema(((await res.json()) as { data: any }).data);
      const b = binding();
      const docs: string[] = [];
      // The read and live documents of a query with every option, and a pk read.
      const q = b.buildQuery('todos', {
        where: { completed: false, n: { _in: [1, 3] } },
        orderBy: { n: 'desc' },
        limit: 2,
        offset: 1,
      });
      docs.push(q.query as string, b.buildQuery('todos', { pk: 't1' }).query as string);
      const { print } = await import('graphql');
      docs.push(print((q as any).live.document));
      // The write documents: capture what write() posts (through a recording fetch).
      const posted: string[] = [];
      const rec = binding({
        endpoint: pgl.url,
        fetch: async (url, init) => {
          posted.push(JSON.parse(init.body).query);
          return fetch(url, init);
        },
      });
      await reset([['w1', 'W', false, 1]]);
      await rec.write({
        collection: 'todos',
        types: { w2: 'insert', w1: 'update' },
        changes: { w2: { title: 'new', completed: false, n: 2 }, w1: { title: 'W2' } },
        attempt: 2, // a retry: first asks which ids exist
      });
      await rec.write({ collection: 'todos', types: { w2: 'delete' }, changes: { w2: {} }, attempt: 1 });
      docs.push(...posted);
      // retry probe, pre-images (PostGraphile is not atomic across fields), mutation, delete
      expect(posted).toHaveLength(4);
      for (const d of docs) expect(validate(schema, parse(d)).map((e) => e.message)).toEqual([]);
      expect(await rowsInDb()).toEqual([{ id: 'w1', title: 'W2', completed: false, n: 1 }]);
    });

    it('reads with filter, order and limit; a pk read; `in` filters', async () => {
      await reset(SEED);
      const b = binding();
      const client = createClient();
      const state = createState(client, defineState({ todos: { _binding: b, _type: [] as Todo[] } }));
      const open = state.todos.where({ completed: false }).orderBy({ n: 'desc' }).limit(2);
      await suspended(() => open.length);
      expect(open.map((t) => t.id)).toEqual(['t4', 't3']);
      expect(meta(open).status).toBe('ready');
      expect(await b.read(b.buildQuery('todos', { pk: 't2' }))).toEqual({
        id: 't2',
        title: 'Todo 2',
        completed: true,
        n: 2,
      });
      expect(await b.read(b.buildQuery('todos', { pk: 'nope' }))).toBeNull();
      const some = (await b.read(
        b.buildQuery('todos', { where: { n: { _in: [1, 2] } }, orderBy: { n: 'asc' } }),
      )) as Todo[];
      expect(some.map((t) => t.id)).toEqual(['t1', 't2']);
      await client.close();
    });

    it('writes: insert, update by assignment and delete become PostGraphile mutations', async () => {
      await reset(SEED);
      const client = createClient();
      const state = createState(client, defineState({ todos: { _binding: binding(), _type: [] as Todo[] } }));
      const all = state.todos.orderBy({ n: 'asc' });
      await suspended(() => all.length);
      all[0]!.title = 'Todo 1 edited';
      state.todos.insert({ id: 't9', title: 'New', completed: false, n: 9 });
      const tx = state.todos.delete('t3');
      await tx.promise;
      await vi.waitFor(async () =>
        expect(await rowsInDb()).toEqual([
          { id: 't1', title: 'Todo 1 edited', completed: false, n: 1 },
          { id: 't2', title: 'Todo 2', completed: true, n: 2 },
          { id: 't4', title: 'Todo 4', completed: false, n: 4 },
          { id: 't9', title: 'New', completed: false, n: 9 },
        ]),
      );
      await client.close();
    });

    it('a mutation the server refuses fails the transaction at once (NonRetriableError) and rolls it back', async () => {
      await reset(SEED);
      const client = createClient({ retry: { baseDelay: 1, maxDelay: 5, jitter: 0 }, onError: () => {} });
      client.events.on('sync.error:action', () => {});
      const state = createState(client, defineState({ todos: { _binding: binding(), _type: [] as Todo[] } }));
      await suspended(() => state.todos.length);
      const tx = state.todos.update('t1', { title: 'forbidden' }); // CHECK (title <> 'forbidden')
      expect(state.todos.get('t1')!.title).toBe('forbidden'); // optimistic
      const err = await tx.promise.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(NonRetriableError);
      expect((err as NonRetriableError).code).toBe('non_retriable');
      expect(JSON.stringify((err as NonRetriableError).details)).toContain('23514'); // check_violation, as the server said
      expect(tx.attempts).toHaveLength(1);
      expect(state.todos.get('t1')!.title).toBe('Todo 1');
      expect((await rowsInDb())[0]!.title).toBe('Todo 1');
      await client.close();
    });

    it('one transaction of several writes whose last one fails: what the server keeps, and the client rolls back', async () => {
      await reset(SEED);
      const client = createClient({ onError: () => {} });
      client.events.on('sync.error:action', () => {});
      const state = createState(client, defineState({ todos: { _binding: binding(), _type: [] as Todo[] } }));
      await suspended(() => state.todos.length);
      const t1 = state.todos.get('t1')!;
      const t2 = state.todos.get('t2')!;
      state.todos.delete('t4'); // settled before the transaction below
      await vi.waitFor(async () => expect((await rowsInDb()).map((r) => r.id)).not.toContain('t4'));
      const err = await Omni.write(() => {
        t1.title = 'first half';
        state.todos.insert({ id: 't5', title: 'Five', completed: false, n: 5 });
        state.todos.delete('t3');
        t2.title = 'forbidden';
      }).then(
        () => undefined,
        (e: unknown) => e as NonRetriableError,
      );
      expect(err).toBeInstanceOf(NonRetriableError);
      expect(state.todos.get('t1')!.title).toBe('Todo 1');
      expect(state.todos.get('t2')!.title).toBe('Todo 2');
      expect(state.todos.get('t3')).toBeDefined();
      expect(state.todos.get('t5')).toBeUndefined();
      // PostGraphile 5 runs each mutation field of a document in its own transaction: the
      // server applied the first three before refusing the fourth; the binding undid them.
      expect(err!.details).toMatchObject({ applied: ['m1', 'm2', 'm3'], undone: true });
      expect(err!.message).toMatch(/applied m1, m2, m3 before failing.*undone/);
      expect(await rowsInDb()).toEqual(
        SEED.slice(0, 3).map(([id, title, completed, n]) => ({ id, title, completed, n })),
      );
      await client.close();
    });

    it("live: another writer's INSERT, UPDATE and DELETE reach the live query over graphql-ws, without polling", async () => {
      await reset(SEED);
      const client = createClient({ onError: () => {} });
      let received = 0;
      client.events.on('sync.pull:action:received', () => received++);
      const state = createState(
        client,
        defineState({ todos: { _binding: binding(), _type: [] as Todo[], _options: { sync: true } } }),
      );
      const open = state.todos.where({ completed: false }).orderBy({ n: 'asc' });
      await suspended(() => open.length);
      const consumer = mount(open); // the first consumer opens the subscription
      // Until the server LISTENs, a notification is not delivered: touch a row until one is.
      const base = received;
      await vi.waitFor(
        async () => {
          await pgl.db.query(`UPDATE ${pgl.schema}.todos SET n = n WHERE id = 't1'`);
          expect(received).toBeGreaterThan(base);
        },
        { timeout: 10_000, interval: 100 },
      );
      const httpBefore = proxy.requests.length;
      await pgl.db.query(`INSERT INTO ${pgl.schema}.todos VALUES ('t5', 'From psql', false, 5)`);
      await vi.waitFor(() => expect(open.map((t) => t.id)).toEqual(['t1', 't3', 't4', 't5']));
      await pgl.db.query(`UPDATE ${pgl.schema}.todos SET completed = true WHERE id = 't1'`);
      await vi.waitFor(() => expect(open.map((t) => t.id)).toEqual(['t3', 't4', 't5']));
      await pgl.db.query(`DELETE FROM ${pgl.schema}.todos WHERE id = 't3'`);
      await vi.waitFor(() => expect(open.map((t) => t.id)).toEqual(['t4', 't5']));
      expect(state.todos.get('t3')).toBeUndefined();
      expect(state.todos.get('t1')!.completed).toBe(true);
      // Every change came over the WebSocket: no HTTP request since the subscription started.
      expect(proxy.requests.length).toBe(httpBefore);
      expect(pgl.seenAuth.some((a) => /^ws Bearer ok-\d+$/.test(a))).toBe(true);
      consumer.dispose();
      await client.close();
    });

    it('live: a dropped WebSocket reconnects with fresh headers and reads the query again, so a change made meanwhile arrives', async () => {
      await reset(SEED);
      const client = createClient({ onError: () => {} });
      let received = 0;
      client.events.on('sync.pull:action:received', () => received++);
      const state = createState(
        client,
        defineState({ todos: { _binding: binding(), _type: [] as Todo[], _options: { sync: true } } }),
      );
      const all = state.todos.orderBy({ n: 'asc' });
      await suspended(() => all.length);
      const consumer = mount(all);
      const base = received;
      await vi.waitFor(
        async () => {
          await pgl.db.query(`UPDATE ${pgl.schema}.todos SET n = n WHERE id = 't1'`);
          expect(received).toBeGreaterThan(base);
        },
        { timeout: 10_000, interval: 100 },
      );
      const wsAuthBefore = pgl.seenAuth.filter((a) => a.startsWith('ws ')).length;
      expect(pgl.dropWebSockets()).toBeGreaterThan(0);
      // Nobody listens for this one: only the read after reconnecting can bring it.
      await pgl.db.query(`INSERT INTO ${pgl.schema}.todos VALUES ('t6', 'While away', false, 6)`);
      await vi.waitFor(() => expect(all.map((t) => t.id)).toContain('t6'), { timeout: 20_000 });
      const wsAuth = pgl.seenAuth.filter((a) => a.startsWith('ws '));
      expect(wsAuth.length).toBeGreaterThan(wsAuthBefore);
      expect(new Set(wsAuth).size).toBe(wsAuth.length); // a fresh token on each connection
      consumer.dispose();
      await client.close();
    });

    it('live: a subscription the server refuses (wrong token on the WebSocket) reaches the client as a typed error', async () => {
      await reset(SEED);
      const client = createClient();
      const errors: Error[] = [];
      client.events.on('sync.error:action', (e) => errors.push(e.error));
      let calls = 0;
      const b = binding({
        // The first request (the HTTP read) gets a good token, the WebSocket a bad one.
        headers: () => ({ Authorization: ++calls === 1 ? 'Bearer ok-first' : 'Bearer wrong' }),
      });
      const state = createState(
        client,
        defineState({ todos: { _binding: b, _type: [] as Todo[], _options: { sync: true } } }),
      );
      await suspended(() => state.todos.length);
      const consumer = mount(state.todos);
      await vi.waitFor(() => expect(errors.length).toBeGreaterThan(0), { timeout: 10_000 });
      // The server refused the operation: final, with the server's message.
      expect(errors[0]).toBeInstanceOf(NonRetriableError);
      expect(errors[0]!.message).toMatch(/Unauthorized/);
      consumer.dispose();
      await client.close();
    });

    it('stale-while-revalidate against the server: staleTime and refetchOnMount', async () => {
      await reset(SEED);
      const scheduler = createTestScheduler();
      const b = binding();
      const client = createClient({ scheduler });
      const state = createState(
        client,
        defineState({ todos: { _binding: b, _type: [] as Todo[], _options: { staleTime: 5000 } } }),
      );
      const start = proxy.requests.length;
      const all = state.todos.orderBy({ n: 'asc' });
      await suspended(() => all.length);
      mount(all).dispose(); // the first consumer reads what the first fetch brought
      expect(proxy.requests.length - start).toBe(1);

      await pgl.db.query(`UPDATE ${pgl.schema}.todos SET title = 'changed elsewhere' WHERE id = 't1'`);
      mount(all).dispose(); // within staleTime: no refetch
      expect(proxy.requests.length - start).toBe(1);

      await scheduler.advance(5001);
      const later = mount(all);
      expect(all[0]!.title).toBe('Todo 1'); // cached rows at once
      await vi.waitFor(() => expect(all[0]!.title).toBe('changed elsewhere'));
      expect(proxy.requests.length - start).toBe(2);
      later.dispose();

      const c2 = createClient({ scheduler });
      const s2 = createState(
        c2,
        defineState({
          todos: { _binding: b, _type: [] as Todo[], _options: { staleTime: 0, refetchOnMount: false } },
        }),
      );
      await suspended(() => s2.todos.length);
      const before = proxy.requests.length;
      mount(s2.todos).dispose();
      mount(s2.todos).dispose();
      expect(proxy.requests.length).toBe(before);
      await client.close();
      await c2.close();
    });

    it('dynamic headers(): a fresh token per request, checked by the server; a refused token fails typed', async () => {
      await reset(SEED);
      const sent: string[] = [];
      let i = 0;
      const b = binding({
        headers: () => {
          const t = `Bearer ok-dyn-${++i}`;
          sent.push(t);
          return { Authorization: t };
        },
      });
      const seenBefore = pgl.seenAuth.length;
      await b.read(b.buildQuery('todos', {}));
      await b.write({ collection: 'todos', types: { t1: 'update' }, changes: { t1: { n: 10 } }, attempt: 1 });
      await b.read(b.buildQuery('todos', { pk: 't1' }));
      expect(sent).toEqual(['Bearer ok-dyn-1', 'Bearer ok-dyn-2', 'Bearer ok-dyn-3']);
      expect(pgl.seenAuth.slice(seenBefore)).toEqual(sent);
      expect((await rowsInDb())[0]!.n).toBe(10);

      const refused = binding({ headers: { Authorization: 'Bearer wrong' } });
      const err = await refused.read(refused.buildQuery('todos', {})).then(
        () => undefined,
        (e: unknown) => e as OmniSyncError,
      );
      // The server said 401: final, not retried.
      expect(err).toBeInstanceOf(NonRetriableError);
      expect(err!.message).toMatch(/answered 401.*Unauthorized/);
    });

    it('bad input: garbage, a connection cut before and after the server applied a write; typed errors, outbox kept, retried with backoff', async () => {
      await reset(SEED);
      const client = createClient({ retry: { baseDelay: 20, maxDelay: 100, jitter: 0 }, onError: () => {} });
      const errors: { code: string | undefined; retryable: boolean; pendingDuring: boolean }[] = [];
      const state = createState(client, defineState({ todos: { _binding: binding(), _type: [] as Todo[] } }));
      await suspended(() => state.todos.length);
      client.events.on('sync.error:action', (e) =>
        errors.push({
          code: (e.error as OmniSyncError).code,
          retryable: e.retryable,
          // The transaction is still in the outbox and its optimistic value still shows.
          pendingDuring:
            e.transaction !== undefined && !['completed', 'failed'].includes(e.transaction.state),
        }),
      );

      proxy.faults.push('garbage');
      const tx1 = state.todos.update('t1', { title: 'after garbage' });
      await tx1.promise;
      expect(tx1.attempts).toHaveLength(2);
      expect(tx1.attempts[0]!.error).toBeInstanceOf(NetworkError);
      expect(tx1.attempts[0]!.retry_scheduled_for).toBeInstanceOf(Date);

      proxy.faults.push('cut-before-apply');
      const tx2 = state.todos.update('t2', { title: 'after a cut' });
      await tx2.promise;
      expect(tx2.attempts).toHaveLength(2);

      // The server applies the insert, the answer is lost: the retry must not insert twice.
      proxy.faults.push('cut-after-apply');
      const tx3 = state.todos.insert({ id: 't7', title: 'Seven', completed: false, n: 7 });
      await tx3.promise;
      expect(tx3.attempts).toHaveLength(2);

      // The same for a delete.
      proxy.faults.push('cut-after-apply');
      const tx4 = state.todos.delete('t4');
      await tx4.promise;
      expect(tx4.attempts).toHaveLength(2);

      expect(errors).toEqual(
        Array.from({ length: 4 }, () => ({ code: 'network', retryable: true, pendingDuring: true })),
      );
      expect(await rowsInDb()).toEqual([
        { id: 't1', title: 'after garbage', completed: false, n: 1 },
        { id: 't2', title: 'after a cut', completed: true, n: 2 },
        { id: 't3', title: 'Todo 3', completed: false, n: 3 },
        { id: 't7', title: 'Seven', completed: false, n: 7 },
      ]);
      await client.close();
    });
  },
);
