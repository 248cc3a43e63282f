/**
 * The cost of permission rules on reads (issue 13): write → receipt fan-out latency to N
 * WebSocket clients, each authenticated as its own principal (`sub: u<i>`), on a server with
 * 10 collections of read rules and a read mask next to the same server without rules, in the
 * same run, interleaved on fresh servers (order alternating). With rules every connection
 * tests each change on the read rule (before and after) and masks its cells; the writes are
 * public, so every client receives every one in both configurations. Goal: ≤ 20 % slower.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { createHlc, defineRules, op, type Principal, principal } from '../packages/core/src/index.ts';
import { createServer, type OmniSyncServer } from '../packages/server/src/index.ts';
import { readFilterOf } from '../packages/server/src/engine/read-rules.ts';
import { createRulesEvaluator } from '../packages/core/src/index.ts';
import { type BenchSection, fmtMs, median, percentile } from './lib.ts';
import { clientsWorker } from './server.bench.ts';

const RUNS = Number(process.env.OMNISYNC_BENCH_RUNS ?? 4); // interleaved pairs per client count
const WRITES = 30;
const SECRET = 'bench-rules-fanout-secret-0123456789abcdef';
type Config = 'off' | 'on';

const isAdmin = (p: Principal) => Array.isArray(p.roles) && p.roles.includes('admin');
const owned = { ownerId: principal('sub') };
/** Read rules of 10 collections; the writes go to `fan` (owner, team or public, a read mask). */
const RULES = defineRules({
  fan: {
    read: (p) =>
      isAdmin(p)
        ? true
        : op.or(
            op.eq('ownerId', principal('sub')),
            op.in('team', [principal('teams')]),
            op.eq('public', true),
          ),
    readMask: (p) => (isAdmin(p) ? [] : ['secret', 'audit.by']),
    insert: true,
    update: true,
    delete: true,
  },
  ...Object.fromEntries(
    ['projects', 'comments', 'labels', 'members', 'files', 'events', 'invites', 'settings', 'logs'].map(
      (c, i) => [
        c,
        { read: i % 2 ? owned : { team: principal('teams') }, readMask: ['secret'], insert: owned },
      ],
    ),
  ),
});

const sign = (claims: Record<string, unknown>) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(Math.floor(Date.now() / 1000) + 3600)
    .sign(new TextEncoder().encode(SECRET));

const METRICS_TOKEN = 'bench-metrics-token';

/** The server's own fan-out time so far (sum and count of omnisync_fanout_duration_seconds). */
async function fanoutSeconds(url: string): Promise<{ sum: number; count: number }> {
  const res = await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  const text = await res.text();
  const read = (name: string) =>
    Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return {
    sum: read('omnisync_fanout_duration_seconds_sum'),
    count: read('omnisync_fanout_duration_seconds_count'),
  };
}

/**
 * One run: N authenticated clients subscribed to `fan`; per write, every client's receipt
 * latency, and the server's mean time in fan-out per commit (routing, the rule tests, masks
 * and socket writes, on its main thread) over the timed writes.
 */
async function fanOut(
  url: string,
  app: string,
  clients: number,
): Promise<{ samples: number[]; serverMs: number }> {
  const tokens = await Promise.all(
    Array.from({ length: clients }, (_, i) => sign({ app, sub: `u${i}`, teams: [`t${i % 10}`] })),
  );
  const headers = { authorization: `Bearer ${await sign({ app, sub: 'writer' })}` };
  const { worker, next } = clientsWorker();
  worker.postMessage({ type: 'connect', url, app, clients, tokens });
  await next('ready');
  const hlc = createHlc({ nodeId: 'bench_writer' });
  const samples: number[] = [];
  let start = { sum: 0, count: 0 };
  try {
    for (let k = 0; k < WRITES + 5; k++) {
      const stamp = hlc.now();
      const id = `d${k}`;
      const cell = (field: string, value: unknown) => ({ collection: 'fan', id, field, value, hlc: stamp });
      const changes = [
        cell('id', id),
        cell('title', `write ${k}`),
        cell('ownerId', `u${k % clients}`),
        cell('public', true),
        cell('secret', `s${k}`),
      ];
      const body = JSON.stringify({ clientId: 'writer', mutations: [{ id: `w${k}`, changes }] });
      const t0 = performance.timeOrigin + performance.now();
      worker.postMessage({ type: 'expect', cursor: k + 1, t0, clients });
      await next('expecting');
      const done = next('done');
      const res = await fetch(`${url}/v1/apps/${app}/push`, { method: 'POST', body, headers });
      if (res.status !== 200) throw new Error(`push failed: ${res.status} ${await res.text()}`);
      await res.arrayBuffer();
      const report = await done;
      if (k >= 5) samples.push(...report.latencies); // the first writes warm up
      if (k === 4) start = await fanoutSeconds(url);
    }
  } finally {
    worker.postMessage({ type: 'stop' });
    await new Promise((r) => worker.once('exit', r));
  }
  const end = await fanoutSeconds(url);
  return { samples, serverMs: ((end.sum - start.sum) / Math.max(1, end.count - start.count)) * 1000 };
}

