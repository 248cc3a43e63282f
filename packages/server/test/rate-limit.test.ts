/**
 * Rate limits over real HTTP and WebSocket on loopback, with the limiter's clock injected
 * (a manual scheduler): a burst over a limit is refused with 429 `rate_limited`, a
 * Retry-After header and the wait in `details`, applies nothing, leaves other callers
 * alone, and passes again once the clock has refilled the bucket; a WebSocket flood is
 * answered with `rate_limited` and then closed with 4029; the CLI reads `--rate-limit`.
 */
import { createManualScheduler, LIVE_CLOSE_CODES } from '@omnisync/core';
import { SignJWT } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { startCli } from './helpers/cli-process.js';
import { CellWriter, HttpClient, LiveClient, mutation, post } from './helpers/protocol-client.js';
import { startServer, tempDir, type TestServer } from './helpers/servers.js';

const APP = 'limits';
const SECRET = 'a-test-secret-of-reasonable-length-0123456789';
const token = (sub: string) =>
  new SignJWT({ app: APP, sub })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(SECRET));

let t: TestServer | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

describe('HTTP rate limits', () => {
  it('refuses a push burst over the limit with 429, Retry-After and rate_limited; applies nothing of it; refills with the clock', async () => {
    const clock = createManualScheduler();
    t = await startServer({ rateLimit: { push: { perSecond: 0.5, burst: 2 }, clock } });
    const http = new HttpClient(t.url, APP);
    const w = new CellWriter();
    const m1 = mutation(w.doc('todos', 'a', { title: 'one' }));
    const m2 = mutation(w.doc('todos', 'b', { title: 'two' }));
    const m3 = mutation(w.doc('todos', 'c', { title: 'three' }));
    expect((await http.push('c1', [m1])).cursor).toBe(1);
    expect((await http.push('c1', [m2])).cursor).toBe(2);

    const refused = await http.call('push', { clientId: 'c1', mutations: [m3] });
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatchObject({
      code: 'rate_limited',
      details: { retryAfterMs: 2000, op: 'push', perSecond: 0.5, burst: 2 },
    });
    expect(refused.body.error.message).toMatch(/Retry after 2000 ms/);
    const raw = await fetch(`${t.url}/v1/apps/${APP}/push`, {
      method: 'POST',
      body: JSON.stringify({ clientId: 'c1', mutations: [m3] }),
    });
    expect(raw.status).toBe(429);
    expect(raw.headers.get('retry-after')).toBe('2');
    await raw.arrayBuffer();
    // Nothing of the refused pushes applied.
    expect((await http.pullAll(0)).changes.map((c) => c.id)).toEqual(['a', 'a', 'b', 'b']);

    // Another client of the same app is not affected.
    expect((await http.push('c2', [mutation(w.doc('todos', 'd', { title: 'other' }))])).cursor).toBe(3);

    // Half the wait is not enough; the whole wait is.
    clock.advance(1000);
    expect((await http.call('push', { clientId: 'c1', mutations: [m3] })).status).toBe(429);
    clock.advance(1000);
    const retried = await http.push('c1', [m3]);
    expect(retried).toEqual({ results: [{ id: m3.id, status: 'applied' }], cursor: 4 });
    const ids = (await http.pullAll(0)).changes.filter((c) => c.field === 'title').map((c) => c.id);
    expect(ids).toEqual(['a', 'b', 'd', 'c']);
  });

  it('limits pull and snapshot per token subject; another user is not affected', async () => {
    const clock = createManualScheduler();
    t = await startServer({
      auth: { secret: SECRET },
      rateLimit: { pull: { perSecond: 1, burst: 3 }, snapshot: { perSecond: 1, burst: 1 }, clock },
    });
    const alice = new HttpClient(t.url, APP, await token('alice'));
    const bob = new HttpClient(t.url, APP, await token('bob'));
    for (let i = 0; i < 3; i++) expect((await alice.call('pull', { cursor: 0 })).status).toBe(200);
    const pull = await alice.call('pull', { cursor: 0 });
    expect(pull.status).toBe(429);
    expect(pull.body.error).toMatchObject({
      code: 'rate_limited',
      details: { op: 'pull', retryAfterMs: 1000 },
    });
    // Cursor reports count as pulls.
    expect((await alice.call('cursor', { clientId: 'dev', cursor: 0 })).status).toBe(429);
    expect((await bob.call('pull', { cursor: 0 })).status).toBe(200);

    expect((await alice.call('snapshot', {})).status).toBe(200);
    const snap = await alice.call('snapshot', {});
    expect(snap.status).toBe(429);
    expect(snap.body.error.details).toMatchObject({ op: 'snapshot' });
    expect((await bob.call('snapshot', {})).status).toBe(200);

    clock.advance(1000);
    expect((await alice.call('pull', { cursor: 0 })).status).toBe(200);
    expect((await alice.call('snapshot', {})).status).toBe(200);
  });

  it('with rateLimit: false nothing is limited', async () => {
    t = await startServer({ rateLimit: false });
    const http = new HttpClient(t.url, APP);
    for (let i = 0; i < 60; i++) expect((await http.call('snapshot', {})).status).toBe(200);
  });

  it('refuses bad settings with a ValidationError naming the option', async () => {
    await expect(startServer({ rateLimit: { push: { perSecond: 0, burst: 1 } } })).rejects.toMatchObject({
      code: 'invalid_input',
      message: expect.stringContaining('rateLimit.push'),
    });
  });
});

describe('WebSocket message limits', () => {
  it('answers messages over the rate with rate_limited, then closes a flood with 4029', async () => {
    const clock = createManualScheduler();
    t = await startServer({ rateLimit: { liveMessages: { perSecond: 10, burst: 10 }, clock } });
    const c = await LiveClient.open(t.url, APP);
    await c.hello(); // one message of the ten
    for (let i = 0; i < 9; i++) await c.ping();
    // The clock stands still: every further message is over the rate.
    c.send({ type: 'ping', id: 'over' });
    const err = await c.next((m) => m.type === 'error');
    expect(err.error).toMatchObject({ code: 'rate_limited', details: { retryAfterMs: 100, perSecond: 10 } });
    // Ten bursts of dropped messages are a flood: the server closes the connection.
    for (let i = 0; i < 100; i++) c.send({ type: 'ping', id: `flood${i}` });
    const closed = await c.closed;
    expect(closed.code).toBe(LIVE_CLOSE_CODES.rateLimited);
    expect(c.messages.filter((m) => m.type === 'pong').map((m) => m.id)).not.toContain('over');
    // Other connections are not affected.
    const other = await LiveClient.open(t.url, APP);
    await other.hello();
    await other.ping();
    other.close();
  });
});

describe('omnisync serve --rate-limit', () => {
  it('takes limits from the flag, "off" turns them off, a bad spec exits 2 with the rule', async () => {
    const dir = tempDir('omnisync-cli-limits-');
    const limited = await startCli(['--data', dir.dir, '--rate-limit', 'snapshot=0.001/1,push=off']);
    try {
      expect((await post(limited.url, `/v1/apps/${APP}/snapshot`, {})).status).toBe(200);
      const second = await post(limited.url, `/v1/apps/${APP}/snapshot`, {});
      expect(second.status).toBe(429);
      expect(second.body.error.code).toBe('rate_limited');
    } finally {
      limited.child.kill('SIGTERM');
      await limited.exited;
      dir.remove();
    }
    await expect(startCli(['--rate-limit', 'push=fast'])).rejects.toThrow(
      /--rate-limit: cannot read "push=fast"/,
    );
  });
});
