/**
 * Seed 002 "Snapshot (full sync): replace local store contents, update cursor", against a
 * real server in this process: a client offline while documents are deleted (and, for a
 * query-scoped client, moved out of its query) and the server compacts its change log gets
 * `reset` on reconnect, snapshots, and the vanished documents are gone — in memory and after
 * a restart (file persistence); its pending local writes are not lost. With tombstones kept
 * (the default) an offline edit of a deleted document loses to the delete everywhere; with
 * `dropTombstones` it re-creates the document (the hazard that option documents).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import WebSocket from 'ws';
import { q } from '@omnisync/core';
import { createServer } from '@omnisync/server';
import {
  createClient,
  createServerSource,
  type ServerSourceOptions,
  type WebSocketConstructor,
} from '@omnisync/client';
import { createFilePersistence } from '../../src/node.js';
import { byId, createNetworkSwitch, eventually, type NetworkSwitch, serverDocuments } from './helpers.js';

let dir: string;
let server: ReturnType<typeof createServer>;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'omni-snapshot-'));
  server = createServer({ dataDir: join(dir, 'server'), durability: 'off', logLevel: 'silent' });
  url = (await server.listen(0)).url;
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

type Todo = { id: string; ownerId?: string; title?: string; n?: number };

function open(app: string, name: string, net?: NetworkSwitch, options: Partial<ServerSourceOptions> = {}) {
  const client = createClient({
    persistence: createFilePersistence({ path: join(dir, `${name}.omnisync`), fsync: false }),
    onError: () => {},
  });
  const source = createServerSource({
    app,
    server: url,
    WebSocket: (net?.WebSocket ?? WebSocket) as unknown as WebSocketConstructor,
    ...(net ? { fetch: net.fetch } : {}),
    pollIntervalMs: 100,
    requestTimeoutMs: 2000,
    backoff: { baseDelayMs: 20, maxDelayMs: 200 },
    ...options,
  });
  const todos = client.collection<Todo>({ id: 'todos', source });
  return { client, source, todos };
}

/** Compact the change log up to the head (and every tombstone so far, with `dropTombstones`). */
async function compactAll(app: string, dropTombstones = false) {
  const head = await server.engine.head(app);
  const gc = await server.engine.gc(app, { olderThanVersion: head + 1, dropTombstones });
  expect(gc.horizon).toBe(head);
}

const resets = (net: NetworkSwitch) =>
  net.sent.filter((s) => s.url.endsWith('/snapshot') && (s.status ?? 0) < 300).length;

