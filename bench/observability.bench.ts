/**
 * The cost of observability (issue 15): push ingest and write → fan-out latency on a server
 * with metrics and tracing on (prom-client counting, `@opentelemetry/api` spans, no SDK: the
 * default) next to one with both off (`metrics: false, tracing: false`), in the same run,
 * interleaved. Then the same with a real OpenTelemetry SDK registered (sdk-trace-base, spans
 * processed and dropped by the exporter), which is the app's choice. Request ids are on in
 * every configuration. Goal: ≤ 5 % cost with metrics and tracing on.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { trace } from '@opentelemetry/api';
import {
  BasicTracerProvider,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { createServer, type OmniSyncServer } from '../packages/server/src/index.ts';
import { counted, createServerMetrics } from '../packages/server/src/observability/metrics.ts';
import { createServerTracing } from '../packages/server/src/observability/tracing.ts';
import { type BenchSection, fmtMs, fmtRate, median, performance } from './lib.ts';
import {
  CELLS_PER_DOC,
  clientsWorker,
  DOCS,
  fanOut,
  makeBatches,
  openApp,
  pushIngest,
} from './server.bench.ts';

const RUNS = 6; // interleaved ingest pairs per comparison
const FAN_ROUNDS = 5; // fan-out rounds per configuration (fresh servers each)
const FAN_CLIENTS = 100;

type Config = 'off' | 'on';

/** An exporter that drops what it is given: the SDK's span processing is measured, not I/O. */
const discard: SpanExporter = {
  export(spans: ReadableSpan[], done) {
    done({ code: 0 });
  },
  shutdown: () => Promise.resolve(),
};

const pause = () => new Promise((r) => setTimeout(r, 200));

function serverOf(dir: string, config: Config, name: string): OmniSyncServer {
  return createServer({
    dataDir: join(dir, name),
    durability: 'normal', // less fsync noise: what is left is the server's CPU work, where any overhead shows
    logLevel: 'silent',
    live: { maxBufferedBytes: 64 * 1024 * 1024 },
    ...(config === 'off' ? { metrics: false, tracing: false } : {}),
  });
}

/**
 * Interleaved ingest pairs (order alternating), each pair on a fresh pair of servers made in
 * alternating order, so neither configuration keeps a warmer process state; returns the
 * median changes/s of each and the median ratio on/off.
 */
async function ingest(
  dir: string,
  tag: string,
): Promise<{ off: number; on: number; cost: number; pushMsOff: number }> {
  const pusher = clientsWorker();
  const ms: Record<Config, number[]> = { off: [], on: [] };
  try {
    for (let r = 0; r < RUNS; r++) {
      const order: Config[] = r % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
      const servers = new Map<Config, { server: OmniSyncServer; url: string }>();
      for (const c of order) {
        const server = serverOf(dir, c, `${tag}-${c}-${r}`);
        servers.set(c, { server, url: (await server.listen(0)).url });
      }
      try {
        for (const c of order)
          await pushIngest(pusher, servers.get(c)!.url, 'warmup', makeBatches('w_').slice(0, 4));
        for (const c of order) {
          const { url } = servers.get(c)!;
          await openApp(url, 'ingest');
          await pause();
          ms[c].push((await pushIngest(pusher, url, 'ingest', makeBatches(`${c}${r}_`))).ms);
        }
      } finally {
        for (const { server } of servers.values()) await server.close();
      }
    }
  } finally {
    await pusher.worker.terminate();
  }
  const cells = DOCS * CELLS_PER_DOC;
  return {
    off: cells / (median(ms.off) / 1000),
    on: cells / (median(ms.on) / 1000),
    cost: median(ms.on.map((t, i) => t / ms.off[i]!)) - 1,
    pushMsOff: median(ms.off) / (DOCS / 500),
  };
}

/** Fan-out p50/p99 to FAN_CLIENTS clients, rounds alternating between the configurations. */
async function fan(dir: string, tag: string): Promise<Record<Config, { p50: number; p99: number }>> {
  const out: Record<Config, { p50: number[]; p99: number[] }> = {
    off: { p50: [], p99: [] },
    on: { p50: [], p99: [] },
  };
  for (let r = 0; r < FAN_ROUNDS; r++) {
    const order: Config[] = r % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
    for (const c of order) {
      const server = serverOf(dir, c, `${tag}-fan-${c}-${r}`);
      const { url } = await server.listen(0);
      try {
        const res = await fanOut(url, FAN_CLIENTS);
        out[c].p50.push(res.p50);
        out[c].p99.push(res.p99);
      } finally {
        await server.close();
      }
      await pause();
    }
  }
  return {
    off: { p50: median(out.off.p50), p99: median(out.off.p99) },
    on: { p50: median(out.on.p50), p99: median(out.on.p99) },
  };
}

