/**
 * CORS on a real server: preflights answered 204 with what the client may send; answers
 * (success, error, unknown endpoint) carry the allowed origin; a list of origins allows
 * only those and varies on Origin; `cors: false` adds nothing. Every answer stays whole
 * (a JSON body with its Content-Length).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from './helpers/servers.js';

const corsHeaders = (res: Response) =>
  Object.fromEntries([...res.headers].filter(([k]) => k.startsWith('access-control-') || k === 'vary'));

const push = JSON.stringify({
  clientId: 'c1',
  mutations: [
    {
      id: 'm1',
      changes: [{ collection: 'todos', id: 'a', field: 'id', value: 'a', hlc: '0000000000a-000000-cors' }],
    },
  ],
});

/** The request id and the accepted request encodings are readable by pages (CORS exposes them). */
const EXPOSED = { 'access-control-expose-headers': 'X-Request-Id,OmniSync-Accept-Encoding' };

async function send(url: string, path: string, init: RequestInit & { origin?: string }) {
  const res = await fetch(`${url}${path}`, {
    ...init,
    headers: { ...(init.origin ? { origin: init.origin } : {}), ...(init.headers as object) },
  });
  const text = await res.text();
  return { res, text, cors: corsHeaders(res) };
}

describe('CORS, any origin (default)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer();
  });
  afterAll(() => t.close());

  it('answers a preflight with the allowed methods, headers and max age', async () => {
    const { res, cors } = await send(t.url, '/v1/apps/todo/push', {
      method: 'OPTIONS',
      origin: 'http://app.test',
      headers: { 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(res.status).toBe(204);
    expect(cors).toEqual({
      'access-control-allow-origin': '*',
      'access-control-allow-methods': 'GET,POST,OPTIONS',
      'access-control-allow-headers':
        'Authorization,Content-Type,Content-Encoding,OmniSync-Protocol,X-Request-Id',
      'access-control-expose-headers': 'X-Request-Id,OmniSync-Accept-Encoding',
      'access-control-max-age': '600',
      vary: 'Access-Control-Request-Headers',
    });
  });

  it('allows any origin on a push, an error and an unknown endpoint, with whole JSON bodies', async () => {
    const ok = await send(t.url, '/v1/apps/todo/push', {
      method: 'POST',
      body: push,
      origin: 'http://app.test',
    });
    expect(ok.res.status).toBe(200);
    expect(JSON.parse(ok.text)).toMatchObject({ results: [{ id: 'm1', status: 'applied' }] });
    expect(ok.res.headers.get('content-length')).toBe(String(Buffer.byteLength(ok.text)));
    expect(ok.cors).toEqual({ 'access-control-allow-origin': '*', ...EXPOSED });

    const bad = await send(t.url, '/v1/apps/todo/push', {
      method: 'POST',
      body: '{',
      origin: 'http://app.test',
    });
    expect(bad.res.status).toBe(400);
    expect(JSON.parse(bad.text).error.code).toBe('protocol_invalid');
    expect(bad.cors).toEqual({ 'access-control-allow-origin': '*', ...EXPOSED });

    const missing = await send(t.url, '/v1/nothing', { method: 'POST', body: '{}' });
    expect(missing.res.status).toBe(404);
    expect(JSON.parse(missing.text).error.code).toBe('not_found');
    expect(missing.cors).toEqual({ 'access-control-allow-origin': '*', ...EXPOSED });

    const health = await send(t.url, '/v1/health', { method: 'GET' });
    expect(JSON.parse(health.text).ok).toBe(true);
    expect(health.cors).toEqual({ 'access-control-allow-origin': '*', ...EXPOSED });
  });
});

describe('CORS, listed origins', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ cors: ['http://a.test', 'http://b.test'] });
  });
  afterAll(() => t.close());

  it('allows a listed origin, refuses another, and varies on Origin', async () => {
    const listed = await send(t.url, '/v1/apps/todo/push', {
      method: 'POST',
      body: push,
      origin: 'http://b.test',
    });
    expect(listed.res.status).toBe(200);
    expect(listed.cors).toEqual({
      'access-control-allow-origin': 'http://b.test',
      vary: 'Origin',
      ...EXPOSED,
    });

    const other = await send(t.url, '/v1/apps/todo/pull', {
      method: 'POST',
      body: '{"cursor":0}',
      origin: 'http://evil.test',
    });
    expect(other.res.status).toBe(200);
    // Hono names the exposed header whatever the origin; without allow-origin the browser reads nothing.
    expect(other.cors).toEqual({ vary: 'Origin', ...EXPOSED });

    const error = await send(t.url, '/v1/apps/todo/pull', {
      method: 'POST',
      body: '[]',
      origin: 'http://a.test',
    });
    expect(error.res.status).toBe(400);
    expect(error.cors).toEqual({
      'access-control-allow-origin': 'http://a.test',
      vary: 'Origin',
      ...EXPOSED,
    });

    const preflight = await send(t.url, '/v1/apps/todo/push', {
      method: 'OPTIONS',
      origin: 'http://a.test',
      headers: { 'access-control-request-method': 'POST' },
    });
    expect(preflight.res.status).toBe(204);
    expect(preflight.cors).toEqual({
      'access-control-allow-origin': 'http://a.test',
      'access-control-allow-methods': 'GET,POST,OPTIONS',
      'access-control-allow-headers':
        'Authorization,Content-Type,Content-Encoding,OmniSync-Protocol,X-Request-Id',
      'access-control-expose-headers': 'X-Request-Id,OmniSync-Accept-Encoding',
      'access-control-max-age': '600',
      vary: 'Origin, Access-Control-Request-Headers',
    });
  });
});

describe('CORS off', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer({ cors: false });
  });
  afterAll(() => t.close());

  it('adds no CORS headers', async () => {
    const ok = await send(t.url, '/v1/apps/todo/push', {
      method: 'POST',
      body: push,
      origin: 'http://app.test',
    });
    expect(ok.res.status).toBe(200);
    expect(ok.cors).toEqual({});
  });
});
