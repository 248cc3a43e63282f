/**
 * Load generator of bench/connections.bench.ts, a process of its own (pinned to its own
 * core): plain `ws` sockets speaking protocol v1 (`hello` → `welcome`, `subscribe` →
 * `subscribed`, `push` → `ack`, live `changes`). JSON lines: commands on stdin, answers on
 * stdout.
 * - `idle {url, app, n, concurrency}`: open n sockets, each says hello and subscribes to its
 *   own `ownerId = u<i>` query, then stays silent; `ping` then checks every one still answers.
 * - `active {url, app, n, room, warmupS, seconds}`: n sockets in rooms of `room` clients, each
 *   subscribed to its room's query; each writes one document a second over its socket (spread
 *   evenly over the second); every other member of the room must receive it. Latency = write
 *   sent → change received, both stamped in this process (loopback, one clock).
 * - `close`: terminate every socket.
 */
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import WebSocket from 'ws';
import { createHlc, type HlcClock } from '../packages/core/src/index.ts';

const send = (m: object) => process.stdout.write(JSON.stringify(m) + '\n');
let sockets: WebSocket[] = [];

export type Handler = (msg: { type: string; [k: string]: any }) => void;

/**
 * Open one socket, say hello, subscribe (from `cursor` when given: a resume, whose catch-up
 * comes before `subscribed`); resolves once subscribed. Every message goes to `onMessage`.
 */
