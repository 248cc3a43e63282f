/**
 * The server source's status on fake time: the real sync handler in process, reached through
 * a fetch that the test can cut (requests then fail as an unplugged cable does).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createManualScheduler, effect, type ManualScheduler, NonRetriableError } from '@omnisync/core';
import { createSyncHandler, type SyncHandler } from '@omnisync/server';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createClient, createServerSource, type ServerSyncStatus } from '@omnisync/client';
import type { FetchLike } from '../../src/transport/types.js';

let dir: string;
let handler: SyncHandler;
let scheduler: ManualScheduler;
let online: boolean;
let requests: string[];
/** While set, requests wait for it (an answer in flight). */
let gate: Promise<void> | undefined;

const fetchVia: FetchLike = async (url, init) => {
  if (!online) throw new TypeError('fetch failed (cut by the test)');
  requests.push(url.split('/').pop()!);
  const res = await handler.fetch(new Request(url, init));
  if (gate) await gate;
  return res;
};

/** Let the handler and the client's promise chains finish (no time passes). */
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
};
const advance = async (ms: number, step = 100) => {
  for (let t = 0; t < ms; t += step) {
    scheduler.advance(Math.min(step, ms - t));
    await settle();
  }
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'omni-status-'));
  handler = createSyncHandler({
    dataDir: dir,
    durability: 'off',
    logLevel: 'silent',
    authorize: (_ctx, req) => !(req.op === 'write' && req.id === 'locked'),
  });
  scheduler = createManualScheduler();
  online = true;
  requests = [];
  gate = undefined;
});
afterEach(async () => {
  await handler.close();
  rmSync(dir, { recursive: true, force: true });
});

const ungated: FetchLike = (url, init) => handler.fetch(new Request(url, init));

function setup(fetch: FetchLike = fetchVia) {
  const client = createClient({ scheduler, onError: () => {} });
  const source = createServerSource({
    app: 'status',
    server: 'http://sync.test',
    fetch,
    WebSocket: null,
    pollIntervalMs: 1000,
    requestTimeoutMs: 2000,
    backoff: { baseDelayMs: 500, maxDelayMs: 4000, jitter: 0 },
  });
  const todos = client.collection<{ id: string; title: string }>({ id: 'todos', source });
  return { client, source, todos };
}

describe('server source status (fake time)', () => {
  test('online → offline with the pending count → partitioned after a minute → online, outbox flushed', async () => {
    const { client, source, todos } = setup();
    const seen: ServerSyncStatus[] = [];
    const stop = effect(() => void seen.push(source.status.get()));
    await advance(100);
    expect(source.status.get()).toMatchObject({ state: 'online', online: true, pending: 0, cursor: 0 });

    online = false;
    const t1 = todos.insert({ id: 'a', title: 'written offline' });
    const t2 = todos.insert({ id: 'b', title: 'also offline' });
    await advance(1000);
    const offline = source.status.get();
    expect(offline).toMatchObject({ state: 'offline', online: false, pending: 2, partitioned: false });
    const since = offline.offlineSince!;
    expect(offline.error?.code).toBe('network');
    // The kernel keeps waiting (no retry budget spent): the source holds the writes.
    expect([t1.state, t2.state]).toEqual(['persisting', 'persisting']);

    await advance(60_000 - (scheduler.now() - since) - 100);
    expect(source.status.get().partitioned).toBe(false);
    await advance(200);
    expect(source.status.get()).toMatchObject({ state: 'offline', partitioned: true, offlineSince: since });

    online = true;
    await advance(5000);
    expect(source.status.get()).toMatchObject({
      state: 'online',
      online: true,
      partitioned: false,
      pending: 0,
    });
    expect(source.status.get().offlineSince).toBeUndefined();
    expect([t1.state, t2.state]).toEqual(['completed', 'completed']);
    // Both went out in one push.
    expect(requests.filter((r) => r === 'push')).toHaveLength(1);
    expect(seen.some((s) => s.state === 'syncing')).toBe(true);
    stop.stop?.();
    await client.close();
  });

  test('sync() on demand skips the backoff and rejects while unreachable', async () => {
    const { client, source } = setup();
    await advance(100);
    online = false;
    await advance(3000);
    const failed = source.sync().then(
      () => undefined,
      (e: unknown) => e,
    );
    await settle();
    expect(await failed).toMatchObject({ code: 'network' });
    online = true;
    const ok = source.sync();
    await settle();
    await advance(100);
    await expect(ok).resolves.toBeUndefined();
    expect(source.status.get().state).toBe('online');
    await client.close();
  });

  test('sync() called while a pull is in flight waits for a pull sent after it', async () => {
    const { client, source } = setup();
    const other = setup(ungated);
    await advance(100);
    let release!: () => void;
    gate = new Promise((r) => (release = r));
    await advance(1000); // the poll timer sends a pull; its answer is held at the gate
    expect(requests.at(-1)).toBe('pull');
    gate = undefined;
    // Written on the server after that pull was answered: only a later pull can bring it.
    const late = other.todos.insert({ id: 'late', title: 'after the first pull' });
    await advance(300);
    expect(late.state).toBe('completed');
    let done = false;
    const synced = source.sync().then(() => (done = true));
    release();
    await advance(100);
    expect(done).toBe(true);
    await synced;
    expect(client.getCollection<{ id: string; title: string }>('todos')!.get('late')).toEqual({
      id: 'late',
      title: 'after the first pull',
    });
    await client.close();
    await other.client.close();
  });

  test('a batch refused as too large is split; a single write too large fails alone', async () => {
    await handler.close();
    handler = createSyncHandler({ dataDir: dir, durability: 'off', logLevel: 'silent', maxBodyBytes: 2500 });
    const { client, todos } = setup();
    await advance(100);
    const text = (n: number) => 'x'.repeat(n);
    const a = todos.insert({ id: 'a', title: text(1000) });
    const b = todos.insert({ id: 'b', title: text(1000) });
    const huge = todos.insert({ id: 'huge', title: text(4000) });
    const c = todos.insert({ id: 'c', title: text(10) });
    await advance(1000);
    expect([a.state, b.state, c.state]).toEqual(['completed', 'completed', 'completed']);
    expect(huge.state).toBe('failed');
    expect(huge.error?.error).toBeInstanceOf(NonRetriableError);
    expect(huge.error?.message).toMatch(/over the limit/);
    expect(todos.get('huge')).toBeUndefined();
    // One refused batch of four, then one push each.
    expect(requests.filter((r) => r === 'push')).toHaveLength(5);
    await client.close();
  });

  test('a write the server rejects fails with NonRetriableError carrying the reason, and rolls back', async () => {
    const { client, todos } = setup();
    await advance(100);
    const ok = todos.insert({ id: 'fine', title: 'accepted' });
    const refused = todos.insert({ id: 'locked', title: 'refused by authorize' });
    expect(todos.get('locked')).toBeDefined();
    await advance(300);
    expect(ok.state).toBe('completed');
    expect(refused.state).toBe('failed');
    expect(refused.error?.error).toBeInstanceOf(NonRetriableError);
    expect(refused.error?.message).toMatch(/forbidden: You may not write todos\/locked/);
    expect(todos.get('locked')).toBeUndefined();
    expect(todos.get('fine')).toEqual({ id: 'fine', title: 'accepted' });
    await client.close();
  });
});