/**
 * The rule work fan-out adds per connection and change, on the CPU alone (what
 * `#deliverRuled` does beyond `#deliver`): for a whole-collection subscription the read rule
 * on the document before and after; for a filtered one also the masked views it is matched
 * on; then the mask of the changed cells. Timed in a loop; the fastest of 7 rounds (a loaded
 * machine preempts the others).
 */
export function ruleWorkMicros(filtered: boolean): number {
  const rules = createRulesEvaluator(RULES);
  const reads = readFilterOf(rules, { sub: 'u7', teams: ['t7'] })!;
  const before = { id: 'd1', title: 'a', ownerId: 'u1', public: true, secret: 's' };
  const after = { ...before, title: 'b' };
  const changed = [{ collection: 'fan', id: 'd1', field: 'title', value: 'b', hlc: 'h' }];
  const N = 100_000;
  let best = Infinity;
  let sink = 0;
  for (let r = 0; r < 7; r++) {
    const t = performance.now();
    for (let i = 0; i < N; i++) {
      if (filtered) {
        if (reads.view('fan', before) !== undefined) sink++;
        if (reads.view('fan', after) !== undefined) sink++;
      } else {
        if (reads.canRead('fan', before)) sink++;
        if (reads.canRead('fan', after)) sink++;
      }
      sink += reads.cells('fan', changed).length;
    }
    best = Math.min(best, ((performance.now() - t) * 1000) / N);
  }
  if (sink === 0) throw new Error('nothing evaluated');
  return best;
}

const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;

export default async function rulesFanoutBench(): Promise<BenchSection> {
  const dir = mkdtempSync(join(tmpdir(), 'omnisync-bench-rules-fanout-'));
  const rows: (string | number)[][] = [];
  try {
    for (const filtered of [false, true]) {
      const micros = ruleWorkMicros(filtered);
      rows.push([
        `rule work per connection and change, ${filtered ? 'filtered subscription (read rule and masked views before and after)' : 'whole-collection subscription (read rule before and after)'}, plus the mask of the changed cells (CPU loop)`,
        '—',
        `${micros.toFixed(2)} µs`,
        `${((micros / 9) * 100).toFixed(0)} % of the ~9 µs a loopback socket write costs each connection (server bench notes)`,
      ]);
    }
    for (const clients of [100, 1000]) {
      const p50: Record<Config, number[]> = { off: [], on: [] };
      const p99: Record<Config, number[]> = { off: [], on: [] };
      const server: Record<Config, number[]> = { off: [], on: [] };
      for (let r = 0; r < RUNS; r++) {
        const order: Config[] = r % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
        for (const c of order) {
          const srv: OmniSyncServer = createServer({
            dataDir: join(dir, `${clients}-${c}-${r}`),
            durability: 'normal',
            logLevel: 'silent',
            auth: { secret: SECRET },
            live: { maxBufferedBytes: 64 * 1024 * 1024 },
            metricsToken: METRICS_TOKEN,
            ...(c === 'on' ? { rules: RULES } : {}),
          });
          try {
            const { url } = await srv.listen(0);
            const { samples, serverMs } = await fanOut(url, 'fan', clients);
            p50[c].push(median(samples));
            p99[c].push(percentile(samples, 99));
            server[c].push(serverMs);
          } finally {
            await srv.close();
          }
        }
      }
      const ratio = median(p50.on.map((t, i) => t / p50.off[i]!));
      const serverRatio = median(server.on.map((t, i) => t / server.off[i]!));
      rows.push([
        `server time in fan-out per commit, ${clients} clients (route, rule tests, masks, socket writes)`,
        `${fmtMs(median(server.off))} ms`,
        `${fmtMs(median(server.on))} ms`,
        `${pct(serverRatio - 1)} (median ratio of ${RUNS} interleaved pairs; ${serverRatio <= 1.2 ? 'goal ≤ +20 % met' : 'goal ≤ +20 % missed'})`,
      ]);
      rows.push([
        `write → fan-out latency, ${clients} authenticated WebSocket clients (p50 / p99)`,
        `${fmtMs(median(p50.off))} / ${fmtMs(median(p99.off))} ms`,
        `${fmtMs(median(p50.on))} / ${fmtMs(median(p99.on))} ms`,
        `${pct(ratio - 1)} p50 (median ratio of ${RUNS} interleaved pairs; ${ratio <= 1.2 ? 'goal ≤ +20 % met' : 'goal ≤ +20 % missed'})`,
      ]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    title: 'Rules: live fan-out with 10 collections of read rules on vs off (issue 13)',
    notes: `One HTTP push of a 5-cell document per write (${WRITES} timed writes after 5 warm-up ones), time from sending it until each client got the change; each client its own principal (HS256 token, sub u<i>), subscribed to the whole collection, so every connection is a candidate and, with rules on, tests the change on its read rule (owner, team claim or public, under or) before and after, and masks a field out of the cells it is sent; the writes are public, so every client gets every change in both configurations. Clients on a worker thread, server on the main thread, 2 shared cores; fresh servers per pair, durability normal. Goal: ≤ 20 % slower`,
    columns: ['what', 'rules off', 'rules on', 'cost'],
    rows,
  };
}
