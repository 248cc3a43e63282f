/**
 * The client names its protocol version in every HTTP request (`OmniSync-Protocol`), and a
 * server that speaks an older version refuses it with a typed error that fails the write at
 * once (no retry loop). Real server in this process; the second case rewrites the header on
 * the way out to play a client newer than the server.
 */
import { expect, test } from 'vitest';
import { PROTOCOL_HEADER, PROTOCOL_VERSION } from '@omnisync/core';
import { createClient, createServerSource, type FetchLike } from '@omnisync/client';
import { inProcessServer } from './helpers.js';

const srv = inProcessServer('omni-proto-');

function open(version?: number) {
  const seen: string[] = [];
  const fetchVia: FetchLike = (input, init) => {
    seen.push(init.headers[PROTOCOL_HEADER] ?? '(none)');
    const headers =
      version === undefined ? init.headers : { ...init.headers, [PROTOCOL_HEADER]: String(version) };
    return fetch(input, { ...init, headers });
  };
  const client = createClient({ onError: () => {} });
  const source = createServerSource({ app: 'proto', server: srv.url, WebSocket: null, fetch: fetchVia });
  const todos = client.collection<{ id: string; n: number }>({ id: 'todos', source });
  return { client, todos, seen };
}

test('every request carries this build’s protocol version, and the server serves it', async () => {
  const c = open();
  await c.todos.ready;
  await c.todos.insert({ id: 'a', n: 1 }).promise;
  await c.client.sync();
  expect(c.seen.length).toBeGreaterThanOrEqual(2); // a pull and a push at least
  expect(new Set(c.seen)).toEqual(new Set([String(PROTOCOL_VERSION)]));
  await c.client.close();
});

test('a server older than the client refuses its push with protocol_invalid: the write fails at once', async () => {
  const c = open(PROTOCOL_VERSION + 1);
  const tx = c.todos.insert({ id: 'b', n: 1 });
  const err = await tx.promise.then(
    () => undefined,
    (e: unknown) => e as Error & { code?: string; details?: { code?: string }; cause?: { code?: string } },
  );
  // The transaction fails with NonRetriableError (seed 001) naming the server's refusal.
  expect(err).toMatchObject({ code: 'non_retriable', details: { code: 'protocol_invalid' } });
  expect(err?.cause).toMatchObject({
    code: 'protocol_invalid',
    details: { serverVersion: PROTOCOL_VERSION },
  });
  expect(err?.message).toMatch(/Upgrade the server first/);
  expect(tx.state).toBe('failed');
  expect(tx.attempts).toHaveLength(1); // not retried: asking again cannot succeed
  expect(c.todos.get('b')).toBeUndefined(); // rolled back
  await c.client.close();
});
