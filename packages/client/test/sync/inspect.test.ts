/**
 * `client.experimental_inspect` against the real sync server (in process, real HTTP and
 * WebSocket on loopback): two clients edit one field while one of them is cut off; the
 * inspector of the one that lost names the winner with the HLC the server holds, and while
 * cut off it lists the waiting transaction in the outbox and the source's cursor.
 */
import { expect, test } from 'vitest';
import { type Client, createClient, createServerSource, type ServerSource } from '@omnisync/client';
import { createHttpTransport } from '../../src/transport/http-transport.js';
import { createNetworkSwitch, eventually, inProcessServer, type NetworkSwitch } from './helpers.js';

const srv = inProcessServer('omni-inspect-');
const APP = 'inspect';

interface Peer {
  client: Client;
  source: ServerSource;
  net: NetworkSwitch;
}

async function open(clientId: string): Promise<Peer> {
  const net = createNetworkSwitch();
  const client = createClient({ clientId, experimental_inspect: true, onError: () => {} });
  const source = createServerSource({
    app: APP,
    server: srv.url,
    fetch: net.fetch,
    WebSocket: net.WebSocket,
    pollIntervalMs: 200,
    backoff: { baseDelayMs: 20, maxDelayMs: 200 },
  });
  client.collection({ id: 'todos', source });
  await client.ready;
  return { client, source, net };
}

test('the inspector of the client whose write lost names the winner and the HLC the server holds', async () => {
  const a = await open('dev-a');
  const b = await open('dev-b');
  try {
    const todosA = a.client.getCollection<{ id: string; title: string }>('todos')!;
    const todosB = b.client.getCollection<{ id: string; title: string }>('todos')!;
    await todosA.insert({ id: 't1', title: 'shared' }).promise;
    await b.source.sync();
    expect(todosB.get('t1')?.title).toBe('shared');

    // A is cut off and writes first; B writes later (a higher HLC) and is online.
    a.net.online = false;
    const mine = todosA.update('t1', { title: 'by A' });
    await eventually(() => a.source.status.peek().state === 'offline', 'A offline');
    const [source] = a.client.experimental_inspect.sources();
    expect(source!.outbox!.map((e) => e.id)).toEqual([mine.id]);
    expect(source!.outbox![0]!.changes).toEqual([expect.objectContaining({ field: 'title', value: 'by A' })]);
    expect(source!.server).toMatchObject({ state: 'offline', pending: 1 });
    expect(source!.server!.cursor).toBeGreaterThan(0);
    await eventually(
      () => Date.now() > parseInt(mine.mutations[0]!.hlc.split('-')[0]!, 36),
      'the clock moved',
    );
    await todosB.update('t1', { title: 'by B' }).promise;

    a.net.online = true;
    await mine.promise;
    await a.source.sync();
    expect(todosA.get('t1')?.title).toBe('by B');

    const snap = await createHttpTransport({ server: srv.url, app: APP }).snapshot({
      queries: [{ collection: 'todos' }],
    });
    const held = snap.cells.find((c) => c.id === 't1' && c.field === 'title')!;
    const f = a.client.experimental_inspect.field('todos', 't1', 'title');
    expect(f.winner).toMatchObject({ value: 'by B', hlc: held.hlc, origin: 'dev-b' });
    expect(f.writes.map((w) => [w.value, w.origin, w.status])).toEqual([
      ['by B', 'dev-b', 'winner'],
      ['by A', 'dev-a', 'lost'],
      ['shared', 'dev-a', 'lost'],
    ]);
    expect(a.client.experimental_inspect.sources()[0]!.outbox).toEqual([]);
  } finally {
    await a.client.close();
    await b.client.close();
  }
});
