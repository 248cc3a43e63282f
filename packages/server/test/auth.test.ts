/**
 * Tenants and auth: the matrix of bad tokens × every HTTP endpoint and every WebSocket
 * message kind gets 401/403 with a code and not a byte of data; valid tokens work; JWKS
 * (served by a real HTTP server on loopback) works the same.
 */
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CellWriter, HttpClient, LiveClient, mutation } from './helpers/protocol-client.js';
import { startServer, type TestServer } from './helpers/servers.js';
import liveClientFixtures from '../../core/src/protocol/fixtures/v1-live-client.json' with { type: 'json' };

const SECRET = 'a-test-secret-of-reasonable-length-0123456789';
const SECRET_DATA = 'TOP-SECRET-TITLE';
const APP = 'alpha';
const key = new TextEncoder().encode(SECRET);
const now = () => Math.floor(Date.now() / 1000);
const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

const hs = (claims: Record<string, unknown>, secret: Uint8Array = key) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(now() + 3600)
    .sign(secret);

let t: TestServer;
let valid: string;
let bad: Record<string, { token: string | undefined; status: 401 | 403 }>;

beforeAll(async () => {
  t = await startServer({ auth: { secret: SECRET } });
  valid = await hs({ app: APP, sub: 'u1' });
  bad = {
    'no token': { token: undefined, status: 401 },
    'an expired token': {
      token: await new SignJWT({ app: APP, sub: 'u1' })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime(now() - 3600)
        .sign(key),
      status: 401,
    },
    'a bad signature': {
      token: await hs(
        { app: APP, sub: 'u1' },
        new TextEncoder().encode('another-secret-0123456789-abcdefgh'),
      ),
      status: 401,
    },
    'alg none': {
      token: `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ app: APP, sub: 'u1', exp: now() + 3600 })}.`,
      status: 401,
    },
    'a malformed token': { token: 'not.a.jwt', status: 401 },
    "another app's token": { token: await hs({ app: 'beta', sub: 'u1' }), status: 403 },
    'a token without app claim': { token: await hs({ sub: 'u1' }), status: 403 },
  };
  const http = new HttpClient(t.url, APP, valid);
  await http.push('seed', [mutation(new CellWriter('seed_1').doc('todos', 's1', { title: SECRET_DATA }))]);
});
afterAll(() => t.close());

const bodies: Record<string, unknown> = {
  push: {
    clientId: 'evil',
    mutations: [mutation(new CellWriter('evil_1').doc('todos', 'evil', { title: 'pwned' }))],
  },
  pull: { cursor: 0 },
  snapshot: {},
  cursor: { clientId: 'evil', cursor: 1 },
  frobnicate: {},
};

describe('HTTP auth matrix', () => {
  it('valid token: every endpoint serves', async () => {
    const http = new HttpClient(t.url, APP, valid);
    expect((await http.call('pull', { cursor: 0 })).text).toContain(SECRET_DATA);
    expect((await http.call('snapshot', {})).status).toBe(200);
    expect((await http.call('cursor', { clientId: 'd', cursor: 1 })).status).toBe(200);
  });

  for (const endpoint of Object.keys(bodies)) {
    it(`${endpoint}: every bad token gets 401/403 with a code and no data`, async () => {
      for (const [name, { token, status }] of Object.entries(bad)) {
        const before = await t.server.engine.head(APP);
        const res = await new HttpClient(t.url, APP, token).call(endpoint, bodies[endpoint]);
        expect({ name, status: res.status }).toEqual({ name, status });
        expect(res.body).toEqual({
          error: {
            code: status === 401 ? 'unauthorized' : 'forbidden',
            message: expect.any(String),
            requestId: expect.any(String),
          },
        });
        expect(res.text).not.toContain(SECRET_DATA);
        expect(await t.server.engine.head(APP)).toBe(before);
      }
    });
  }

  it('an HS512 token signed with the right secret → 401 naming the accepted algorithms', async () => {
    const hs512 = await new SignJWT({ app: APP, sub: 'u1' })
      .setProtectedHeader({ alg: 'HS512' })
      .setExpirationTime(now() + 3600)
      .sign(key);
    const res = await new HttpClient(t.url, APP, hs512).call('pull', { cursor: 0 });
    expect(res.status).toBe(401);
    expect(res.body.error.code).toBe('unauthorized');
    expect(res.body.error.message).toBe(
      'The token\'s algorithm "HS512" is not accepted; this server accepts HS256 (sign with its secret using HS256).',
    );
    expect(res.text).not.toContain(SECRET_DATA);
  });

  it("a valid token of this app cannot read another app's data", async () => {
    const betaToken = await hs({ app: 'beta' });
    await new HttpClient(t.url, 'beta', betaToken).push('b', [
      mutation(new CellWriter('beta_1').doc('todos', 'b1', { title: 'beta only' })),
    ]);
    const res = await new HttpClient(t.url, 'beta', valid).call('snapshot', {});
    expect(res.status).toBe(403);
    expect(res.text).not.toContain('beta only');
    const own = await new HttpClient(t.url, APP, valid).call('snapshot', {});
    expect(own.text).not.toContain('beta only');
  });
});

