/**
 * Answer compression on a real server (loopback HTTP): a snapshot of a few hundred documents
 * travels gzip-compressed when the request accepts it, decodes to the same answer, and is
 * several times smaller; small answers and servers with `compress: false` send plain JSON.
 */
import { request } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CellWriter, HttpClient, mutation } from './helpers/protocol-client.js';
import { startServer, type TestServer } from './helpers/servers.js';

/** POST with the given Accept-Encoding; the raw bytes as received and the headers. */
function rawPost(url: string, body: unknown, acceptEncoding: string) {
  return new Promise<{ status: number; encoding: string | undefined; bytes: Buffer }>((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', headers: { 'content-type': 'application/json', 'accept-encoding': acceptEncoding } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            encoding: res.headers['content-encoding'],
            bytes: Buffer.concat(chunks),
          }),
        );
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

describe('answer compression', () => {
  let on: TestServer;
  let off: TestServer;
  beforeAll(async () => {
    on = await startServer();
    off = await startServer({ compress: false });
    for (const s of [on, off]) {
      const w = new CellWriter('zip_1');
      const docs = Array.from({ length: 300 }, (_, i) =>
        mutation(w.doc('todos', `t${i}`, { title: `todo number ${i}`, done: i % 2 === 0 })),
      );
      await new HttpClient(s.url, 'zip').push('c1', docs);
    }
  });
  afterAll(async () => {
    await on.close();
    await off.close();
  });

  it('a large snapshot travels gzip-compressed and decodes to the same answer', async () => {
    const url = `${on.url}/v1/apps/zip/snapshot`;
    const zipped = await rawPost(url, {}, 'gzip, deflate');
    const plain = await rawPost(url, {}, 'identity');
    expect(zipped.status).toBe(200);
    expect(zipped.encoding).toBe('gzip');
    expect(plain.encoding).toBeUndefined();
    const decoded = JSON.parse(gunzipSync(zipped.bytes).toString('utf8'));
    expect(decoded).toEqual(JSON.parse(plain.bytes.toString('utf8')));
    expect(decoded.cells.length).toBeGreaterThanOrEqual(600);
    expect(zipped.bytes.length * 4).toBeLessThan(plain.bytes.length);
  });

  it('small answers and a server with compress: false send plain JSON', async () => {
    const small = await rawPost(`${on.url}/v1/apps/zip/pull`, { cursor: 10_000 }, 'gzip');
    expect(small.status).toBe(200);
    expect(small.encoding).toBeUndefined();
    const big = await rawPost(`${off.url}/v1/apps/zip/snapshot`, {}, 'gzip');
    expect(big.encoding).toBeUndefined();
    expect(JSON.parse(big.bytes.toString('utf8')).cells.length).toBeGreaterThanOrEqual(600);
  });
});
