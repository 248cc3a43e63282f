/**
 * Query-scoped sync against a real server (in this process, loopback HTTP + WebSocket): a
 * client that syncs `q('todos').where('ownerId', '=', me)` holds exactly those documents —
 * by pull, live, when documents move in and out, and across a restart; a client syncing by
 * its live queries (`scope: 'queries'`) gets every document matching a live query's filter
 * (a top-1 window included: limit does not filter), and the result says when it is complete;
 * a query nobody uses stops syncing after `queryTtlMs` and only its documents are forgotten.
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

test('scope "queries": a query nobody uses stops syncing after queryTtlMs and only its documents are forgotten; used again, it syncs anew', async () => {
  const app = 'ttl';
  const w = open('writer-ttl', {}, undefined, app);
  await w.todos.insert([
    { id: 'a1', ownerId: 'u1', priority: 1 },
    { id: 'a2', ownerId: 'u1', priority: 2 },
    { id: 'b1', ownerId: 'u2', priority: 1 },
    { id: 'b2', ownerId: 'u2', priority: 9 },
    { id: 'b3', ownerId: 'u2', priority: 3 },
  ]).promise;
  await w.client.sync();

  const ttl = { scope: 'queries' as const, queryTtlMs: 150 };
  const net = createNetworkSwitch();
  let r = open('reader-ttl', { ...ttl, WebSocket: net.WebSocket }, net.fetch, app);
  await r.todos.ready;
  const mineQ = q<Todo>('todos').where('ownerId', '=', 'u1');
  const theirsQ = q<Todo>('todos').where('ownerId', '=', 'u2');
  const highQ = q<Todo>('todos').where('priority', '>=', 9);
  const mine = liveQuery(r.client, mineQ);
  const theirs = liveQuery(r.client, theirsQ);
  const high = liveQuery(r.client, highQ);
  const stops = [mine, theirs, high].map((lq) => lq.subscribe(() => {}));
  await eventually(
    () => [mine, theirs, high].every((lq) => lq.completeness === 'complete'),
    'the three queries caught up',
  );
  expect(ids(r.todos.all())).toEqual(['a1', 'a2', 'b1', 'b2', 'b3']);
  // Offline, nobody uses "theirs" any more, and one of its documents gets a write that stays
  // pending: after the engine lets the live query go (1 s) and the TTL, the scope stops
  // syncing and its documents go, except b2 (high still syncs it) and b3 (a pending write
  // would confirm onto an empty base), which goes a TTL after its write settled.
  net.online = false;
  stops[1]!();
  const pendingEdit = r.todos.update('b3', { title: 'edited while released' });
  await eventually(() => !r.todos.has('b1'), 'the released scope was dropped');
  expect(r.todos.get('b2')).toEqual({ id: 'b2', ownerId: 'u2', priority: 9 });
  expect(r.todos.get('b3')).toEqual({ id: 'b3', ownerId: 'u2', priority: 3, title: 'edited while released' });
  net.online = true;
  await pendingEdit.promise;
  await eventually(() => !r.todos.has('b3'), 'the document kept for its write went after it settled');
  expect(ids(mine.value)).toEqual(['a1', 'a2']);
  // Not synced any more: a change there does not arrive; mine still does.
  await w.todos.update('b1', { priority: 7 }).promise;
  await w.todos.update('a1', { priority: 8 }).promise;
  await eventually(() => r.todos.get('a1')?.priority === 8, 'mine still syncs');
  await r.client.sync();
  expect(r.todos.has('b1')).toBe(false);

  // Restart: the dropped scope is not in the persisted list; the others are, and a
  // remembered scope nobody wants again (high, now unused) is dropped after the TTL too.
  for (const stop of stops) stop();
  await r.client.close();
  r = open('reader-ttl', ttl, undefined, app);
  await r.todos.ready;
  const mine2 = liveQuery(r.client, mineQ);
  const stopMine2 = mine2.subscribe(() => {});
  await eventually(() => !r.todos.has('b2'), 'the remembered, unwanted scope was dropped');
  expect(ids(r.todos.all())).toEqual(['a1', 'a2']);

  // Used again: its documents sync anew (a catch-up), and the result says when it is complete.
  const theirs2 = liveQuery(r.client, theirsQ);
  const stopTheirs2 = theirs2.subscribe(() => {});
  await eventually(() => theirs2.completeness === 'complete', 'the re-wanted query caught up');
  expect(ids(theirs2.value)).toEqual(['b1', 'b2', 'b3']);
  expect(r.todos.get('b1')).toEqual({ id: 'b1', ownerId: 'u2', priority: 7 });
  expect(r.todos.get('b3')?.title).toBe('edited while released');
  stopMine2();
  stopTheirs2();

  // queryTtlMs false keeps queries for good; a bad value is refused.
  expect(() => open('bad-ttl', { scope: 'queries', queryTtlMs: -1 })).toThrow(/queryTtlMs/);
  await r.client.close();
  await w.client.close();
});