describe('WebSocket auth matrix', () => {
  const expectRefused = async (c: LiveClient, status: 401 | 403) => {
    const closed = await c.closed;
    expect(closed.code).toBe(status === 401 ? 4001 : 4003);
    expect(c.messages).toEqual([
      {
        type: 'error',
        error: { code: status === 401 ? 'unauthorized' : 'forbidden', message: expect.any(String) },
      },
    ]);
    expect(JSON.stringify(c.messages)).not.toContain(SECRET_DATA);
  };

  it('hello with each bad token (pipelined with a subscribe) → error + close, no data', async () => {
    for (const [name, { token, status }] of Object.entries(bad)) {
      const c = await LiveClient.open(t.url, APP);
      c.send({ type: 'hello', ...(token ? { token } : {}), cursor: 0 });
      c.send({ type: 'subscribe', queryId: 'q', query: { collection: 'todos' } });
      try {
        await expectRefused(c, status);
      } catch (err) {
        throw new Error(`${name}: ${String(err)}`, { cause: err });
      }
    }
  });

  const kinds = (liveClientFixtures as { examples: { type: string }[] }).examples.filter(
    (m) => m.type !== 'hello',
  );
  it(`every message kind before hello → unauthorized + close 4001 (${[...new Set(kinds.map((k) => k.type))].join(', ')})`, async () => {
    for (const msg of kinds) {
      const c = await LiveClient.open(t.url, APP);
      c.send(msg);
      await expectRefused(c, 401);
    }
  });

  it('a valid hello serves; an expiring token closes the connection with 4001', async () => {
    const ok = await LiveClient.open(t.url, APP);
    expect((await ok.hello({ token: valid })).type).toBe('welcome');
    await ok.subscribe('q', { collection: 'todos' });
    expect(JSON.stringify(ok.cells())).toContain(SECRET_DATA);
    ok.close();

    const soon = await new SignJWT({ app: APP })
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime(now() + 1)
      .sign(key);
    const c = await LiveClient.open(t.url, APP);
    expect((await c.hello({ token: soon })).type).toBe('welcome');
    expect((await c.closed).code).toBe(4001);
    expect(c.messages.at(-1).error.code).toBe('unauthorized');
  });

  it('a WebSocket to an invalid app name is refused before upgrading', async () => {
    const c = new LiveClient(t.url, 'bad.name');
    await expect(c.opened).rejects.toThrow(/400/);
  });
});

describe('JWKS', () => {
  let jwksServer: Server;
  let s: TestServer;
  let sign: (claims: Record<string, unknown>) => Promise<string>;
  let signOther: (claims: Record<string, unknown>) => Promise<string>;

  beforeAll(async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    const other = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    jwksServer = createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [jwk] }));
    });
    await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', () => r()));
    const port = (jwksServer.address() as AddressInfo).port;
    s = await startServer({ auth: { jwksUrl: `http://127.0.0.1:${port}/jwks.json` } });
    sign = (claims) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setExpirationTime(now() + 600)
        .sign(privateKey);
    signOther = (claims) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setExpirationTime(now() + 600)
        .sign(other.privateKey);
  });
  afterAll(async () => {
    await s.close();
    await new Promise((r) => jwksServer.close(r));
  });

  it('accepts a token signed by the JWKS key and refuses everything else', async () => {
    const http = (token?: string) => new HttpClient(s.url, APP, token);
    expect((await http(await sign({ app: APP })).call('pull', { cursor: 0 })).status).toBe(200);
    const cases: [string | undefined, number][] = [
      [await signOther({ app: APP }), 401],
      [await hs({ app: APP }), 401], // no shared secret configured
      [`${b64({ alg: 'none' })}.${b64({ app: APP })}.`, 401],
      [await sign({ app: 'beta' }), 403],
      [undefined, 401],
    ];
    for (const [token, status] of cases) {
      const res = await http(token).call('pull', { cursor: 0 });
      expect(res.status).toBe(status);
      expect(res.body.error.code).toBe(status === 401 ? 'unauthorized' : 'forbidden');
    }
    const c = await LiveClient.open(s.url, APP);
    expect((await c.hello({ token: await sign({ app: APP }) })).type).toBe('welcome');
    c.close();
  });
});