export function connect(
  url: string,
  app: string,
  query: object,
  onMessage?: Handler,
  cursor?: number,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/v1/apps/${app}/live`, {
      perMessageDeflate: false,
    });
    const timer = setTimeout(() => reject(new Error('no subscribed within 30 s')), 30_000);
    ws.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    ws.once('open', () => {
      ws.send(JSON.stringify({ type: 'hello' }));
      ws.send(JSON.stringify({ type: 'subscribe', queryId: 'q', query, ...(cursor ? { cursor } : {}) }));
    });
    ws.on('message', (data: Buffer) => {
      const msg = JSON.parse(data.toString()) as { type: string };
      if (msg.type === 'subscribed') {
        clearTimeout(timer);
        resolve(ws);
      } else if (msg.type === 'error') {
        clearTimeout(timer);
        reject(new Error(`server refused: ${data.toString()}`));
      }
      onMessage?.(msg);
    });
  });
}

/** Open `n` sockets, at most `concurrency` handshakes at once; `opened[i]` is socket i (a hole if it failed). */
export async function openMany(
  n: number,
  concurrency: number,
  open: (i: number) => Promise<WebSocket>,
): Promise<{ ms: number; failed: number; firstError?: string; opened: WebSocket[] }> {
  const t0 = performance.now();
  const sockets: WebSocket[] = [];
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        try {
          sockets[i] = await open(i);
        } catch (e) {
          failed++;
          firstError ??= (e as Error).message;
        }
      }
    }),
  );
  return { ms: performance.now() - t0, failed, ...(firstError ? { firstError } : {}), opened: sockets };
}

/** Ping every socket over the protocol; count the pongs within 30 s. */
function pingAll(): Promise<number> {
  return new Promise((resolve) => {
    let pongs = 0;
    const done = () => resolve(pongs);
    const timer = setTimeout(done, 30_000);
    for (const ws of sockets) {
      const on = (data: Buffer) => {
        if (!data.toString().startsWith('{"type":"pong"')) return;
        ws.off('message', on);
        if (++pongs === sockets.length) {
          clearTimeout(timer);
          done();
        }
      };
      ws.on('message', on);
      ws.send(JSON.stringify({ type: 'ping', id: 'p' }));
    }
  });
}

interface Active {
  url: string;
  app: string;
  n: number;
  room: number;
  warmupS: number;
  seconds: number;
  drainS: number;
  concurrency: number;
}

async function active(o: Active): Promise<void> {
  const roomOf = (i: number) => `r${Math.floor(i / o.room)}`;
  /** doc id → [send time, writer, receipts so far]; measured writes only. */
  const sent = new Map<string, { t: number; writer: number; got: number }>();
  const latencies: number[] = [];
  let measuring = false;
  let acks = 0;
  const { opened: all, ...opened } = await openMany(o.n, o.concurrency, (i) =>
    connect(
      o.url,
      o.app,
      { collection: 'msgs', where: { op: 'eq', field: 'room', value: roomOf(i) } },
      (msg) => {
        if (msg.type === 'ack') acks++;
        if (msg.type !== 'changes' || msg.queryId !== undefined) return;
        const now = performance.now();
        for (const c of msg.cells as { id: string; field: string }[]) {
          if (c.field !== 'id') continue;
          const s = sent.get(c.id);
          if (!s || s.writer === i) continue;
          latencies.push(now - s.t);
          s.got++;
        }
      },
    ),
  );
  sockets = all.filter(Boolean);
  if (opened.failed) {
    send({ type: 'active', error: `${opened.failed} of ${o.n} sockets failed: ${opened.firstError}` });
    return;
  }
  const hlcs: HlcClock[] = sockets.map((_, i) => createHlc({ nodeId: `load_${i}` }));
  // A probe beside the load: one more socket pings every 20 ms; its round trips show what
  // the machine (scheduling, both event loops) adds, apart from the fan-out work itself.
  const pings: number[] = [];
  let pingAt = 0;
  const probe = await connect(o.url, o.app, { collection: 'probe' }, (msg) => {
    if (msg.type === 'pong' && measuring) pings.push(performance.now() - pingAt);
  });
  const pinger = setInterval(() => {
    pingAt = performance.now();
    probe.send('{"type":"ping","id":"probe"}');
  }, 20);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let seq = 0;
  let writes = 0;
  const spacing = 1000 / o.n;
  const total = o.warmupS + o.seconds;
  let k = 0; // the k-th scheduled write: client k % n, due at t0 + k * spacing
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const now = performance.now();
      if (!measuring && now - t0 >= o.warmupS * 1000) {
        measuring = true;
        send({ type: 'measuring' });
      }
      while (t0 + k * spacing <= now) {
        if (k * spacing >= total * 1000) {
          clearInterval(tick);
          return resolve();
        }
        const i = k % o.n;
        k++;
        const id = `w${i}_${seq++}`;
        const hlc = hlcs[i]!.now();
        const changes = [
          { collection: 'msgs', id, field: 'id', value: id, hlc },
          { collection: 'msgs', id, field: 'room', value: roomOf(i), hlc },
          { collection: 'msgs', id, field: 'text', value: `message ${seq} from client ${i}`, hlc },
        ];
        const push = {
          type: 'push',
          requestId: id,
          clientId: `load_${i}`,
          mutations: [{ id: hlc, changes }],
        };
        if (measuring) sent.set(id, { t: performance.now(), writer: i, got: 0 });
        sockets[i]!.send(JSON.stringify(push));
        if (measuring) writes++;
      }
    }, 2);
  });
  clearInterval(pinger);
  send({ type: 'measured' });
  const cpu = process.cpuUsage(cpu0);
  const cpuPct = (cpu.user + cpu.system) / 10 / (performance.now() - t0);
  // Stragglers: wait for the last writes' fan-out (at most o.drainS seconds).
  const expected = writes * (o.room - 1);
  for (let waited = 0; latencies.length < expected && waited < o.drainS * 1000; waited += 50)
    await new Promise((r) => setTimeout(r, 50));
  probe.terminate();
  let missing = 0;
  for (const s of sent.values()) missing += o.room - 1 - s.got;
  send({
    type: 'active',
    connectMs: opened.ms,
    writes,
    seconds: o.seconds,
    expected,
    received: latencies.length,
    missing,
    acks,
    latencies: summarize(latencies),
    pings: summarize(pings),
    cpuPct,
    rssMB: process.memoryUsage().rss / 2 ** 20,
  });
}

/** p50, p99 and max of a sample (NaN when empty). */
export function summarize(xs: ArrayLike<number>): { p50: number; p99: number; max: number } {
  const s = Float64Array.from(xs).sort();
  const at = (p: number) => s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), max: s[s.length - 1] ?? NaN };
}

// Run as a process (not when imported for its helpers, as test/load/clients.ts does).
const main = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
for await (const line of main ? createInterface({ input: process.stdin }) : []) {
  const cmd = JSON.parse(line) as { type: string; [k: string]: any };
  if (cmd.type === 'idle') {
    const { opened, ...r } = await openMany(cmd.n, cmd.concurrency, (i) =>
      connect(cmd.url, cmd.app, {
        collection: 'todos',
        where: { op: 'eq', field: 'ownerId', value: `u${i}` },
      }),
    );
    sockets = opened.filter(Boolean);
    send({ type: 'idle', ...r, open: sockets.length, rssMB: process.memoryUsage().rss / 2 ** 20 });
  } else if (cmd.type === 'ping') {
    send({ type: 'ping', pongs: await pingAll(), of: sockets.length });
  } else if (cmd.type === 'active') {
    await active(cmd as unknown as Active);
  } else if (cmd.type === 'close') {
    for (const ws of sockets) ws.terminate();
    sockets = [];
    await new Promise((r) => setTimeout(r, 1_000));
    send({ type: 'closed' });
  } else if (cmd.type === 'stop') process.exit(0);
}
