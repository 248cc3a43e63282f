/**
 * Three Node clients with file persistence against the sync server running as its own
 * process: two go offline (their real network cut by a switch) and edit the same and
 * different fields, one of them restarts while offline; meanwhile the third deletes. On
 * reconnect the three replicas and the server hold the same documents, and the delete won.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type Client, createClient, createServerSource, type ServerSource } from '@omnisync/client';
import type { Collection } from '../../src/collection/collection.js';
import { createFilePersistence } from '../../src/node.js';
import {
  byId,
  createNetworkSwitch,
  eventually,
  type NetworkSwitch,
  serverDocuments,
  type ServerProcess,
  startServerProcess,
} from './helpers.js';

interface Todo {
  id: string;
  title?: string;
  done?: boolean;
  note?: string;
  [k: string]: unknown;
}

interface Peer {
  name: string;
  client: Client;
  source: ServerSource;
  todos: Collection<Todo>;
  net: NetworkSwitch;
  errors: Error[];
}

const APP = 'three';
let dir: string;
let server: ServerProcess;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'omni-three-'));
  server = await startServerProcess({ dataDir: join(dir, 'server') });
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function open(name: string, net = createNetworkSwitch()): Promise<Peer> {
  const errors: Error[] = [];
  const client = createClient({
    persistence: createFilePersistence({ path: join(dir, `${name}.omnisync`), fsync: false }),
    onError: (e) => errors.push(e),
  });
  const source = createServerSource({
    app: APP,
    server: server.url,
    fetch: net.fetch,
    WebSocket: net.WebSocket,
    pollIntervalMs: 250,
    requestTimeoutMs: 5000,
    backoff: { baseDelayMs: 20, maxDelayMs: 200 },
  });
  const todos = client.collection<Todo>({ id: 'todos', source });
  await client.ready;
  return { name, client, source, todos, net, errors };
}

const tick = () => new Promise((r) => setTimeout(r, 3));

test('two offline editors and a deleter converge with the server; the delete wins', async () => {
  let a = await open('a');
  const b = await open('b');
  const c = await open('c');

  // Seed: A writes three documents, everyone sees them.
  await a.todos.insert([
    { id: 'd1', title: 'one', done: false, note: 'n1' },
    { id: 'd2', title: 'two', done: false, note: 'n2' },
    { id: 'd3', title: 'three', done: false, note: 'n3' },
  ]).promise;
  for (const p of [a, b, c]) await p.source.sync();
  for (const p of [b, c]) expect(byId(p.todos.all())).toEqual(byId(a.todos.all()));

  // A and B go offline.
  a.net.online = false;
  b.net.online = false;
  // Same field (title) and different fields (done, note) of d1; A deletes d3 while B edits it.
  const aWrites = [a.todos.update('d1', { title: 'from A', done: true }), a.todos.delete('d3')];
  await tick();
  const bWrites = [
    b.todos.update('d1', { title: 'from B', note: 'B note' }),
    b.todos.update('d2', { title: 'B edits a doc C deletes' }),
    b.todos.update('d3', { done: true }),
  ];
  // C, online, deletes d2.
  await c.todos.delete('d2').promise;

  await eventually(() => a.source.status.get().state === 'offline', 'A reports offline');
  expect(a.source.status.get().pending).toBeGreaterThan(0);
  expect(b.todos.get('d1')).toMatchObject({ title: 'from B', note: 'B note', done: false });

  // A restarts while offline: its outbox comes back from the file and is sent later.
  const aNet = a.net;
  await a.client.close();
  expect(aWrites.every((t) => t.state !== 'completed')).toBe(true);
  a = await open('a', aNet);
  await eventually(
    () => a.todos.get('d3') === undefined && a.todos.get('d1')?.title === 'from A',
    'A recovered its offline writes',
  );

  // Back online: everyone syncs until the server and the three replicas agree.
  a.net.online = true;
  b.net.online = true;
  await Promise.all(bWrites.map((t) => t.promise));
  await eventually(() => a.source.status.get().pending === 0, 'A flushed its outbox');
  for (let round = 0; round < 2; round++) for (const p of [a, b, c]) await p.source.sync();

  const onServer = await serverDocuments(server.url, APP, 'todos');
  expect(onServer).toEqual([{ id: 'd1', title: 'from B', done: true, note: 'B note' }]);
  for (const p of [a, b, c]) expect(byId(p.todos.all())).toEqual(onServer);
  for (const p of [a, b, c]) expect(p.source.status.get()).toMatchObject({ online: true, pending: 0 });

  // The replicas' files hold the same: reopen each and compare without any network.
  for (const p of [a, b, c]) await p.client.close();
  for (const name of ['a', 'b', 'c']) {
    const net = createNetworkSwitch();
    net.online = false;
    const again = await open(name, net);
    await eventually(() => again.todos.count() > 0, `${name} loaded from its file`);
    expect(byId(again.todos.all())).toEqual(onServer);
    await again.client.close();
  }
});
