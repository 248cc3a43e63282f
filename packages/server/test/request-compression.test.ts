/**
 * Compressed request bodies on a real server (loopback HTTP): a push sent with
 * `Content-Encoding: gzip` or `deflate` applies like the same push as text; every answer says
 * the server inflates them (`OmniSync-Accept-Encoding`); a body that does not inflate, an
 * encoding the server does not know, and a small body inflating past `maxBodyBytes` (a bomb)
 * are refused with a code and leave nothing applied. Then a real client with the global
 * fetch compresses its large pushes to such a server, and sends text to one without it.
 */
import { request } from 'node:http';
import { deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CellWriter, HttpClient, mutation } from './helpers/protocol-client.js';
import { startServer, type TestServer } from './helpers/servers.js';

interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: any;
}

/** POST raw bytes with the given headers. */
function rawPost(url: string, body: Buffer, headers: Record<string, string>): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = text;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, json });
        });
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('compressed request bodies', () => {
  let server: TestServer;
  const maxBodyBytes = 64 * 1024;
  beforeAll(async () => {
    server = await startServer({ maxBodyBytes });
  });
  afterAll(async () => {
    await server.close();
  });

  const pushBody = (prefix: string, n: number) => {
    const w = new CellWriter(`zip_${prefix}`);
    const mutations = Array.from({ length: n }, (_, i) =>
      mutation(w.doc('todos', `${prefix}${i}`, { title: `todo ${prefix} number ${i}`, done: i % 2 === 0 })),
    );
    return Buffer.from(JSON.stringify({ clientId: `c_${prefix}`, mutations }));
  };
  const url = (app: string, kind = 'push') => `${server.url}/v1/apps/${app}/${kind}`;
  const count = async (app: string) => (await new HttpClient(server.url, app).snapshot()).cells.length;

  it('a gzip push and a deflate push apply like the same push as text; answers say what is inflated', async () => {
    const plain = await rawPost(url('zin_plain'), pushBody('p', 50), {});
    const gz = await rawPost(url('zin_gzip'), gzipSync(pushBody('g', 50)), { 'content-encoding': 'gzip' });
    const df = await rawPost(url('zin_deflate'), deflateSync(pushBody('d', 50)), {
      'content-encoding': 'deflate',
    });
    for (const a of [plain, gz, df]) {
      expect(a.status).toBe(200);
      expect(a.json.results).toHaveLength(50);
      expect(a.headers['omnisync-accept-encoding']).toBe('gzip, deflate');
    }
    expect(await count('zin_gzip')).toBe(await count('zin_plain'));
    expect(await count('zin_deflate')).toBe(await count('zin_plain'));
    expect(await count('zin_gzip')).toBeGreaterThan(0);
  });

  it('a body that does not inflate is refused with protocol_invalid and applies nothing', async () => {
    const broken = gzipSync(pushBody('b', 20)).subarray(0, 60);
    const a = await rawPost(url('zin_broken'), broken, { 'content-encoding': 'gzip' });
    expect(a.status).toBe(400);
    expect(a.json.error.code).toBe('protocol_invalid');
    expect(a.json.error.message).toMatch(/does not inflate/);
    const text = await rawPost(url('zin_broken'), pushBody('b', 1), { 'content-encoding': 'deflate' });
    expect(text.status).toBe(400);
    expect(await count('zin_broken')).toBe(0);
  });

  it('an encoding the server does not know is refused naming the accepted ones', async () => {
    const a = await rawPost(url('zin_br'), pushBody('r', 5), { 'content-encoding': 'br' });
    expect(a.status).toBe(400);
    expect(a.json.error.code).toBe('protocol_invalid');
    expect(a.json.error.message).toMatch(/gzip or deflate/);
    expect(await count('zin_br')).toBe(0);
  });

  it('a small body that inflates past maxBodyBytes (a bomb) is refused as too large, nothing applied', async () => {
    const big = pushBody('z', 2000); // about 150 kB of JSON, over the 64 kB limit
    expect(big.length).toBeGreaterThan(maxBodyBytes);
    const bomb = gzipSync(big);
    expect(bomb.length).toBeLessThan(maxBodyBytes);
    const a = await rawPost(url('zin_bomb'), bomb, { 'content-encoding': 'gzip' });
    expect(a.status).toBe(413);
    expect(a.json.error.code).toBe('payload_too_large');
    expect(await count('zin_bomb')).toBe(0);
  });
});
