/**
 * The HTTP transport against the real sync handler (in process, Request → Response), plus
 * a few failure answers no healthy server gives (a 5xx, a garbled body), produced by a
 * wrapping fetch.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createHlc,
  createManualScheduler,
  ForbiddenError,
  NetworkError,
  ProtocolError,
  UnauthorizedError,
  ValidationError,
} from '@omnisync/core';
import { createSyncHandler, type SyncHandler } from '@omnisync/server';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { classifyError } from '../../src/transport/errors.js';
import { createHttpTransport, endpointUrl } from '../../src/transport/http-transport.js';
import type { FetchLike, TokenRequest } from '../../src/transport/types.js';

const SECRET = 'transport-test-secret-transport-test-secret';
const URL_BASE = 'http://sync.test';
let dir: string;
let handler: SyncHandler;

const token = (app: string, expSec = 3600) =>
  new SignJWT({ app })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('u1')
    .setExpirationTime(Math.floor(Date.now() / 1000) + expSec)
    .sign(new TextEncoder().encode(SECRET));

const viaHandler: FetchLike = (url, init) => handler.fetch(new Request(url, init));

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'omni-http-'));
  handler = createSyncHandler({
    dataDir: dir,
    durability: 'off',
    logLevel: 'silent',
    auth: { secret: SECRET },
  });
});
afterAll(async () => {
  await handler.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('http transport', () => {
  test('push, pull and snapshot round-trip cells, an unset cell included', async () => {
    const good = await token('rt');
    const http = createHttpTransport({ server: URL_BASE, app: 'rt', fetch: viaHandler, auth: () => good });
    const hlc = createHlc({ nodeId: 'c1' }).now();
    const pushed = await http.push({
      clientId: 'c1',
      mutations: [
        {
          id: 'm1',
          changes: [
            { collection: 'todos', id: 'a', field: 'id', value: 'a', hlc },
            { collection: 'todos', id: 'a', field: 'title', value: 'x', hlc },
            { collection: 'todos', id: 'a', field: 'note', hlc },
          ],
        },
      ],
    });
    expect(pushed.results).toEqual([{ id: 'm1', status: 'applied' }]);
    const page = await http.pull({ cursor: 0 });
    expect(page).toMatchObject({ cursor: pushed.cursor, hasMore: false });
    const fields = 'changes' in page ? page.changes.map((c) => [c.field, 'value' in c]) : [];
    expect(fields.sort()).toEqual([
      ['id', true],
      ['note', false],
      ['title', true],
    ]);
    const snap = await http.snapshot({ queries: [{ collection: 'todos' }] });
    expect(snap.cursor).toBe(pushed.cursor);
    expect(snap.cells).toHaveLength(3);
  });

  test('401: the token function is asked to refresh and the same request is sent once more', async () => {
    const expired = await token('auth', -60);
    const good = await token('auth');
    const calls: TokenRequest[] = [];
    const bodies: string[] = [];
    const http = createHttpTransport({
      server: URL_BASE,
      app: 'auth',
      fetch: (url, init) => {
        bodies.push(init.body as string);
        return viaHandler(url, init);
      },
      auth: (req) => {
        calls.push(req);
        return req.refresh ? good : expired;
      },
    });
    const page = await http.pull({ cursor: 0 });
    expect('hasMore' in page && page.hasMore).toBe(false);
    expect(calls).toEqual([{ refresh: false }, { refresh: true }]);
    expect(bodies).toHaveLength(2);
    expect(bodies[1]).toBe(bodies[0]);
  });

  test("401 twice is an UnauthorizedError; another app's token is a ForbiddenError", async () => {
    const expired = await token('auth', -60);
    const once = createHttpTransport({
      server: URL_BASE,
      app: 'auth',
      fetch: viaHandler,
      auth: () => expired,
    });
    const e1 = await once.pull({ cursor: 0 }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(UnauthorizedError);
    expect(classifyError(e1)).toBe('unauthorized');
    const other = await token('other-app');
    const forbidden = createHttpTransport({
      server: URL_BASE,
      app: 'auth',
      fetch: viaHandler,
      auth: () => other,
    });
    const e2 = await forbidden.snapshot({}).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(ForbiddenError);
    expect((e2 as ForbiddenError).details).toMatchObject({ status: 403, endpoint: 'snapshot' });
    expect(classifyError(e2)).toBe('forbidden');
  });

  test("a bad request comes back as the server's typed error, classified fatal", async () => {
    const good = await token('bad');
    const http = createHttpTransport({ server: URL_BASE, app: 'bad', fetch: viaHandler, auth: () => good });
    const e = await http.pull({ cursor: -1 } as never).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ProtocolError);
    expect((e as ProtocolError).details).toMatchObject({ status: 400 });
    expect(classifyError(e)).toBe('fatal');
  });

  test('network failures, 5xx, garbled answers and timeouts are transient', async () => {
    const down = createHttpTransport({
      server: URL_BASE,
      app: 'x',
      fetch: () => Promise.reject(new TypeError('fetch failed')),
    });
    const e1 = await down.pull({ cursor: 0 }).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(NetworkError);
    expect(classifyError(e1)).toBe('transient');

    const answer =
      (status: number, body: string): FetchLike =>
      async () =>
        new Response(body, { status });
    const e2 = await createHttpTransport({ server: URL_BASE, app: 'x', fetch: answer(502, 'bad gateway') })
      .pull({ cursor: 0 })
      .catch((e: unknown) => e);
    expect(classifyError(e2)).toBe('transient');
    const e3 = await createHttpTransport({ server: URL_BASE, app: 'x', fetch: answer(200, '{"nope":1}') })
      .pull({ cursor: 0 })
      .catch((e: unknown) => e);
    expect(e3).toBeInstanceOf(ProtocolError);
    expect(classifyError(e3)).toBe('transient');

    const scheduler = createManualScheduler();
    const hang = createHttpTransport({
      server: URL_BASE,
      app: 'x',
      scheduler,
      requestTimeoutMs: 1000,
      fetch: () => new Promise(() => {}),
    });
    const pending = hang.pull({ cursor: 0 }).catch((e: unknown) => e);
    await Promise.resolve();
    scheduler.advance(999);
    scheduler.advance(1);
    const e4 = await pending;
    expect(e4).toBeInstanceOf(NetworkError);
    expect((e4 as Error).message).toMatch(/within 1000 ms/);
  });

  test('options are checked up front', () => {
    expect(() => createHttpTransport({ server: 'ftp://x', app: 'a', fetch: viaHandler })).toThrow(
      ValidationError,
    );
    expect(() => createHttpTransport({ server: URL_BASE, app: '', fetch: viaHandler })).toThrow(/app/);
    expect(endpointUrl('http://h:1/base/', 'my app', 'pull')).toBe('http://h:1/base/v1/apps/my%20app/pull');
  });
});
