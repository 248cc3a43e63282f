/**
 * A rate-limited server (429 `rate_limited`, Retry-After): the HTTP transport waits out the
 * wait the server asked for and sends the same request again, so writes land once — never
 * lost, never applied twice. Transport tests run the real handler in process with one
 * manual clock shared by the server's limiter and the client's scheduler; the last test
 * runs a whole client against a real server on loopback.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHlc, createManualScheduler, type WireMutation } from '@omnisync/core';
import { createClient } from '@omnisync/client';
import { createServer, createSyncHandler, type SyncHandler } from '@omnisync/server';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { createHttpTransport, RATE_LIMIT_RETRIES } from '../../src/transport/http-transport.js';
import type { FetchLike } from '../../src/transport/types.js';

let dir: string;
const handlers: SyncHandler[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'omni-rl-'));
});
afterEach(async () => {
  await Promise.all(handlers.splice(0).map((h) => h.close()));
  rmSync(dir, { recursive: true, force: true });
});

const hlc = createHlc({ nodeId: 'rl_client' });
const insert = (id: string): WireMutation => {
  const stamp = hlc.now();
  return {
    id: `m_${id}`,
    changes: [
      { collection: 'todos', id, field: 'id', value: id, hlc: stamp },
      { collection: 'todos', id, field: 'title', value: `title ${id}`, hlc: stamp },
    ],
  };
};

/** The real handler behind a fetch that records every answer's status. */
function setup(push: { perSecond: number; burst: number }) {
  const clock = createManualScheduler();
  const handler = createSyncHandler({
    dataDir: dir,
    durability: 'off',
    logLevel: 'silent',
    rateLimit: { push, clock },
  });
  handlers.push(handler);
  const statuses: number[] = [];
  // A status is recorded once the transport has read the answer (for a 429: right before it
  // starts its wait, the request's own timeout already cancelled).
  const fetch: FetchLike = async (url, init) => {
    const res = await handler.fetch(new Request(url, init));
    return {
      status: res.status,
      ok: res.ok,
      headers: res.headers,
      text: async () => {
        const text = await res.text();
        statuses.push(res.status);
        return text;
      },
    };
  };
  const http = createHttpTransport({ server: 'http://sync.test', app: 'rl', fetch, scheduler: clock });
  return { clock, handler, http, statuses };
}

