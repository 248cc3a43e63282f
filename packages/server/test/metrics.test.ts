/**
 * GET /metrics against known traffic on a real server (HTTP and WebSocket clients on
 * loopback, SQLite files): every counter equals the requests sent, the gauges follow the
 * connections and the database, and the endpoint is behind its token when auth is on.
 */
import { SignJWT } from 'jose';
import { afterEach, describe, expect, test } from 'vitest';
import { CellWriter, HttpClient, LiveClient, mutation, post } from './helpers/protocol-client.js';
import { startServer, type TestServer } from './helpers/servers.js';

/** Every sample of the Prometheus text exposition: `name{labels} value`. */
function samples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`not a Prometheus sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, k, v] of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[k!] = v!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** The value of one sample (0 when absent: a counter never incremented has no labelled sample). */
function value(text: string, name: string, labels: Record<string, string> = {}): number {
  const found = samples(text).filter(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  return found.reduce((sum, s) => sum + s.value, 0);
}

async function scrape(url: string, token?: string): Promise<string> {
  const res = await fetch(`${url}/metrics`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  const text = await res.text();
  if (res.status !== 200) throw new Error(`/metrics answered ${res.status}: ${text}`);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return text;
}

async function until(check: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const servers: TestServer[] = [];
const clients: LiveClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});
async function start(options: Parameters<typeof startServer>[0] = {}): Promise<TestServer> {
  const s = await startServer(options);
  servers.push(s);
  return s;
}
async function live(url: string, app: string): Promise<LiveClient> {
  const c = await LiveClient.open(url, app);
  clients.push(c);
  return c;
}

describe('metrics counted against known traffic', () => {
  test('N HTTP pushes → push counter N, changes ingested, N push→ack samples; each server its own registry', async () => {
    const s = await start();
    const other = await start();
    const http = new HttpClient(s.url, 'm1');
    const w = new CellWriter();
    const N = 7;
    for (let i = 0; i < N; i++)
      await http.push('c1', [mutation(w.doc('todos', `t${i}`, { title: `x${i}`, done: false }))]);
    const text = await scrape(s.url);
    expect(value(text, 'omnisync_pushes_total', { transport: 'http', code: 'ok' })).toBe(N);
    // Each document: id, title, done.
    expect(value(text, 'omnisync_ingested_changes_total')).toBe(N * 3);
    expect(value(text, 'omnisync_push_ack_duration_seconds_count', { transport: 'http' })).toBe(N);
    expect(value(text, 'omnisync_push_ack_duration_seconds_sum', { transport: 'http' })).toBeGreaterThan(0);
    // A second server in the same process counted nothing.
    expect(value(await scrape(other.url), 'omnisync_pushes_total')).toBe(0);
  });

  test('pulls and snapshots by result code; a refused push by its code', async () => {
    const s = await start();
    const http = new HttpClient(s.url, 'm2');
    await http.pull(0);
    await http.pull(0);
    await http.snapshot();
    const bad = await http.call('pull', { cursor: 'not a number' });
    expect(bad.status).toBe(400);
    const badCode: string = bad.body.error.code;
    const badPush = await http.call('push', { clientId: 'c1' });
    expect(badPush.status).toBe(400);
    const text = await scrape(s.url);
    expect(value(text, 'omnisync_pulls_total', { transport: 'http', code: 'ok' })).toBe(2);
    expect(value(text, 'omnisync_pulls_total', { transport: 'http', code: badCode })).toBe(1);
    expect(value(text, 'omnisync_snapshots_total', { transport: 'http', code: 'ok' })).toBe(1);
    expect(value(text, 'omnisync_pushes_total', { transport: 'http', code: badPush.body.error.code })).toBe(
      1,
    );
    expect(value(text, 'omnisync_pushes_total', { code: 'ok' })).toBe(0);
  });

  test('connections gauge goes up and down; fan-out histogram counts each commit that reached a subscriber; ws pushes counted', async () => {
    const s = await start();
    const app = 'm3';
    const a = await live(s.url, app);
    const b = await live(s.url, app);
    await a.hello({ clientId: 'a' });
    await b.hello({ clientId: 'b' });
    expect(value(await scrape(s.url), 'omnisync_connections')).toBe(2);
    expect((await a.subscribe('q', { collection: 'todos' })).type).toBe('subscribed');

    const w = new CellWriter();
    const writes = 3;
    for (let i = 0; i < writes; i++) {
      const requestId = `r${i}`;
      b.send({
        type: 'push',
        requestId,
        clientId: 'b',
        mutations: [mutation(w.doc('todos', `d${i}`, { n: i }))],
      });
      await b.next((m) => m.type === 'ack' && m.requestId === requestId);
      await a.next((m) => m.type === 'changes' && m.cells.some((c: { id: string }) => c.id === `d${i}`));
    }
    let text = await scrape(s.url);
    expect(value(text, 'omnisync_pushes_total', { transport: 'ws', code: 'ok' })).toBe(writes);
    expect(value(text, 'omnisync_push_ack_duration_seconds_count', { transport: 'ws' })).toBe(writes);
    expect(value(text, 'omnisync_fanout_duration_seconds_count')).toBe(writes);
    // The subscription's catch-up is a snapshot over the socket.
    expect(value(text, 'omnisync_snapshots_total', { transport: 'ws', code: 'ok' })).toBe(1);
    expect(value(text, 'omnisync_ingested_changes_total')).toBe(writes * 2);

    b.close();
    await b.closed;
    await until(async () => value(await scrape(s.url), 'omnisync_connections') === 1, 'connections 1');
    a.close();
    await a.closed;
    await until(async () => value(await scrape(s.url), 'omnisync_connections') === 0, 'connections 0');
    text = await scrape(s.url);
    expect(value(text, 'omnisync_fanout_duration_seconds_count')).toBe(writes);
  });

  test('per-app database size is read at scrape time; manual compaction runs counted', async () => {
    const s = await start();
    const http = new HttpClient(s.url, 'sized');
    const w = new CellWriter();
    for (let i = 0; i < 5; i++)
      await http.push('c1', [mutation(w.doc('todos', `t${i}`, { title: 'x'.repeat(200) }))]);
    const before = value(await scrape(s.url), 'omnisync_app_database_bytes', { app: 'sized' });
    expect(before).toBeGreaterThan(0);
    const res = await s.server.engine.gc('sized', { olderThanVersion: 4 });
    const text = await scrape(s.url);
    expect(value(text, 'omnisync_compaction_runs_total', { trigger: 'manual', result: 'ok' })).toBe(1);
    expect(value(text, 'omnisync_compacted_changes_total')).toBe(res.changesDropped);
    expect(res.changesDropped).toBe(3);
  });

  test('timer compaction runs counted', async () => {
    const s = await start({ compaction: { keepChanges: 1, everyMs: 20 } });
    const http = new HttpClient(s.url, 'timed');
    const w = new CellWriter();
    for (let i = 0; i < 3; i++) await http.push('c1', [mutation(w.doc('todos', `t${i}`, { n: i }))]);
    await until(
      async () => value(await scrape(s.url), 'omnisync_compacted_changes_total') === 2,
      'timer compaction of 2 entries',
    );
    expect(
      value(await scrape(s.url), 'omnisync_compaction_runs_total', { trigger: 'timer', result: 'ok' }),
    ).toBeGreaterThanOrEqual(1);
  });
});

describe('GET /metrics protection', () => {
  const secret = 'metrics-test-secret-0123456789abcdef';

  test('auth on: no token 401, a wrong one (or an app JWT) 403, the metrics token 200', async () => {
    const s = await start({ auth: { secret }, metricsToken: 'scrape-me' });
    const none = await fetch(`${s.url}/metrics`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    const wrong = await fetch(`${s.url}/metrics`, { headers: { authorization: 'Bearer nope' } });
    expect(wrong.status).toBe(403);
    expect(((await wrong.json()) as { error: { code: string } }).error.code).toBe('forbidden');
    const jwt = await new SignJWT({ sub: 'u1' })
      .setProtectedHeader({ alg: 'HS256' })
      .sign(new TextEncoder().encode(secret));
    expect((await fetch(`${s.url}/metrics`, { headers: { authorization: `Bearer ${jwt}` } })).status).toBe(
      403,
    );
    expect(value(await scrape(s.url, 'scrape-me'), 'omnisync_connections')).toBe(0);
  });

  test('auth on without a metrics token: refused with 403 saying how to enable it', async () => {
    const s = await start({ auth: { secret } });
    const res = await fetch(`${s.url}/metrics`, { headers: { authorization: 'Bearer anything' } });
    expect(res.status).toBe(403);
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('forbidden');
    expect(body.error.message).toMatch(/--metrics-token/);
  });

  test('auth off: open; metrics: false → 404 and nothing counted', async () => {
    const open = await start();
    expect((await fetch(`${open.url}/metrics`)).status).toBe(200);
    const off = await start({ metrics: false });
    await new HttpClient(off.url, 'x').pull(0);
    const res = await fetch(`${off.url}/metrics`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });

  test('a POST to /metrics is not an endpoint', async () => {
    const s = await start();
    const res = await post(s.url, '/metrics', {});
    expect(res.status).toBe(404);
  });
});
