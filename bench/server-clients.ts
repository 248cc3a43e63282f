/**
 * Worker thread of bench/server.bench.ts, so the clients use the second core as remote
 * clients would, and the server has the main thread to itself:
 * - `push`: send prepared push bodies, one after the other from each of `pushers` clients at
 *   once (default 1), report the wall time;
 * - `connect`/`expect`: N WebSocket clients subscribed to one query; for each write it is
 *   told to expect, report every client's receipt latency.
 */
import { parentPort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';

const now = () => performance.timeOrigin + performance.now();
const port = parentPort!;
let expected = -1;
let t0 = 0;
let left = 0;
let latencies: number[] = [];
let bytes = 0;
let cells = 0;

port.on(
  'message',
  async (msg: {
    type: string;
    url?: string;
    app?: string;
    clients?: number;
    pinned?: boolean;
    cursor?: number;
    t0?: number;
    bodies?: string[];
    pushers?: number;
    headers?: Record<string, string>;
    /** One token per client (hello {token}); none: hello without one. */
    tokens?: string[];
  }) => {
    if (msg.type === 'push') {
      // `pushers` clients at once, each sending the next body as soon as its last one was acknowledged.
      const bodies = msg.bodies!;
      let next = 0;
      const t = performance.now();
      await Promise.all(
        Array.from({ length: msg.pushers ?? 1 }, async () => {
          while (next < bodies.length) {
            const body = bodies[next++]!;
            const res = await fetch(`${msg.url}/v1/apps/${msg.app}/push`, {
              method: 'POST',
              body,
              headers: { 'content-type': 'application/json', ...msg.headers },
            });
            if (res.status !== 200) throw new Error(`push failed: ${res.status} ${await res.text()}`);
            await res.arrayBuffer();
          }
        }),
      );
      port.postMessage({ type: 'pushed', ms: performance.now() - t });
    } else if (msg.type === 'connect') {
      const sockets: WebSocket[] = [];
      for (let i = 0; i < msg.clients!; i++) {
        const ws = new WebSocket(`${msg.url!.replace('http', 'ws')}/v1/apps/${msg.app}/live`, {
          perMessageDeflate: false,
        });
        await new Promise((r) => ws.once('open', r));
        ws.send(JSON.stringify(msg.tokens ? { type: 'hello', token: msg.tokens[i] } : { type: 'hello' }));
        const query = msg.pinned
          ? { collection: 'fan', where: { op: 'eq', field: 'ownerId', value: `u${i}` } }
          : { collection: 'fan' };
        ws.send(JSON.stringify({ type: 'subscribe', queryId: 'q', query }));
        await new Promise<void>((resolve) => {
          ws.on('message', (data: Buffer) => {
            const text = data.toString();
            if (text.startsWith('{"type":"subscribed"')) return resolve();
            if (!text.startsWith('{"type":"changes"')) return;
            const m = JSON.parse(text) as { cursor: number; cells: unknown[] };
            if (m.cursor !== expected) return;
            latencies.push(now() - t0);
            if (i === 0) {
              bytes += data.length;
              cells += m.cells.length;
            }
            if (--left === 0) port.postMessage({ type: 'done', latencies, bytes, cells });
          });
        });
        sockets.push(ws);
      }
      port.once('close', () => sockets.forEach((s) => s.terminate()));
      port.postMessage({ type: 'ready' });
    } else if (msg.type === 'expect') {
      expected = msg.cursor!;
      t0 = msg.t0!;
      left = msg.clients!;
      latencies = [];
      port.postMessage({ type: 'expecting' });
    } else if (msg.type === 'stop') process.exit(0);
  },
);
