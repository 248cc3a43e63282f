/**
 * A write made offline by one build of the app and still in the outbox when the app is
 * updated (issue 13 part 6): the next build reopens the same file persistence and pushes it
 * as the schema version it was written in, so the server upcasts it; the new build's own
 * writes go as the new version. Real in-process server on loopback, real file persistence.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from '@omnisync/client';
import { createFilePersistence } from '@omnisync/client/node';
import { defineCollection, defineSchema, defineSchemaVersions, renameField } from '@omnisync/core';
import { createServer } from '@omnisync/server';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { z } from 'zod';
import { createNetworkSwitch, type NetworkSwitch, serverDocuments } from './helpers.js';

const APP = 'update';
const v1 = defineSchema({
  todos: defineCollection({ name: 'todos', schema: z.object({ title: z.string() }) }),
});
const v2 = defineSchema({
  todos: defineCollection({ name: 'todos', schema: z.object({ text: z.string() }) }),
});

let dir: string;
let url: string;
let server: ReturnType<typeof createServer>;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'omni-outbox-update-'));
  server = createServer({
    dataDir: join(dir, 'server'),
    durability: 'off',
    logLevel: 'silent',
    schema: defineSchemaVersions([
      { version: 1, schema: v1 },
      { version: 2, schema: v2, up: [renameField('todos', 'title', 'text')] },
    ]),
  });
  url = (await server.listen(0)).url;
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** One build of the app: its schema version, on the shared file persistence. */
function build(schemaVersion: number, net?: NetworkSwitch) {
  const client = createClient({
    app: APP,
    server: url,
    schemaVersion,
    persistence: createFilePersistence({ path: join(dir, 'app.omnisync'), fsync: false }),
    serverOptions: {
      WebSocket: null,
      pollIntervalMs: 60_000,
      backoff: { baseDelayMs: 20, maxDelayMs: 100 },
      ...(net ? { fetch: net.fetch } : {}),
    },
    onError: () => {},
  });
  const todos = client.collection<{ id: string; title?: string; text?: string }>({ id: 'todos' });
  return { client, todos };
}

const pushedVersions = (net: NetworkSwitch) =>
  net.sent
    .filter((r) => r.url.endsWith('/push'))
    .map((r) => (r.body as { schemaVersion?: number; mutations: { id: string }[] }).schemaVersion);

test('outbox of build v1 survives the update to v2: sent as v1 (upcast by the server), new writes as v2', async () => {
  const offline = createNetworkSwitch();
  offline.online = false;
  const old = build(1, offline);
  await old.client.ready;
  const t1 = old.todos.insert({ id: 't1', title: 'milk' });
  expect(t1.schemaVersion).toBe(1);
  await old.client.flush();
  await old.client.close();
  expect(pushedVersions(offline).filter((v) => v !== undefined)).toEqual([]);

  // The app is updated while the write waits: the new build writes version 2.
  const net = createNetworkSwitch();
  const next = build(2, net);
  await next.client.ready;
  const restored = next.client.transactions.get().find((t) => t.id === t1.id);
  expect(restored?.schemaVersion).toBe(1);
  const t2 = next.todos.insert({ id: 't2', text: 'eggs' });
  expect(t2.schemaVersion).toBe(2);
  await Promise.all([restored!.promise, t2.promise]);
  await next.client.sync();

  // One push per version, in outbox order; the server renamed the old write's field.
  expect(pushedVersions(net)).toEqual([1, 2]);
  const docs = await serverDocuments(url, APP, 'todos');
  expect(docs).toEqual(
    expect.arrayContaining([
      { id: 't1', text: 'milk' },
      { id: 't2', text: 'eggs' },
    ]),
  );
  expect(docs).toHaveLength(2);
  expect(next.todos.get('t1')).toEqual({ id: 't1', text: 'milk' });
  await next.client.close();
});
