/**
 * `client.room(name)` with three real clients on a real server (loopback HTTP/WebSocket, JWT
 * auth): join and everyone's presence, a presence update, events in HLC order, leave, a
 * client whose network goes silent dropped by the server's heartbeat (its socket runs
 * through a loopback TCP proxy the test freezes, so no close ever reaches the server) and
 * back when the network is, and a token of another app refused.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createTcpServer, type Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, expect, test } from 'vitest';
import WebSocket from 'ws';
import { type Client, createClient, type Room, type RoomEvent } from '@omnisync/client';
import { createLogger, createServer } from '@omnisync/server';
import type { WebSocketConstructor } from '../../src/transport/types.js';
import { eventually } from './helpers.js';

const SECRET = 'rooms-test-secret-0123456789abcdef';
const APP = 'roomy';
const HEARTBEAT_MS = 150;

const token = (sub: string, app = APP) =>
  new SignJWT({ sub, app })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + 3600)
    .sign(new TextEncoder().encode(SECRET));

/** A loopback TCP proxy to `port` that can stop forwarding (both ways) without closing anything. */
async function tcpProxy(port: number) {
  const pairs = new Set<[Socket, Socket]>();
  let frozen = false;
  const server: Server = createTcpServer((down) => {
    const up = new Socket();
    up.connect(port, '127.0.0.1');
    const pair: [Socket, Socket] = [down, up];
    pairs.add(pair);
    down.on('data', (d) => up.write(d));
    up.on('data', (d) => down.write(d));
    const end = () => {
      pairs.delete(pair);
      down.destroy();
      up.destroy();
    };
    for (const s of pair) {
      s.on('close', end);
      s.on('error', end);
      if (frozen) s.pause();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    freeze() {
      frozen = true;
      for (const p of pairs) for (const s of p) s.pause();
    },
    thaw() {
      frozen = false;
      for (const p of pairs) for (const s of p) s.resume();
    },
    close() {
      for (const p of pairs) for (const s of p) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

let dir: string;
let server: ReturnType<typeof createServer>;
let url: string;
const logLines: { msg?: string; conn?: string }[] = [];
const clients: Client[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'omni-rooms-'));
  server = createServer({
    dataDir: dir,
    auth: { secret: SECRET },
    live: { heartbeatMs: HEARTBEAT_MS },
    logger: createLogger('info', { write: (s: string) => void logLines.push(JSON.parse(s)) }),
  });
  url = (await server.listen(0)).url;
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function open(sub: string, options: { app?: string; server?: string } = {}): Promise<Client> {
  const jwt = await token(sub, options.app);
  const client = createClient({
    app: APP,
    server: options.server ?? url,
    auth: () => jwt,
    serverOptions: {
      WebSocket: WebSocket as unknown as WebSocketConstructor,
      heartbeatMs: HEARTBEAT_MS,
      backoff: { baseDelayMs: 20, maxDelayMs: 200 },
    },
    onError: () => {},
  });
  clients.push(client);
  await client.ready;
  return client;
}

type Who = { name: string; typing?: boolean };
const names = (room: Room<Who>) =>
  room.presence.others
    .get()
    .map((m) => `${m.user}:${m.state?.name ?? '-'}${m.state?.typing ? '+typing' : ''}`)
    .sort();

test('three clients: join, presence, an update, events in HLC order, leave, heartbeat drop, another app refused', async () => {
  const proxy = await tcpProxy(Number(new URL(url).port));
  try {
    const [a, b] = [await open('alice'), await open('bob')];
    const c = await open('carol', { server: proxy.url });
    const ra = a.room<Who>('board');
    const rb = b.room<Who>('board');
    const rc = c.room<Who>('board');
    expect(a.room('board')).toBe(ra); // one instance per name

    // ── join: everyone sees the other two with their presence ─────────────
    await ra.join({ name: 'A' });
    await rb.join({ name: 'B' });
    await rc.join({ name: 'C' });
    expect(ra.user.get()).toBe('alice');
    expect(ra.presence.mine.get()).toEqual({ name: 'A' });
    await eventually(() => names(ra).join() === 'bob:B,carol:C', 'A sees B and C');
    await eventually(() => names(rb).join() === 'alice:A,carol:C', 'B sees A and C');
    expect(names(rc)).toEqual(['alice:A', 'bob:B']);

    // ── a presence update reaches the others ──────────────────────────────
    rb.presence.set({ name: 'B', typing: true });
    await eventually(() => names(ra).includes('bob:B+typing'), 'A sees B typing');
    await eventually(() => names(rc).includes('bob:B+typing'), 'C sees B typing');

    // ── events: delivered in HLC order, never echoed ──────────────────────
    const seen: Record<string, RoomEvent[]> = { a: [], b: [], c: [] };
    ra.on('*', (e) => seen.a!.push(e));
    rb.on('*', (e) => seen.b!.push(e));
    const offC = rc.on('tick', (e) => seen.c!.push(e));
    const N = 20;
    for (let i = 0; i < N; i++) {
      expect(ra.broadcast('tick', { from: 'A', i })).toBe(true);
      rb.broadcast('tick', { from: 'B', i });
    }
    await eventually(() => seen.c!.length === 2 * N, 'C got every event');
    await eventually(() => seen.a!.length === N && seen.b!.length === N, 'A and B got the other one’s');
    for (const list of Object.values(seen)) {
      const stamps = list.map((e) => e.hlc);
      expect(stamps).toEqual([...stamps].sort());
      expect(new Set(stamps).size).toBe(stamps.length);
    }
    expect(seen.a!.every((e) => e.from === 'bob')).toBe(true);
    expect(seen.b!.every((e) => e.from === 'alice')).toBe(true);
    // Each sender's events keep the order it sent them in.
    for (const from of ['A', 'B'])
      expect(
        seen
          .c!.filter((e) => (e.payload as { from: string }).from === from)
          .map((e) => (e.payload as { i: number }).i),
      ).toEqual(Array.from({ length: N }, (_, i) => i));
    offC();

    // ── leave: the others see the member go ───────────────────────────────
    ra.leave();
    expect(ra.status.get()).toBe('idle');
    expect(() => ra.broadcast('tick')).toThrow(/Join room/);
    await eventually(() => names(rb).join() === 'carol:C', 'B sees A gone');
    await eventually(() => names(rc).join() === 'bob:B+typing', 'C sees A gone');

    // ── C's network goes silent: the server's heartbeat drops it ─────────
    proxy.freeze();
    await eventually(() => names(rb).join() === '', 'B sees C dropped by the heartbeat');
    expect(logLines.some((l) => l.msg === 'dead connection dropped')).toBe(true);
    await eventually(() => rc.status.get() === 'reconnecting', 'C notices the silence');
    proxy.thaw();
    await eventually(() => rc.status.get() === 'joined', 'C joined again once the network is back');
    await eventually(() => names(rb).join() === 'carol:C', 'B sees C back, with its presence');

    // ── a token of another app is refused ─────────────────────────────────
    const d = await open('mallory', { app: 'other-app' });
    const rd = d.room<Who>('board');
    const joined = rd.join({ name: 'D' });
    await expect(joined).rejects.toMatchObject({ code: 'forbidden' });
    expect(rd.status.get()).toBe('refused');
    expect(rd.error.get()?.code).toBe('forbidden');
    await rb.join(); // already joined: no-op
    expect(names(rb)).toEqual(['carol:C']);
  } finally {
    await proxy.close();
  }
});

test('who left is gone for the next to join; rooms need a server and a sane name', async () => {
  const e = await open('erin');
  const room = e.room<Who>('ephemeral');
  await room.join({ name: 'E' });
  expect(room.presence.others.get()).toEqual([]);
  room.leave();
  const f = await open('frank');
  const later = f.room<Who>('ephemeral');
  await later.join({ name: 'F' });
  expect(later.presence.others.get()).toEqual([]);
  // Erin joins again: Frank sees her, she sees him.
  await room.join();
  await eventually(() => names(later).join() === 'erin:E', 'F sees E back');
  expect(names(room)).toEqual(['frank:F']);

  const local = createClient({});
  clients.push(local);
  expect(() => local.room('x')).toThrow(/app, server/);
  expect(() => e.room('')).toThrow(/1-256 characters/);
});
