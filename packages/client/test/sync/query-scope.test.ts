/**
 * Query-scoped sync against a real server (in this process, loopback HTTP + WebSocket): a
 * client that syncs `q('todos').where('ownerId', '=', me)` holds exactly those documents —
 * by pull, live, when documents move in and out, and across a restart; a client syncing by
 * its live queries (`scope: 'queries'`) gets every document matching a live query's filter
 * (a top-1 window included: limit does not filter), and the result says when it is complete.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import WebSocket from 'ws';
import { op, q, QueryError } from '@omnisync/core';
import { createServer } from '@omnisync/server';
import {
  createClient,
  createServerSource,
  liveQuery,
  type ServerSourceOptions,
  type WebSocketConstructor,
} from '@omnisync/client';
import { createFilePersistence } from '../../src/node.js';
import { createNetworkSwitch, eventually } from './helpers.js';

const APP = 'scoped';
let dir: string;
let server: ReturnType<typeof createServer>;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'omni-scoped-'));
  server = createServer({ dataDir: join(dir, 'server'), durability: 'off', logLevel: 'silent' });
  url = (await server.listen(0)).url;
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

type Todo = { id: string; ownerId: string; priority: number; title?: string };

function open(
  name: string,
  options: Partial<ServerSourceOptions> = {},
  fetch?: ServerSourceOptions['fetch'],
  app = APP,
) {
  const client = createClient({
    persistence: createFilePersistence({ path: join(dir, `${name}.omnisync`), fsync: false }),
    onError: () => {},
  });
  const source = createServerSource({
    app,
    server: url,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    pollIntervalMs: 100,
    ...(fetch ? { fetch } : {}),
    ...options,
  });
  const todos = client.collection<Todo>({ id: 'todos', source });
  return { client, source, todos };
}

const ids = (docs: readonly { id: string }[]) => docs.map((d) => d.id).sort();

test('a source with q(…).where(ownerId = me) holds exactly my documents: pull, live, moves, deletes, restart', async () => {
  const w = open('writer');
  await w.todos.insert([
    { id: 't1', ownerId: 'u1', priority: 1 },
    { id: 't2', ownerId: 'u2', priority: 2 },
    { id: 't3', ownerId: 'u1', priority: 3 },
  ]).promise;

  const mine = [q('todos').where('ownerId', '=', 'u1')];
  const net = createNetworkSwitch();
  let r = open('mine', { queries: mine }, net.fetch);
  await r.todos.ready;
  expect(ids(r.todos.all())).toEqual(['t1', 't3']);
  // the pull asked for the query AST, not the whole collection
  expect(net.sent.find((s) => s.url.endsWith('/pull'))?.body).toMatchObject({
    queries: [{ collection: 'todos', where: { op: 'eq', field: 'ownerId', value: 'u1' } }],
  });

  await eventually(() => r.source.status.get().transport === 'websocket', 'reader live');
  await w.todos.insert({ id: 't4', ownerId: 'u1', priority: 4 }).promise;
  await w.todos.insert({ id: 't5', ownerId: 'u2', priority: 5 }).promise;
  w.todos.update('t1', { ownerId: 'u2' }); // leaves my query
  w.todos.update('t2', { ownerId: 'u1', title: 'now mine' }); // enters it, whole
  await w.todos.delete('t3').promise;
  await w.client.sync();
  await eventually(() => ids(r.todos.all()).join() === 't2,t4', 'reader has exactly its documents');
  expect(r.todos.get('t2')).toEqual({ id: 't2', ownerId: 'u1', priority: 2, title: 'now mine' });
  expect(r.client.store.base.has('todos', 't5')).toBe(false);
  expect(r.client.store.base.has('todos', 't1')).toBe(false); // dropped when it left, not kept stale

  // restart: the same documents, nothing that left comes back
  await r.client.close();
  r = open('mine', { queries: mine, WebSocket: null });
  await r.client.ready;
  expect(ids(r.todos.all())).toEqual(['t2', 't4']);
  await r.todos.ready;
  expect(ids(r.todos.all())).toEqual(['t2', 't4']);

  // a malformed query fails at creation with a typed error
  expect(() =>
    createServerSource({
      app: APP,
      server: url,
      queries: [{ collection: 'todos', where: { op: 'gt' } } as never],
    }),
  ).toThrow(QueryError);
  await r.client.close();
  await w.client.close();
});

test('scope "queries": live queries decide what syncs; a limit-ed query syncs every match of its filter', async () => {
  const w = open('writer2', {}, undefined, 'byquery');
  await w.todos.insert([
    { id: 'a', ownerId: 'u1', priority: 5 },
    { id: 'b', ownerId: 'u2', priority: 4 },
    { id: 'c', ownerId: 'u3', priority: 1 },
    { id: 'd', ownerId: 'u1', priority: 3 },
  ]).promise;
  await w.client.sync();

  const net = createNetworkSwitch();
  let r = open('by-query', { scope: 'queries' }, net.fetch, 'byquery');
  await r.todos.ready;
  expect(r.todos.all()).toEqual([]); // nothing asked for yet
  const top = liveQuery(
    r.client,
    q<Todo>('todos').where('priority', '>=', 3).orderBy('priority', 'desc').limit(1),
  );
  const unsubscribe = top.subscribe(() => {});
  await eventually(() => top.completeness === 'complete', 'the query caught up');
  expect(top.value.map((d) => d.id)).toEqual(['a']);
  // every document of the filter is here, so the window can refill
  expect(ids(r.todos.all())).toEqual(['a', 'b', 'd']);
  await w.todos.delete('a').promise;
  await eventually(() => top.value[0]?.id === 'b', 'the window refilled from synced data');

  // a second live query on another filter adds its documents (or/in)
  const other = liveQuery(
    r.client,
    q<Todo>('todos').where(op.or(op.eq('ownerId', 'u3'), op.in('id', ['zz']))),
  );
  await eventually(() => other.completeness === 'complete', 'second query caught up');
  expect(ids(r.todos.all())).toEqual(['b', 'c', 'd']);
  unsubscribe();

  // restart: the queries used before are synced again without a catch-up from cursor 0
  await r.client.close();
  net.sent.length = 0;
  r = open('by-query', { scope: 'queries' }, net.fetch, 'byquery');
  await r.todos.ready;
  expect(ids(r.todos.all())).toEqual(['b', 'c', 'd']);
  const pulls = net.sent
    .filter((s) => s.url.endsWith('/pull'))
    .map((s) => s.body as { cursor: number; queries: unknown[] });
  expect(pulls.length).toBeGreaterThan(0);
  expect(pulls.every((p) => p.cursor > 0)).toBe(true);
  expect(pulls[0]!.queries).toHaveLength(2);

  expect(() => open('wrong', { scope: 'queries', collections: ['todos'] })).toThrow(/scope "queries"/);
  await r.client.close();
  await w.client.close();
});