test.each([
  { mode: 'tombstones kept (default gc)', dropTombstones: false },
  { mode: 'tombstones dropped (gc dropTombstones)', dropTombstones: true },
])(
  'after reset the snapshot replaces the base: deleted-and-compacted documents are gone, also after a restart; pending writes survive — $mode',
  async ({ dropTombstones }) => {
    const app = `replace-${dropTombstones ? 'drop' : 'keep'}`;
    const w = open(app, `w1-${app}`);
    await w.todos.insert([
      { id: 'a', title: 'to delete' },
      { id: 'b', title: 'to edit', n: 1 },
      { id: 'c', title: 'deleted there, edited here', n: 2 },
      { id: 'd', title: 'stays' },
    ]).promise;

    const net = createNetworkSwitch();
    let r = open(app, `r1-${app}`, net);
    await eventually(() => r.todos.all().length === 4, 'reader synced');
    await r.client.flush();

    net.online = false; // the reader is offline from here
    const edit = r.todos.update('c', { title: 'edited offline' });
    const insert = r.todos.insert({ id: 'r1', title: 'written offline' });

    await w.todos.delete('a').promise;
    await w.todos.delete('c').promise;
    await w.todos.update('b', { n: 10 }).promise;
    await w.todos.insert({ id: 'e', title: 'new' }).promise;
    await compactAll(app, dropTombstones);

    net.online = true;
    await r.source.sync();
    await edit.promise;
    await insert.promise;
    await r.source.sync();
    expect(resets(net)).toBeGreaterThan(0); // it went through reset → snapshot
    // …once: no reset → resubscribe → reset loop on the live socket, no pull storm
    expect(resets(net)).toBe(1);
    expect(net.sent.filter((s) => s.url.endsWith('/pull')).length).toBeLessThan(30);
    const expected = await serverDocuments(url, app, 'todos');
    if (dropTombstones) {
      expect(expected.map((d) => d.id)).toEqual(['b', 'c', 'd', 'e', 'r1']);
      // The pending edit of c was pushed (re-creating it: its tombstone was gone) and is not lost;
      // the snapshot rebuilt c from the server, without the fields of the deleted document.
      expect(expected.find((d) => d.id === 'c')).toEqual({ id: 'c', title: 'edited offline' });
    } else {
      // Delete wins: the server kept c's tombstone, dropped the offline edit and answered it
      // with the tombstone, which reaches the reader after its snapshot.
      expect(expected.map((d) => d.id)).toEqual(['b', 'd', 'e', 'r1']);
      await eventually(() => r.todos.get('c') === undefined, 'the reader sees c deleted');
    }
    expect(byId(r.todos.all())).toEqual(expected);
    expect(r.client.store.base.has('todos', 'a')).toBe(false);
    await w.client.sync();
    if (dropTombstones) {
      // The writer, which saw c's delete, keeps it deleted: the tombstone it holds wins there.
      // Dropping tombstones that an offline client may still write to is the hazard
      // `dropTombstones` documents (choose the horizon from deviceCursors).
      expect(byId(w.todos.all()).filter((d) => d.id !== 'c')).toEqual(expected.filter((d) => d.id !== 'c'));
    } else {
      expect(byId(w.todos.all())).toEqual(expected); // every replica agrees
    }

    // restart: nothing forgotten comes back from the reader's persistence
    await r.client.close();
    r = open(app, `r1-${app}`, undefined, { WebSocket: null });
    await r.client.ready;
    expect(byId(r.todos.all())).toEqual(expected);
    await r.todos.ready;
    expect(byId(r.todos.all())).toEqual(expected);
    await r.client.close();
    await w.client.close();
  },
);

test('a query-scoped client forgets documents that left its query while it was away past the horizon', async () => {
  const app = 'replace-scoped';
  const w = open(app, 'w2');
  await w.todos.insert([
    { id: 'x', ownerId: 'u1', title: 'moves to u2' },
    { id: 'y', ownerId: 'u1', title: 'stays mine' },
    { id: 'z', ownerId: 'u1', title: 'mine, with a pending edit here' },
  ]).promise;

  const net = createNetworkSwitch();
  const mine = { queries: [q('todos').where('ownerId', '=', 'u1')] };
  let r = open(app, 'r2', net, mine);
  await eventually(() => r.todos.all().length === 3, 'reader synced');
  await r.client.flush();

  net.online = false;
  const pending = r.todos.update('z', { title: 'edited offline' });
  await w.todos.update('x', { ownerId: 'u2' }).promise;
  await w.todos.update('z', { ownerId: 'u2' }).promise; // leaves the query too, but it has a pending edit here
  await w.todos.insert({ id: 'v', ownerId: 'u1', title: 'new of mine' }).promise;
  await w.todos.insert({ id: 'o', ownerId: 'u3', title: 'not mine' }).promise;
  await compactAll(app);

  net.online = true;
  await r.source.sync();
  await pending.promise;
  await r.source.sync();
  expect(resets(net)).toBeGreaterThan(0);
  expect(
    r.todos
      .all()
      .map((d) => d.id)
      .sort(),
  ).toEqual(['v', 'y']);
  // z's edit reached the server (it moved to u2 there, so it is no longer this client's)
  const onServer = await serverDocuments(url, app, 'todos');
  expect(onServer.find((d) => d.id === 'z')).toEqual({ id: 'z', ownerId: 'u2', title: 'edited offline' });

  await r.client.close();
  r = open(app, 'r2', undefined, { ...mine, WebSocket: null });
  await r.client.ready;
  expect(
    r.todos
      .all()
      .map((d) => d.id)
      .sort(),
  ).toEqual(['v', 'y']);
  await r.client.close();
  await w.client.close();
});
