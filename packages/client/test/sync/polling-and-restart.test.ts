/**
 * Transport fallbacks against the sync server process: polling when WebSocket is turned
 * off or cannot connect, and a live connection that survives the server being killed
 * (SIGKILL) and restarted on the same port and data: the client reconnects with backoff and
 * resumes by cursor, sending what it wrote meanwhile.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, expect, test } from 'vitest';
import WebSocket from 'ws';
import { createClient, createServerSource, type WebSocketConstructor } from '@omnisync/client';
import { createNetworkSwitch, eventually, type ServerProcess, startServerProcess } from './helpers.js';

const APP = 'fallback';
let dir: string;
let server: ServerProcess | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'omni-fallback-'));
});
afterEach(async () => {
  await server?.stop();
  server = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function peer(url: string, WS: WebSocketConstructor | null, liveMode: 'changes' | 'poke' = 'changes') {
  const client = createClient({ onError: () => {} });
  const source = createServerSource({
    app: APP,
    server: url,
    WebSocket: WS,
    liveMode,
    // Slow polling: only the socket can make these tests fast.
    pollIntervalMs: liveMode === 'poke' ? 60_000 : 100,
    requestTimeoutMs: 3000,
    backoff: { baseDelayMs: 50, maxDelayMs: 400 },
  });
  const todos = client.collection<{ id: string; n: number }>({ id: 'todos', source });
  return { client, source, todos };
}

/** A WebSocket that can never connect (a server or proxy without WebSocket support). */
class UnreachableWebSocket extends WebSocket {
  constructor(_url: string) {
    super('ws://127.0.0.1:9/');
  }
}

test('with WebSocket disabled, or unable to connect, clients converge by polling', async () => {
  server = await startServerProcess({ dataDir: dir });
  const off = peer(server.url, null);
  const broken = peer(server.url, UnreachableWebSocket as unknown as WebSocketConstructor);
  await off.todos.insert({ id: 'p1', n: 1 }).promise;
  await eventually(() => broken.todos.get('p1')?.n === 1, 'broken-live client polled p1');
  await broken.todos.insert({ id: 'p2', n: 2 }).promise;
  broken.todos.update('p1', { n: 10 });
  await eventually(
    () => off.todos.get('p2')?.n === 2 && off.todos.get('p1')?.n === 10,
    'no-live client polled',
  );
  for (const p of [off, broken])
    expect(p.source.status.get()).toMatchObject({ transport: 'polling', online: true });
  await off.client.close();
  await broken.client.close();
});

test('the server killed and restarted on the same port: live reconnects and resumes by cursor', async () => {
  server = await startServerProcess({ dataDir: dir });
  const port = server.port;
  const net = createNetworkSwitch();
  const a = peer(server.url, net.WebSocket);
  const b = peer(server.url, WebSocket as unknown as WebSocketConstructor);
  await eventually(
    () => a.source.status.get().transport === 'websocket' && b.source.status.get().transport === 'websocket',
    'both live',
  );
  await a.todos.insert({ id: 'k1', n: 1 }).promise;
  await eventually(() => b.todos.get('k1')?.n === 1, 'live before the kill');

  await server.kill();
  await eventually(() => a.source.status.get().transport === 'polling', 'A noticed the socket dropped');
  // Written while the server is down: waits in A's outbox.
  const offline = a.todos.update('k1', { n: 2 });
  await eventually(() => a.source.status.get().state === 'offline', 'A offline');
  expect(a.source.status.get().pending).toBe(1);

  server = await startServerProcess({ dataDir: dir, port });
  await offline.promise;
  await eventually(() => b.todos.get('k1')?.n === 2, 'B got the offline write after the restart');
  await eventually(
    () => a.source.status.get().transport === 'websocket' && b.source.status.get().transport === 'websocket',
    'both live again',
  );
  // Live again: a new write reaches the other side over the socket, cursors in step.
  await b.todos.insert({ id: 'k2', n: 3 }).promise;
  await eventually(() => a.todos.get('k2')?.n === 3, 'live after the restart');
  await eventually(() => a.source.status.get().cursor === b.source.status.get().cursor, 'same cursor');
  await a.client.close();
  await b.client.close();
});

test('poke mode: the socket only says "pull now", the cursor moves by pulls', async () => {
  server = await startServerProcess({ dataDir: dir });
  const writer = peer(server.url, null);
  const poked = peer(server.url, WebSocket as unknown as WebSocketConstructor, 'poke');
  await eventually(() => poked.source.status.get().transport === 'websocket', 'poke socket up');
  await writer.todos.insert({ id: 'q1', n: 1 }).promise;
  await eventually(() => poked.todos.get('q1')?.n === 1, 'poked client pulled q1');
  writer.todos.update('q1', { n: 2 });
  await eventually(() => poked.todos.get('q1')?.n === 2, 'poked client pulled the update');
  await writer.client.flush();
  await eventually(
    () => poked.source.status.get().cursor === writer.source.status.get().cursor,
    'same cursor',
  );
  await writer.client.close();
  await poked.client.close();
});
