/**
 * A client whose schema version the server cannot upcast (issue 13 part 6), against a real
 * in-process server on loopback: the push is refused with `schema_outdated`, the client
 * surfaces a SchemaOutdatedError that says to update the app, keeps its outbox (the writes
 * are not rolled back), and pushes them once the server can take them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createClient,
  createServerSource,
  SchemaOutdatedError,
  type WebSocketConstructor,
} from '@omnisync/client';
import {
  defineCollection,
  defineSchema,
  defineSchemaVersions,
  renameField,
  type SchemaVersions,
} from '@omnisync/core';
import { createServer } from '@omnisync/server';
import { afterEach, expect, test } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import { eventually, serverDocuments } from './helpers.js';

const APP = 'evo';
const v2 = defineSchema({
  todos: defineCollection({ name: 'todos', schema: z.object({ text: z.string() }) }),
});

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.reverse()) await c();
  cleanup = [];
});

async function serve(dir: string, schema: SchemaVersions, port = 0) {
  const server = createServer({ dataDir: dir, durability: 'off', logLevel: 'silent', schema });
  const { url } = await server.listen(port);
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await server.close();
  };
  cleanup.push(close);
  return { url, port: Number(new URL(url).port), close };
}

function peer(url: string, schemaVersion: number) {
  const errors: Error[] = [];
  const client = createClient({ onError: (e) => errors.push(e) });
  const source = createServerSource({
    app: APP,
    server: url,
    schemaVersion,
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    pollIntervalMs: 100,
    requestTimeoutMs: 3000,
    backoff: { baseDelayMs: 20, maxDelayMs: 200 },
  });
  const todos = client.collection<{ id: string; title?: string; text?: string }>({ id: 'todos', source });
  cleanup.push(() => client.close());
  return { client, source, todos, errors };
}

const tmp = () => {
  const dir = mkdtempSync(join(tmpdir(), 'omni-schema-outdated-'));
  cleanup.push(async () => rmSync(dir, { recursive: true, force: true }));
  return dir;
};

/** The chain of a server updated to version 2 (title renamed to text), reaching back to 1. */
const versionsOneToTwo = () =>
  defineSchemaVersions([
    { version: 1 },
    { version: 2, schema: v2, up: [renameField('todos', 'title', 'text')] },
  ]);

test('too old: SchemaOutdatedError says "update", the outbox is kept, and the writes go once the server can upcast them', async () => {
  const dir = tmp();
  // The server dropped version 1 from its chain.
  const s1 = await serve(dir, defineSchemaVersions([{ version: 2, schema: v2 }]));
  const old = peer(s1.url, 1);
  const tx = old.todos.insert({ id: 't1', title: 'milk' });
  let settled = false;
  void tx.promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await eventually(() => old.source.status.get().state === 'error', 'the push refused');
  const error = old.source.status.get().error;
  expect(error).toBeInstanceOf(SchemaOutdatedError);
  expect(error?.code).toBe('schema_outdated');
  expect(error?.message).toMatch(/Update the app/);
  expect(old.errors.some((e) => e instanceof SchemaOutdatedError)).toBe(true);
  // Kept, not rolled back: still pending, still shown, nothing on the server.
  expect(old.source.status.get().pending).toBe(1);
  expect(settled).toBe(false);
  expect(tx.state).not.toBe('failed');
  expect(old.todos.get('t1')?.title).toBe('milk');
  expect(await serverDocuments(s1.url, APP, 'todos')).toEqual([]);
  // sync() tries once more and is refused the same way (the writes still stay).
  await expect(old.source.sync()).rejects.toBeInstanceOf(SchemaOutdatedError);
  expect(old.source.status.get().pending).toBe(1);

  // The server is updated to a chain that reaches back to version 1 (same data, same port).
  await s1.close();
  const s2 = await serve(dir, versionsOneToTwo(), s1.port);
  // (The first request may meet a connection the closed server dropped: the source retries.)
  await old.source.sync().catch(() => undefined);
  await tx.promise;
  expect(old.source.status.get().pending).toBe(0);
  expect(await serverDocuments(s2.url, APP, 'todos')).toEqual([{ id: 't1', text: 'milk' }]);
});

test('newer than the server: refused until the server is on that version, then pushed as is', async () => {
  const dir = tmp();
  const s1 = await serve(dir, defineSchemaVersions([{ version: 1 }]));
  const next = peer(s1.url, 2);
  const tx = next.todos.insert({ id: 'n1', text: 'eggs' });
  await eventually(() => next.source.status.get().error instanceof SchemaOutdatedError, 'refused');
  expect(next.source.status.get().error?.message).toMatch(/server is still on version 1/);
  // A new write gets one try of its own: refused again, and both stay.
  const tx2 = next.todos.insert({ id: 'n2', text: 'ham' });
  await eventually(() => next.source.status.get().pending === 2, 'both pending');
  await new Promise((r) => setTimeout(r, 100));
  expect(next.source.status.get().state).toBe('error');
  expect(await serverDocuments(s1.url, APP, 'todos')).toEqual([]);

  await s1.close();
  const s2 = await serve(dir, versionsOneToTwo(), s1.port);
  await next.source.sync().catch(() => undefined);
  await Promise.all([tx.promise, tx2.promise]);
  expect(await serverDocuments(s2.url, APP, 'todos')).toEqual([
    { id: 'n1', text: 'eggs' },
    { id: 'n2', text: 'ham' },
  ]);
});

test('schemaVersion must be an integer ≥ 1', () => {
  for (const bad of [0, 1.5, -1, Number.NaN])
    expect(() => createServerSource({ app: APP, server: 'http://127.0.0.1:1', schemaVersion: bad })).toThrow(
      /schemaVersion must be an integer/,
    );
  // createClient passes it on to its server source.
  expect(() => createClient({ app: APP, server: 'http://127.0.0.1:1', schemaVersion: 0 })).toThrow(
    /schemaVersion must be an integer/,
  );
});
