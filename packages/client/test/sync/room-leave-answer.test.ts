/**
 * The server answers a `leave` of a room this connection never joined with an error
 * (`invalid_state`, `details.room`) instead of silence. The client's rooms connection sends a
 * leave whenever the app leaves a room it carries, also one whose join the server refused
 * with another code than `forbidden` (here: over `live.maxSubscriptions`): that answer says
 * only "nothing to leave", which is what the app asked for, so it is not reported as an error
 * (before, it reached `onError` as "The server refused a room message: invalid_state"). A real
 * server on loopback.
 */
import { expect, test } from 'vitest';
import WebSocket from 'ws';
import { createClient } from '@omnisync/client';
import type { WebSocketConstructor } from '../../src/transport/types.js';
import { eventually, inProcessServer } from './helpers.js';

const srv = inProcessServer('omni-leave-', { live: { maxSubscriptions: 1 } });

test('leaving a room the server never let this connection join reports no error; other refusals still do', async () => {
  const errors: Error[] = [];
  const client = createClient({
    app: 'leave',
    server: srv.url,
    serverOptions: {
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      backoff: { baseDelayMs: 20, maxDelayMs: 200 },
    },
    onError: (e) => errors.push(e),
  });
  await client.ready;
  const one = client.room('one');
  await one.join();
  const two = client.room('two');
  void two.join().catch(() => undefined);
  // The server refuses the second room (one room per connection here): that is reported.
  await eventually(() => errors.length >= 1, 'the refused join is reported');
  expect(errors[0]!.message).toMatch(/At most 1 rooms/);
  // Room "one" keeps the socket open, so the answer to this leave arrives.
  two.leave();
  await new Promise((r) => setTimeout(r, 300));
  expect(errors.map((e) => e.message)).toEqual([errors[0]!.message]);
  expect(one.status.get()).toBe('joined');
  await client.close();
});
