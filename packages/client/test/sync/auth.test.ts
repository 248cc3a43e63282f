/**
 * Auth from the client's side, against the sync server process with a JWT secret: the token
 * function is called before each request and on (re)connect; a 401 makes it refresh and the
 * same request is sent again, resuming at the same cursor; a 403 (another app's token)
 * stops the source with status `error` and fails writes with NonRetriableError.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ForbiddenError, NonRetriableError } from '@omnisync/core';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createClient, createServerSource, type TokenRequest } from '@omnisync/client';
import { createNetworkSwitch, eventually, type ServerProcess, startServerProcess } from './helpers.js';

const SECRET = 'client-auth-test-secret-0123456789abcdef';
const APP = 'authapp';
let dir: string;
let server: ServerProcess;

const jwt = (app: string, expiresInSec: number) =>
  new SignJWT({ app })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('user-1')
    .setExpirationTime(Math.floor(Date.now() / 1000) + expiresInSec)
    .sign(new TextEncoder().encode(SECRET));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'omni-auth-'));
  server = await startServerProcess({ dataDir: dir, authSecret: SECRET });
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function peer(auth: (r: TokenRequest) => Promise<string>, withLive = true) {
  const net = createNetworkSwitch();
  const errors: Error[] = [];
  const client = createClient({ onError: (e) => errors.push(e) });
  const source = createServerSource({
    app: APP,
    server: server.url,
    auth,
    fetch: net.fetch,
    WebSocket: withLive ? net.WebSocket : null,
    pollIntervalMs: 200,
    backoff: { baseDelayMs: 20, maxDelayMs: 200 },
  });
  const todos = client.collection<{ id: string; title: string }>({ id: 'todos', source });
  return { client, source, todos, net, errors };
}

test('an expired token is refreshed after a 401 and the pull resumes at the same cursor', async () => {
  const writer = peer(async () => jwt(APP, 3600), false);
  await writer.todos.insert({ id: 'w1', title: 'first' }).promise;

  let expired = false;
  const calls: TokenRequest[] = [];
  const reader = peer(async (req) => {
    calls.push(req);
    return expired && !req.refresh ? jwt(APP, -120) : jwt(APP, 3600);
  }, false);
  await reader.source.sync();
  expect(reader.todos.get('w1')).toBeDefined();
  const cursor = reader.source.status.get().cursor!;
  expect(cursor).toBeGreaterThan(0);

  // The session "expires": the token function hands out the stale token until asked to refresh.
  expired = true;
  await writer.todos.insert({ id: 'w2', title: 'second' }).promise;
  const before = reader.net.sent.length;
  calls.length = 0;
  await reader.source.sync();
  const pulls = reader.net.sent.slice(before).filter((r) => r.url.endsWith('/pull'));
  expect(pulls[0]).toMatchObject({ status: 401, body: { cursor } });
  expect(pulls[1]).toMatchObject({ status: 200, body: { cursor } });
  expect(calls.slice(0, 2)).toEqual([{ refresh: false }, { refresh: true }]);
  expect(reader.todos.get('w2')).toEqual({ id: 'w2', title: 'second' });
  expect(reader.source.status.get()).toMatchObject({ state: 'online' });
  await writer.client.close();
  await reader.client.close();
});

test('the live connection refreshes a refused token on reconnect and carries changes again', async () => {
  const writer = peer(async () => jwt(APP, 3600), false);
  let refreshes = 0;
  let stale = true;
  // The first hello carries an expired token: the server closes with 4001, the client asks
  // for a fresh token and reconnects at once.
  const reader = peer(async (req) => {
    if (req.refresh) {
      refreshes++;
      stale = false;
    }
    return stale ? jwt(APP, -120) : jwt(APP, 3600);
  });
  await eventually(
    () => reader.source.status.get().transport === 'websocket',
    'live connection up after a refresh',
  );
  expect(refreshes).toBeGreaterThan(0);
  await writer.todos.insert({ id: 'live1', title: 'pushed live' }).promise;
  await eventually(() => reader.todos.get('live1') !== undefined, 'live change arrives');
  await writer.client.close();
  await reader.client.close();
});

test("another app's token: 403 → status error, writes fail with NonRetriableError and roll back", async () => {
  const p = peer(async () => jwt('some-other-app', 3600));
  const sync = p.source.sync().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(await sync).toBeInstanceOf(ForbiddenError);
  expect(p.source.status.get()).toMatchObject({ state: 'error', online: true });
  expect(p.source.status.get().error).toBeInstanceOf(ForbiddenError);
  expect(p.errors.some((e) => e instanceof ForbiddenError)).toBe(true);

  const tx = p.todos.insert({ id: 'nope', title: 'not allowed' });
  await tx.promise.catch(() => {});
  expect(tx.state).toBe('failed');
  expect(tx.error?.error).toBeInstanceOf(NonRetriableError);
  expect(tx.error?.message).toMatch(/not "authapp"|for app/);
  expect(p.todos.get('nope')).toBeUndefined();
  await p.client.close();
});
