/**
 * Bad input for the sync loop: a server answering garbage (a real loopback HTTP server) and a
 * network cut mid-flush (the push reaches the real server, the answer is lost). Each gives a
 * typed OmniSyncError, leaves the outbox as it was, and is retried with backoff (manual
 * scheduler: the waits are read off the scheduler, never off the wall clock).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backoffDelay, createHttpTransport, type FetchLike, resolveBackoff } from '@omnisync/client';
import { createManualScheduler, OmniSyncError, seededRandom } from '@omnisync/core';
import { createDexieSync } from '@omnisync/dexie';
import { eventually, inProcessServer, serverDocuments } from '../../client/test/sync/helpers.js';
import { openDevice } from './helpers.js';

const real = inProcessServer('omnisync-dexie-errors-');

/** What the front server answers: garbage of some kind, or the real server's answer. */
let mode: 'proxy' | 'html' | 'wrong-shape' | 'mismatched-results' = 'proxy';
let front: Server;
let frontUrl = '';

beforeAll(async () => {
  front = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (mode === 'html')
        return res.writeHead(200, { 'content-type': 'text/html' }).end('<html>oops</html>');
      if (mode === 'wrong-shape')
        return res.writeHead(200, { 'content-type': 'application/json' }).end('{"results":"all good"}');
      if (mode === 'mismatched-results')
        return res
          .writeHead(200, { 'content-type': 'application/json' })
          .end('{"results":[{"id":"someone-else","status":"applied"}],"cursor":1}');
      void fetch(real.url + req.url, {
        method: 'POST',
        headers: req.headers as Record<string, string>,
        body,
      }).then(async (r) =>
        res.writeHead(r.status, { 'content-type': 'application/json' }).end(await r.text()),
      );
    });
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  frontUrl = `http://127.0.0.1:${(front.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => front.close(() => resolve())));

let app = 0;

describe('sync loop bad input', () => {
  for (const garbage of ['html', 'wrong-shape', 'mismatched-results'] as const) {
    it(`a server answering garbage (${garbage}): typed protocol_invalid, outbox intact`, async () => {
      const { db, bridge } = openDevice();
      const sync = createDexieSync(bridge, { server: frontUrl, app: `errors-${app++}` });
      await db.table('todos').put({ id: 'g', title: 'kept' });
      const before = await bridge.outbox();
      mode = garbage;
      try {
        const err = await sync.flush().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(OmniSyncError);
        expect((err as OmniSyncError).code).toBe('protocol_invalid');
      } finally {
        mode = 'proxy';
      }
      expect(await bridge.outbox()).toEqual(before);
      await sync.flush();
      expect(await bridge.outbox()).toEqual([]);
    });
  }

  it('the started loop backs off after garbage (growing waits) and delivers once the server answers', async () => {
    const appId = `errors-${app++}`;
    const { db, bridge } = openDevice();
    const scheduler = createManualScheduler();
    const backoff = { baseDelayMs: 1000, maxDelayMs: 60_000, factor: 2, jitter: 0.5 };
    const errors: OmniSyncError[] = [];
    const sync = createDexieSync(bridge, {
      server: frontUrl,
      app: appId,
      scheduler,
      random: seededRandom(7),
      backoff,
      onError: (e) => errors.push(e),
    });
    const expected = seededRandom(7);
    const policy = resolveBackoff(backoff);
    await db.table('todos').put({ id: 'b', title: 'eventually delivered' });
    mode = 'html';
    sync.start();
    try {
      scheduler.advance(0);
      await eventually(() => errors.length === 1, 'the first failed round');
      const first = backoffDelay(policy, 1, expected);
      expect(sync.status).toMatchObject({ failures: 1, retryInMs: first });
      expect(sync.status.lastError?.code).toBe('protocol_invalid');
      scheduler.advance(first - 1);
      await new Promise((r) => setTimeout(r, 50));
      expect(errors.length).toBe(1); // not retried before the wait is over
      scheduler.advance(1);
      await eventually(() => errors.length === 2, 'the second failed round');
      const second = backoffDelay(policy, 2, expected);
      expect(sync.status).toMatchObject({ failures: 2, retryInMs: second });
      expect(second).toBeGreaterThan(first);
      expect((await bridge.outbox()).length).toBe(1);
      mode = 'proxy';
      scheduler.advance(second);
      await eventually(async () => (await bridge.outbox()).length === 0, 'the outbox flushed');
      await eventually(() => sync.status.failures === 0, 'a successful round');
      expect(await serverDocuments(real.url, appId, 'todos')).toEqual([
        { id: 'b', title: 'eventually delivered' },
      ]);
    } finally {
      mode = 'proxy';
      sync.stop();
    }
  });

  it('a network cut mid-flush (push applied, answer lost): typed network error, outbox intact, applied once', async () => {
    const appId = `errors-${app++}`;
    const { db, bridge } = openDevice();
    let cut = false;
    const pushes: unknown[] = [];
    const cutting: FetchLike = async (url, init) => {
      if (url.endsWith('/push')) pushes.push(JSON.parse(init.body as string));
      const res = await fetch(url, init);
      if (cut && url.endsWith('/push')) {
        await res.text();
        throw new TypeError('socket hang up (the test cut the network after the server answered)');
      }
      return res;
    };
    const sync = createDexieSync(bridge, { server: real.url, app: appId, fetch: cutting });
    await db.table('todos').bulkPut([
      { id: 'c1', title: 'one' },
      { id: 'c2', title: 'two' },
    ]);
    const before = await bridge.outbox();
    cut = true;
    const err = await sync.flush().catch((e: unknown) => e);
    cut = false;
    expect(err).toBeInstanceOf(OmniSyncError);
    expect((err as OmniSyncError).code).toBe('network');
    expect(await bridge.outbox()).toEqual(before);
    // The server did apply it: the answer was what got lost.
    const http = createHttpTransport({ server: real.url, app: appId });
    const afterCut = await http.pull({ cursor: 0 });
    expect(await serverDocuments(real.url, appId, 'todos')).toEqual([
      { id: 'c1', title: 'one' },
      { id: 'c2', title: 'two' },
    ]);
    await sync.flush();
    expect(await bridge.outbox()).toEqual([]);
    // The retry sent the same (clientId, mutation id), the server's idempotency key, so it
    // applied nothing new: no new version, no new change.
    expect(pushes).toHaveLength(2);
    expect(pushes[1]).toEqual(pushes[0]);
    const afterRetry = await http.pull({ cursor: 0 });
    expect(afterRetry).toEqual(afterCut);
  });
});

describe('an outbox larger than the server takes in one push', () => {
  const small = inProcessServer('omnisync-dexie-small-', { maxBodyBytes: 48 * 1024 });

  it('pushes the entries one by one when together they are over the body limit; all arrive', async () => {
    const appId = `dexie-big-${app++}`;
    const { db, bridge } = openDevice();
    const sync = createDexieSync(bridge, { server: small.url, app: appId });
    // Three bulkPuts of ~25 kB each: one outbox entry each, ~75 kB together.
    const page = (p: number) =>
      Array.from({ length: 100 }, (_, i) => ({ id: `p${p}-${i}`, title: 'x'.repeat(200), page: p }));
    for (let p = 0; p < 3; p++) await db.table('todos').bulkPut(page(p));
    expect(await bridge.outbox()).toHaveLength(3);
    await sync.flush();
    expect(await bridge.outbox()).toEqual([]);
    const docs = (await serverDocuments(small.url, appId, 'todos')) as { id: string }[];
    expect(docs).toHaveLength(300);
  });
});
