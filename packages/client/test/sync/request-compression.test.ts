/**
 * Push compression against a real server in this process: once an answer has said the
 * server inflates request bodies (`OmniSync-Accept-Encoding`), a push of 1 kB and more goes
 * gzip-compressed and applies; small requests and a client with `compressRequests: false`
 * send JSON text. The fetch here records what is sent and passes it to Node's own fetch.
 */
import { gunzipSync } from 'node:zlib';
import { expect, test } from 'vitest';
import { createClient, createServerSource, type FetchLike } from '@omnisync/client';
import { inProcessServer, serverDocuments } from './helpers.js';

const srv = inProcessServer('omni-reqzip-');

interface Sent {
  kind: string;
  encoding: string | undefined;
  bytes: number;
  json: { mutations?: unknown[] };
}

function open(app: string, compressRequests: boolean) {
  const sent: Sent[] = [];
  const recording: FetchLike = (input, init) => {
    const raw = typeof init.body === 'string' ? Buffer.from(init.body) : Buffer.from(init.body);
    const encoding = init.headers['content-encoding'];
    const text = encoding === 'gzip' ? gunzipSync(raw).toString('utf8') : raw.toString('utf8');
    sent.push({ kind: input.split('/').pop()!, encoding, bytes: raw.length, json: JSON.parse(text) });
    return fetch(input, init);
  };
  const client = createClient({ onError: () => {} });
  const source = createServerSource({
    app,
    server: srv.url,
    WebSocket: null,
    fetch: recording,
    compressRequests,
  });
  const todos = client.collection<{ id: string; title: string }>({ id: 'todos', source });
  return { client, todos, sent };
}

const manyTodos = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    id: `t${i}`,
    title: `a todo with a long enough title, number ${i}`,
  }));

test('a large push goes gzip-compressed to a server that inflates it, and applies', async () => {
  const c = open('zip_on', true);
  await c.todos.ready; // the first pull's answer says the server inflates gzip
  await c.todos.insert(manyTodos(200)).promise;
  await c.client.sync();
  const pushes = c.sent.filter((s) => s.kind === 'push');
  expect(pushes.length).toBeGreaterThan(0);
  const big = pushes.find((p) => (p.json.mutations?.length ?? 0) > 0)!;
  expect(big.encoding).toBe('gzip');
  const textBytes = Buffer.byteLength(JSON.stringify(big.json));
  expect(big.bytes).toBeLessThan(textBytes / 3);
  // The small first pull went as text.
  expect(c.sent[0]!.encoding).toBeUndefined();
  expect(await serverDocuments(srv.url, 'zip_on', 'todos')).toHaveLength(200);
  await c.client.close();
});

test('with compressRequests: false every request is JSON text', async () => {
  const c = open('zip_off', false);
  await c.todos.ready;
  await c.todos.insert(manyTodos(200)).promise;
  await c.client.sync();
  expect(c.sent.some((s) => s.kind === 'push')).toBe(true);
  expect(c.sent.every((s) => s.encoding === undefined)).toBe(true);
  expect(await serverDocuments(srv.url, 'zip_off', 'todos')).toHaveLength(200);
  await c.client.close();
});
