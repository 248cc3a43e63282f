/**
 * A loopback TCP proxy for the chaos runner (node:net): one listener in front of one server
 * process. Clients dial the proxy's fixed port; the proxy forwards to wherever the server
 * listens now (a restarted server gets a new port: `retarget`). Faults: `cut()` destroys every
 * connection at once (both sides see a reset), `blackhole(true)` keeps connections open but
 * forwards nothing either way and holds new ones silently (a partition: only timeouts tell),
 * `delay(ms)` holds every chunk `ms` before passing it on (order kept).
 */
import { createServer, type Server, type Socket, connect } from 'node:net';

/** One proxy in front of one server. */
export interface ChaosProxy {
  /** The URL clients use: `http://127.0.0.1:<proxy port>`. */
  readonly url: string;
  readonly port: number;
  /** Forward new connections to this port from now on. */
  retarget(port: number): void;
  /** Destroy every open connection (the clients see them reset). */
  cut(): number;
  /** While on, nothing passes and new connections hang; off: everything flows again (held data included). */
  blackhole(on: boolean): void;
  /** Hold every chunk this many ms before forwarding (0: none). */
  delay(ms: number): void;
  /** Open connection pairs now. */
  readonly open: number;
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  upstream: Socket | undefined;
  /** Chunks held while blackholed (or before the upstream is dialled). */
  readonly held: { to: 'up' | 'down'; data: Buffer }[];
  /** Chunks waiting out a delay, per direction. */
  readonly queue: Record<'up' | 'down', { due: number; data: Buffer }[]>;
  readonly timer: Record<'up' | 'down', NodeJS.Timeout | undefined>;
}

/** Start a proxy on a free loopback port, forwarding to `targetPort`. */
export async function startProxy(targetPort: number): Promise<ChaosProxy> {
  let target = targetPort;
  let holeOn = false;
  let delayMs = 0;
  const pairs = new Set<Pair>();

  const destroy = (p: Pair) => {
    pairs.delete(p);
    clearTimeout(p.timer.up);
    clearTimeout(p.timer.down);
    p.client.destroy();
    p.upstream?.destroy();
  };
  const write = (p: Pair, to: 'up' | 'down', data: Buffer) => {
    const sock = to === 'up' ? p.upstream : p.client;
    if (!sock || sock.destroyed) return;
    sock.write(data);
  };
  /** Delayed chunks leave in order: one queue and one timer per direction. */
  const pump = (p: Pair, to: 'up' | 'down') => {
    const q = p.queue[to];
    const now = Date.now();
    while (q.length > 0 && q[0]!.due <= now) write(p, to, q.shift()!.data);
    p.timer[to] = q.length > 0 ? setTimeout(() => pump(p, to), q[0]!.due - now) : undefined;
  };
  const pass = (p: Pair, to: 'up' | 'down', data: Buffer) => {
    if (holeOn || !p.upstream) {
      p.held.push({ to, data });
      return;
    }
    const q = p.queue[to];
    if (delayMs === 0 && q.length === 0) {
      write(p, to, data);
      return;
    }
    const due = Math.max(Date.now() + delayMs, q.length > 0 ? q[q.length - 1]!.due : 0);
    q.push({ due, data });
    if (p.timer[to] === undefined) p.timer[to] = setTimeout(() => pump(p, to), due - Date.now());
  };
  const drain = (p: Pair) => {
    if (holeOn || !p.upstream) return;
    for (const h of p.held.splice(0)) pass(p, h.to, h.data);
  };
  const dial = (p: Pair) => {
    const up = connect({ host: '127.0.0.1', port: target });
    p.upstream = up;
    up.setNoDelay(true);
    up.on('data', (d: Buffer) => pass(p, 'down', d));
    up.on('error', () => destroy(p));
    up.on('close', () => destroy(p));
  };

  const server: Server = createServer((client) => {
    client.setNoDelay(true);
    const p: Pair = {
      client,
      upstream: undefined,
      held: [],
      queue: { up: [], down: [] },
      timer: { up: undefined, down: undefined },
    };
    pairs.add(p);
    client.on('data', (d: Buffer) => pass(p, 'up', d));
    client.on('error', () => destroy(p));
    client.on('close', () => destroy(p));
    if (!holeOn) dial(p);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    retarget(p) {
      target = p;
    },
    cut() {
      const n = pairs.size;
      for (const p of [...pairs]) {
        p.client.resetAndDestroy();
        p.upstream?.resetAndDestroy();
        destroy(p);
      }
      return n;
    },
    blackhole(on) {
      holeOn = on;
      if (on) return;
      for (const p of pairs) {
        if (!p.upstream) dial(p);
        drain(p);
      }
    },
    delay(ms) {
      delayMs = ms;
    },
    get open() {
      return pairs.size;
    },
    async close() {
      for (const p of [...pairs]) destroy(p);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