/** Let the transport run until it is waiting on the clock after a 429. */
async function untilWaiting(clock: { pending: number }, statuses: number[], count429: number) {
  for (let i = 0; i < 1000; i++) {
    if (statuses.filter((s) => s === 429).length >= count429 && clock.pending === 1) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error(`transport never waited (statuses ${statuses.join(',')}, timers ${clock.pending})`);
}

test('waits out a 429 for exactly the Retry-After the server asked, then the push lands once', async () => {
  const { clock, handler, http, statuses } = setup({ perSecond: 1, burst: 1 });
  expect(await http.push({ clientId: 'c1', mutations: [insert('a')] })).toMatchObject({ cursor: 1 });
  const second = insert('b');
  let done = false;
  const pushing = http.push({ clientId: 'c1', mutations: [second] }).finally(() => (done = true));
  await untilWaiting(clock, statuses, 1);
  expect(statuses).toEqual([200, 429]);
  expect(await handler.engine.head('rl')).toBe(1); // nothing of the refused push applied

  clock.advance(999);
  await new Promise((r) => setImmediate(r));
  expect(done).toBe(false);
  expect(statuses).toEqual([200, 429]);
  clock.advance(1);
  expect(await pushing).toEqual({ results: [{ id: second.id, status: 'applied' }], cursor: 2 });
  expect(statuses).toEqual([200, 429, 200]);
  // Applied once: one version per document, each cell once.
  const pulled = await http.pull({ cursor: 0 });
  expect(pulled).toMatchObject({ cursor: 2, hasMore: false });
  expect('changes' in pulled && pulled.changes.map((c) => `${c.id}.${c.field}`)).toEqual([
    'a.id',
    'a.title',
    'b.id',
    'b.title',
  ]);
});

test('a wait longer than RATE_LIMIT_MAX_WAIT_MS fails at once, with retryAfterMs for the caller; nothing applied', async () => {
  const { handler, http, statuses } = setup({ perSecond: 0.001, burst: 1 });
  await http.push({ clientId: 'c1', mutations: [insert('a')] });
  await expect(http.push({ clientId: 'c1', mutations: [insert('b')] })).rejects.toMatchObject({
    code: 'rate_limited',
    details: { status: 429, transient: true, retryAfterMs: 1_000_000 },
  });
  expect(statuses).toEqual([200, 429]);
  expect(await handler.engine.head('rl')).toBe(1);
});

test('gives up after RATE_LIMIT_RETRIES waits, reading Retry-After when the body has no wait', async () => {
  const clock = createManualScheduler();
  let calls = 0;
  let read = 0;
  const alwaysLimited: FetchLike = async () => {
    calls++;
    return {
      status: 429,
      ok: false,
      headers: new Headers({ 'retry-after': '3' }),
      text: async () => {
        read++;
        return JSON.stringify({ error: { code: 'rate_limited', message: 'slow down' } });
      },
    };
  };
  const http = createHttpTransport({
    server: 'http://sync.test',
    app: 'rl',
    fetch: alwaysLimited,
    scheduler: clock,
  });
  let settled: unknown;
  const failing = http.pull({ cursor: 0 }).catch((err: unknown) => (settled = err));
  for (let n = 1; n <= RATE_LIMIT_RETRIES; n++) {
    for (let i = 0; i < 1000 && !(read === n && clock.pending === 1); i++)
      await new Promise((r) => setImmediate(r));
    expect(calls).toBe(n);
    clock.advance(2999);
    await new Promise((r) => setImmediate(r));
    expect(calls).toBe(n); // not before the 3 s the header asked for
    clock.advance(1);
  }
  await failing;
  expect(calls).toBe(RATE_LIMIT_RETRIES + 1);
  expect(settled).toMatchObject({ code: 'rate_limited', details: { status: 429, retryAfterMs: 3000 } });
});

test('a whole client against a rate-limited server: the write refused with 429 lands once after the wait', async () => {
  // The limiter's clock moves only when a push is refused, by exactly the wait it asked for:
  // the second push is always refused, its retry (after that wait, in real time) always passes.
  const clock = createManualScheduler();
  const server = createServer({
    dataDir: join(dir, 'server'),
    durability: 'off',
    logLevel: 'silent',
    rateLimit: { push: { perSecond: 20, burst: 1 }, clock },
  });
  const { url } = await server.listen(0);
  const statuses: number[] = [];
  const counting: FetchLike = async (u, init) => {
    const res = await fetch(u, init);
    if (u.endsWith('/push')) statuses.push(res.status);
    if (res.status === 429) clock.advance(50);
    return res;
  };
  const open = (f?: FetchLike) =>
    createClient({
      app: 'rl',
      server: url,
      serverOptions: { WebSocket: null, pollIntervalMs: 60_000, ...(f ? { fetch: f } : {}) },
      onError: () => {},
    });
  const a = open(counting);
  const b = open();
  try {
    const todos = a.collection<{ id: string; title: string }>({ id: 'todos' });
    await todos.ready;
    await todos.insert({ id: 't1', title: 'first' }).promise;
    await todos.insert({ id: 't2', title: 'second' }).promise;
    await a.sync();
    expect(statuses).toEqual([200, 429, 200]);
    expect(await server.engine.head('rl')).toBe(2); // one version per document: nothing applied twice
    const other = b.collection<{ id: string; title: string }>({ id: 'todos' });
    await other.ready;
    await b.sync();
    expect(other.get('t1')).toEqual({ id: 't1', title: 'first' });
    expect(other.get('t2')).toEqual({ id: 't2', title: 'second' });
  } finally {
    await Promise.all([a.close(), b.close()]);
    await server.close();
  }
});
