/**
 * One server source serving several collections, some registered after it synced: a later
 * collection gets its whole history (tombstones included) before it is covered by the
 * shared cursor, live changes reach every collection, and the covered set survives a restart.
 * The server runs in this process (createServer on a random loopback port).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import WebSocket from 'ws';
import { createServer } from '@omnisync/server';
import { createClient, createServerSource, type WebSocketConstructor } from '@omnisync/client';
import { createFilePersistence } from '../../src/node.js';
import { byId, eventually } from './helpers.js';

const APP = 'multi';
let dir: string;
let server: ReturnType<typeof createServer>;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'omni-multi-'));
  server = createServer({ dataDir: join(dir, 'server'), durability: 'off', logLevel: 'silent' });
  url = (await server.listen(0)).url;
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

type Row = { id: string; name: string };

function open(name: string) {
  const client = createClient({
    persistence: createFilePersistence({ path: join(dir, `${name}.omnisync`), fsync: false }),
    onError: () => {},
  });
  const source = createServerSource({
    app: APP,
    server: url,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    pollIntervalMs: 100,
  });
  return { client, source };
}

test('a collection registered later gets its history, then live changes; the set survives a restart', async () => {
  const w = open('writer');
  const wTodos = w.client.collection<Row>({ id: 'todos', source: w.source });
  const wLists = w.client.collection<Row>({ id: 'lists', source: w.source });
  await wTodos.insert({ id: 't1', name: 'todo' }).promise;
  await wLists.insert([
    { id: 'l1', name: 'groceries' },
    { id: 'l2', name: 'to be deleted' },
  ]).promise;
  await wLists.delete('l2').promise;

  const r = open('reader');
  const rTodos = r.client.collection<Row>({ id: 'todos', source: r.source });
  await r.source.sync();
  expect(rTodos.all()).toEqual([{ id: 't1', name: 'todo' }]);
  await eventually(() => r.source.status.get().transport === 'websocket', 'reader live');

  // Registered after the source synced: nothing asks for it, the source notices on its own.
  const rLists = r.client.collection<Row>({ id: 'lists', source: r.source });
  await eventually(() => rLists.count() === 1, 'lists caught up');
  expect(rLists.all()).toEqual([{ id: 'l1', name: 'groceries' }]);

  // Live for both collections once the socket resubscribed.
  await eventually(() => r.source.status.get().transport === 'websocket', 'reader live again');
  wLists.update('l1', { name: 'groceries (live)' });
  wTodos.update('t1', { name: 'todo (live)' });
  await eventually(
    () => rLists.get('l1')?.name === 'groceries (live)' && rTodos.get('t1')?.name === 'todo (live)',
    'live changes in both collections',
  );
  await w.client.flush();
  await eventually(
    async () => r.source.status.get().cursor === (await server.engine.head(APP)),
    'cursor at head',
  );
  await r.client.close();

  // Restart: both collections are known to be covered; a change made meanwhile arrives by cursor.
  await wLists.insert({ id: 'l3', name: 'while the reader was away' }).promise;
  const again = open('reader');
  const aTodos = again.client.collection<Row>({ id: 'todos', source: again.source });
  const aLists = again.client.collection<Row>({ id: 'lists', source: again.source });
  await again.source.sync();
  expect(byId(aLists.all())).toEqual([
    { id: 'l1', name: 'groceries (live)' },
    { id: 'l3', name: 'while the reader was away' },
  ]);
  expect(aTodos.all()).toEqual([{ id: 't1', name: 'todo (live)' }]);
  await again.client.close();
  await w.client.close();
});
