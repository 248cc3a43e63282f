/**
 * Seed 004's lifecycle hooks against the real sync server (in process, real HTTP and
 * WebSocket on loopback): every hook is emitted with its payload during ordinary sync — a
 * write captured and pushed, remote changes received, a conflict (a remote change reaching a
 * document whose push is held back), a failed push that is retried, connection status
 * changes — while every handler throws. Sync goes on regardless: both clients converge and
 * each throw reaches the client's onError.
 */
import { expect, test } from 'vitest';
import {
  type Client,
  type ClientEvent,
  createClient,
  createServerSource,
  type FetchLike,
  type ServerSource,
} from '@omnisync/client';
import { createNetworkSwitch, eventually, inProcessServer } from './helpers.js';

const srv = inProcessServer('omni-hooks-');
const APP = 'hooks';
type Todo = { id: string; title: string };

interface Peer {
  client: Client;
  source: ServerSource;
  events: ClientEvent[];
  handlerErrors: unknown[];
  /** While true, pushes wait; `failNextPush` makes the next one fail as a network error. */
  control: { holdPushes: boolean; failNextPush: boolean; release: () => void };
}

async function open(clientId: string): Promise<Peer> {
  const net = createNetworkSwitch();
  let release = () => {};
  const control = { holdPushes: false, failNextPush: false, release: () => release() };
  const fetch: FetchLike = async (url, init) => {
    if (url.endsWith('/push')) {
      if (control.failNextPush) {
        control.failNextPush = false;
        throw new TypeError('fetch failed (cut by the test)');
      }
      if (control.holdPushes) await new Promise<void>((r) => (release = r));
    }
    return net.fetch(url, init);
  };
  const handlerErrors: unknown[] = [];
  const client = createClient({ clientId, onError: (e) => handlerErrors.push(e) });
  const events: ClientEvent[] = [];
  client.events.onAny((e) => {
    events.push(e);
    throw new Error(`a broken ${e.type} handler`);
  });
  const source = createServerSource({
    app: APP,
    server: srv.url,
    fetch,
    WebSocket: net.WebSocket,
    pollIntervalMs: 200,
    backoff: { baseDelayMs: 20, maxDelayMs: 100 },
  });
  client.collection({ id: 'todos', source });
  await client.ready;
  return { client, source, events, handlerErrors, control };
}

const ofType = <K extends ClientEvent['type']>(p: Peer, type: K) =>
  p.events.filter((e): e is Extract<ClientEvent, { type: K }> => e.type === type);

test('every seed 004 hook is emitted with its payload while every handler throws, and sync goes on', async () => {
  const a = await open('hooks-a');
  const b = await open('hooks-b');
  try {
    const todosA = a.client.getCollection<Todo>('todos')!;
    const todosB = b.client.getCollection<Todo>('todos')!;
    await eventually(() => a.source.status.peek().state === 'online', 'A online');
    await eventually(() => b.source.status.peek().state === 'online', 'B online');

    // Captured and pushed.
    const tx = todosA.insert({ id: 't1', title: 'first' });
    await tx.promise;
    expect(ofType(a, 'sync.op:action:captured').map((e) => e.transaction.id)).toContain(tx.id);
    expect(ofType(a, 'sync.push:action:after')).toContainEqual(
      expect.objectContaining({
        source: a.source.id,
        attempt: 1,
        transaction: expect.objectContaining({ id: tx.id }),
      }),
    );

    // Received on B.
    await eventually(() => todosB.get('t1')?.title === 'first', 'B has t1');
    expect(ofType(b, 'sync.pull:action:received').some((e) => e.source === b.source.id && e.count > 0)).toBe(
      true,
    );

    // A conflict: A's push of t1 is held while B's newer write reaches A over the socket.
    a.control.holdPushes = true;
    const mine = todosA.update('t1', { title: 'by A' });
    await todosB.update('t1', { title: 'by B' }).promise;
    await eventually(() => ofType(a, 'sync.conflict:action:detected').length > 0, 'A saw the conflict');
    const conflict = ofType(a, 'sync.conflict:action:detected')[0]!;
    expect(conflict).toMatchObject({ collection: 'todos', id: 't1' });
    expect(conflict.pending.length).toBeGreaterThan(0);
    a.control.holdPushes = false;
    a.control.release();
    await mine.promise;

    // A push cut by the network: a retryable error, then the retry lands.
    a.control.failNextPush = true;
    const retried = todosA.insert({ id: 't2', title: 'after a cut' });
    await retried.promise;
    const failed = ofType(a, 'sync.error:action').find((e) => e.retryable);
    expect(failed?.error).toBeInstanceOf(Error);

    // Status changes, with the previous status.
    const statuses = ofType(a, 'sync.subscription:action:statusChange');
    expect(statuses.length).toBeGreaterThan(0);
    expect(statuses[0]).toEqual(expect.objectContaining({ source: a.source.id }));
    expect(statuses[0]!.status).not.toEqual(statuses[0]!.previous);

    // Sync was never broken by the throwing handlers: both converge.
    await eventually(
      () =>
        JSON.stringify([...todosA.all()].sort((x, y) => x.id.localeCompare(y.id))) ===
          JSON.stringify([...todosB.all()].sort((x, y) => x.id.localeCompare(y.id))) &&
        todosB.get('t2') !== undefined,
      'A and B converge',
    );
    // Each throw was reported, none was swallowed.
    expect(a.handlerErrors.length).toBeGreaterThanOrEqual(a.events.length);
  } finally {
    await a.client.close();
    await b.client.close();
  }
});
