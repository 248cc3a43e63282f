/**
 * `createClient({ app, server })`: collections without a source of their own sync with the
 * OmniSync server; `client.sync()` pushes and pulls on demand; bad options are refused.
 * The server runs in this process (createServer on a random loopback port); live is off,
 * so only `sync()` moves data and the test says exactly when it happens.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createServer } from '@omnisync/server';
import { createClient } from '@omnisync/client';

let dir: string;
let server: ReturnType<typeof createServer>;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'omni-cc-'));
  server = createServer({ dataDir: join(dir, 'server'), durability: 'off', logLevel: 'silent' });
  url = (await server.listen(0)).url;
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

type Todo = { id: string; title: string; done: boolean };
const open = () =>
  createClient({
    app: 'cc',
    server: url,
    serverOptions: { WebSocket: null, pollIntervalMs: 60_000 },
    onError: () => {},
  });

test('collections use the server source by default, and client.sync() moves data on demand', async () => {
  const a = open();
  const b = open();
  expect(a.server).toBeDefined();
  const aTodos = a.collection<Todo>({ id: 'todos' });
  const bTodos = b.collection<Todo>({ id: 'todos' });
  expect(aTodos.source).toBe(a.server);
  await Promise.all([aTodos.ready, bTodos.ready]);

  await aTodos.insert({ id: 't1', title: 'from a', done: false }).promise;
  expect(bTodos.get('t1')).toBeUndefined();
  await b.sync();
  expect(bTodos.get('t1')).toEqual({ id: 't1', title: 'from a', done: false });

  await bTodos.update('t1', { done: true }).promise;
  await a.sync();
  expect(aTodos.get('t1')).toEqual({ id: 't1', title: 'from a', done: true });
  await Promise.all([a.close(), b.close()]);
});

test('server without app, or app/auth without server, is refused with a typed error', () => {
  expect(() => createClient({ server: url })).toThrow(expect.objectContaining({ code: 'invalid_input' }));
  expect(() => createClient({ app: 'x' })).toThrow(expect.objectContaining({ code: 'invalid_input' }));
});
