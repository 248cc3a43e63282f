/**
 * Shared pieces of the client-transport integration tests: the real sync server as a child
 * process (the CLI), a switch that cuts a client's real network (fetch and WebSocket), and
 * comparing what every replica shows with the server's snapshot.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { createServer } from '@omnisync/server';
import { type ServerProcess, startServe } from '../../../server/test/helpers/serve-process.js';
import { type Cell, Replica } from '@omnisync/core';
import WebSocket from 'ws';
import type { FetchLike, WebSocketConstructor } from '../../src/transport/types.js';
import { createHttpTransport } from '../../src/transport/http-transport.js';

export type { ServerProcess } from '../../../server/test/helpers/serve-process.js';

/** Start `omnisync serve` on a random loopback port (or `port`) and wait until it listens. */
export function startServerProcess(options: {
  dataDir: string;
  port?: number;
  authSecret?: string;
}): Promise<ServerProcess> {
  const args = ['--port', String(options.port ?? 0), '--data', options.dataDir, '--durability', 'normal'];
  args.push('--log-level', 'info');
  if (options.authSecret) args.push('--auth-secret', options.authSecret);
  return startServe(args);
}

/**
 * A switch in front of one client's real network: while off, fetch fails like an unplugged
 * cable and WebSockets are cut and cannot connect (they dial a port nobody listens on).
 */
export interface NetworkSwitch {
  readonly fetch: FetchLike;
  readonly WebSocket: WebSocketConstructor;
  online: boolean;
  /** Every request body sent, by endpoint (for cursor checks). */
  readonly sent: { url: string; body: unknown; status?: number }[];
}

/** Create a network switch (initially on). */
export function createNetworkSwitch(): NetworkSwitch {
  const sockets = new Set<WebSocket>();
  const net = {
    online: true,
    sent: [] as { url: string; body: unknown; status?: number }[],
  } as NetworkSwitch & { online: boolean };
  let online = true;
  Object.defineProperty(net, 'online', {
    get: () => online,
    set: (v: boolean) => {
      online = v;
      if (!v) for (const s of sockets) s.terminate();
    },
  });
  (net as { fetch: FetchLike }).fetch = async (url, init) => {
    if (!online) throw new TypeError('fetch failed (network switched off by the test)');
    // A fetch of its own gets JSON text: the transport compresses only with the global fetch.
    const rec: { url: string; body: unknown; status?: number } = {
      url,
      body: JSON.parse(init.body as string),
    };
    net.sent.push(rec);
    const res = await fetch(url, init);
    rec.status = res.status;
    if (!online) throw new TypeError('fetch failed (network switched off by the test)');
    return res;
  };
  class SwitchedWebSocket extends WebSocket {
    constructor(url: string) {
      super(online ? url : 'ws://127.0.0.1:9/');
      sockets.add(this);
      this.on('close', () => sockets.delete(this));
    }
  }
  (net as { WebSocket: WebSocketConstructor }).WebSocket =
    SwitchedWebSocket as unknown as WebSocketConstructor;
  return net;
}

/** Visible documents of a replica built from cells (tombstoned documents left out), sorted by id. */
export function documentsOf(cells: readonly Cell[], collection: string): Record<string, unknown>[] {
  const r = new Replica();
  r.apply(cells);
  const out: Record<string, unknown>[] = [];
  for (const c of new Set(cells.filter((x) => x.collection === collection).map((x) => x.id))) {
    const d = r.get(collection, c);
    if (d !== undefined) out.push(d as Record<string, unknown>);
  }
  return out.sort((a, b) => String(a.id).localeCompare(String(b.id)));
}

/** The server's documents of a collection, from a real snapshot request. */
export async function serverDocuments(url: string, app: string, collection: string, token?: string) {
  const http = createHttpTransport({ server: url, app, ...(token ? { auth: () => token } : {}) });
  const snap = await http.snapshot({ queries: [{ collection }] });
  const cells = snap.cells.map((c) => ({ ...c, value: c.value }) as Cell);
  return documentsOf(cells, collection);
}

/** Sort documents by id (for comparing replicas). */
export const byId = <T extends { id: string }>(docs: readonly T[]): T[] =>
  [...docs].sort((a, b) => a.id.localeCompare(b.id));

/** Wait (real time) until `check` returns true; fails with `what` after `timeoutMs`. */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A sync server in this test process (see {@link inProcessServer}); fields set before the tests run. */
export interface InProcessServer {
  /** A fresh temporary directory (the server's data is under `server/`), removed afterwards. */
  dir: string;
  server: ReturnType<typeof createServer>;
  url: string;
}

/**
 * For the calling test file: a real server (`createServer`, SQLite, durability off) on a
 * random loopback port, started before its tests and closed (its directory removed) after.
 */
export function inProcessServer(
  prefix: string,
  options: Omit<Parameters<typeof createServer>[0], 'dataDir'> = {},
): InProcessServer {
  const s = {} as InProcessServer;
  beforeAll(async () => {
    s.dir = mkdtempSync(join(tmpdir(), prefix));
    s.server = createServer({
      dataDir: join(s.dir, 'server'),
      durability: 'off',
      logLevel: 'silent',
      ...options,
    });
    s.url = (await s.server.listen(0)).url;
  });
  afterAll(async () => {
    await s.server.close();
    rmSync(s.dir, { recursive: true, force: true });
  });
  return s;
}