/**
 * The bookkeeping one push adds, alone (no I/O, so no noise from the machine): the counters,
 * the ack histogram and the spans of a push (push, storage write, fan-out) and its fan-out
 * sample, per push, in µs.
 */
async function perPushBookkeepingUs(): Promise<number> {
  const metrics = createServerMetrics({ connections: () => 0, appSizes: () => Promise.resolve([]) });
  const tracing = createServerTracing(true);
  const attributes = { 'omnisync.app': 'bench', 'omnisync.mutations': 500 };
  const one = () =>
    counted(metrics, 'push', 'ws', () =>
      tracing.span('omnisync.push', attributes, () =>
        tracing.span('omnisync.storage.write', attributes, async () => {
          metrics.ingested(3000);
          tracing.spanSync('omnisync.fanout', attributes, () => metrics.fannedOut(0.001));
        }),
      ),
    );
  const N = 50_000;
  for (let i = 0; i < 5000; i++) await one();
  const t0 = performance.now();
  for (let i = 0; i < N; i++) await one();
  return ((performance.now() - t0) * 1000) / N;
}

const pct = (x: number, digits = 1) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(digits)} %`;

export default async function observabilityBench(): Promise<BenchSection> {
  const dir = mkdtempSync(join(tmpdir(), 'omnisync-bench-obs-'));
  const rows: (string | number)[][] = [];
  try {
    const us = await perPushBookkeepingUs();
    for (const sdk of [false, true]) {
      const label = sdk
        ? 'metrics + tracing with an OTel SDK registered'
        : 'metrics + tracing (API, no SDK: the default)';
      if (sdk)
        trace.setGlobalTracerProvider(
          new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(discard)] }),
        );
      try {
        const i = await ingest(dir, sdk ? 'sdk' : 'api');
        rows.push([
          `push ingest, ${label}`,
          `${fmtRate(i.off)} changes/s`,
          `${fmtRate(i.on)} changes/s`,
          `${pct(i.cost)} time (median of ${RUNS} interleaved pairs)`,
        ]);
        if (!sdk)
          rows.push([
            'bookkeeping of one push alone (counters, ack histogram, 3 no-op spans; no I/O, no noise)',
            '0',
            `${us.toFixed(2)} µs per push`,
            `${pct(us / 1000 / i.pushMsOff, 3)} of one 500-document push (${fmtMs(i.pushMsOff)} ms)`,
          ]);
        const f = await fan(dir, sdk ? 'sdk' : 'api');
        rows.push([
          `write → fan-out to ${FAN_CLIENTS} clients, ${label}`,
          `p50 ${fmtMs(f.off.p50)} ms, p99 ${fmtMs(f.off.p99)} ms`,
          `p50 ${fmtMs(f.on.p50)} ms, p99 ${fmtMs(f.on.p99)} ms`,
          `p50 ${pct(f.on.p50 / f.off.p50 - 1)}, p99 ${pct(f.on.p99 / f.off.p99 - 1)} (median of ${FAN_ROUNDS} rounds each)`,
        ]);
        if (!sdk)
          // Fan-out bookkeeping is per write, not per client: one span and one histogram sample
          // (both inside the per-push figure above), so its share of a fan-out is deterministic.
          rows.push([
            `bookkeeping of one fan-out alone (1 no-op span + 1 histogram sample per write, whatever the clients)`,
            '0',
            `≤ ${us.toFixed(2)} µs per write`,
            `${pct(us / 1000 / f.off.p50, 3)} of one fan-out to ${FAN_CLIENTS} clients (p50 ${fmtMs(f.off.p50)} ms); the latency rows above are the machine's noise`,
          ]);
      } finally {
        if (sdk) trace.disable();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    title: 'Observability cost: metrics and tracing on vs off (issue 15)',
    notes: `HTTP pushes of 500 documents × ${CELLS_PER_DOC} cells (${DOCS} documents a run) from a worker thread, durability normal; fan-out of one-document writes to ${FAN_CLIENTS} WebSocket clients on a worker thread. "off" is \`metrics: false, tracing: false\`; request ids are on in both. Goal: ≤ 5 % cost with metrics and tracing on`,
    columns: ['what', 'off', 'on', 'cost'],
    rows,
  };
}
