/**
 * Load (issue 16 part 3): `clients` WebSocket clients on loopback against a real server
 * process for `seconds`, then checks. Three processes, as bench/connections.bench.ts (whose
 * process helpers this reuses): the server (bench/connections-server.ts, SQLite files in a
 * temp directory, its warn/error log lines forwarded) pinned to CPU 0, the load generator
 * (./clients.ts) pinned to CPU 1, and this one, which only sends commands, samples the
 * server's RSS from /proc and waits.
 *
 * Checks: every client connected; every write acknowledged `applied`; 0 missed deliveries
 * (every write reached every member of its room once, or, for a member that was away,
 * superseded by a later write of the same document in its catch-up); 0 duplicates, 0 strays;
 * every client's copy equals the server's snapshot; no socket closed by the server, no
 * error message; no warn/error log line of the server; the server alive; and, when
 * `checkDrift`, RSS drift below `maxDrift`. Drift = (median RSS of the last window −
 * median of the first window after warm-up) / the first, windows of a third of the time
 * after warm-up, at most a minute.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { child, openApp, procCpu, stopAll } from '../../../../bench/connections.bench.ts';
import type { PeriodReport, RunResult } from './clients.ts';

export interface LoadOptions {
  clients: number;
  seconds: number;
  /** Clients per room (each room one query, every member writes). Default 10. */
  room?: number;
  /** Documents each client writes in turn. Default 5. */
  slots?: number;
  /** RSS before this is not in the drift (default: a tenth of the run, at most 60 s). */
  warmupS?: number;
  /** RSS sample period (default 5 s). */
  sampleS?: number;
  /** Report period of the load generator (default 60 s). */
  periodS?: number;
  /** 0: no reconnects (default every 20 s). */
  reconnectEveryS?: number;
  /** How long a reconnecting client stays away (default 3 s). */
  gapS?: number;
  /** After the last write, the longest wait for the last deliveries (default 30 s). */
  drainS?: number;
  /** Pin the server to CPU 0 and the load generator to CPU 1 (default true; CONN_PIN=0 also turns it off). */
  pin?: boolean;
  /** Fail the run when the drift is over `maxDrift` (default true). */
  checkDrift?: boolean;
  maxDrift?: number;
  /** Self-check: the load generator ignores every n-th live message (see clients.ts); such a run must fail. */
  loseEvery?: number;
  onPeriod?: (p: PeriodReport & ServerPeriod) => void;
  onLog?: (line: string) => void;
}

/** What this process saw of the server over a period. */
export interface ServerPeriod {
  /** Median server RSS of the samples in the period (MB). */
  rssMB: number;
  /** Server on its CPU, and waiting (runnable) for it, % of the period. */
  cpuPct: number;
  waitPct: number;
  load1: number;
}

export interface RssSample {
  atS: number;
  rssMB: number;
}

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface LoadSummary {
  options: Required<Omit<LoadOptions, 'onPeriod' | 'onLog'>>;
  result: RunResult;
  periods: (PeriodReport & ServerPeriod)[];
  rss: RssSample[];
  drift: {
    firstMB: number;
    lastMB: number;
    drift: number;
    windowS: number;
    first: [number, number];
    last: [number, number];
  };
  /** Warn and error lines after start-up (start-up ones apart). */
  serverLogs: { warn: number; error: number; examples: string[]; startup: string[] };
  serverExit: number | null;
  loadAvg: { start: number[]; end: number[] };
  cpus: string;
  checks: Check[];
  ok: boolean;
}

const MB = 2 ** 20;

/** The resident set of a process, from /proc (no answer from the busy process needed). */
export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return (Number(m[1]) * 1024) / MB;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const h = s.length >> 1;
  return s.length % 2 ? s[h]! : (s[h - 1]! + s[h]!) / 2;
};

/** Drift of the RSS series: last window's median against the first window's after warm-up. */
export function driftOf(rss: readonly RssSample[], warmupS: number, endS: number): LoadSummary['drift'] {
  const windowS = Math.min(60, (endS - warmupS) / 3);
  const first: [number, number] = [warmupS, warmupS + windowS];
  const last: [number, number] = [endS - windowS, endS];
  const inWin = (w: [number, number]) =>
    rss.filter((s) => s.atS >= w[0] && s.atS <= w[1]).map((s) => s.rssMB);
  const firstMB = median(inWin(first));
  const lastMB = median(inWin(last));
  return { firstMB, lastMB, drift: (lastMB - firstMB) / firstMB, windowS, first, last };
}

export async function runLoad(opts: LoadOptions): Promise<LoadSummary> {
  const o = {
    clients: opts.clients,
    seconds: opts.seconds,
    room: opts.room ?? 10,
    slots: opts.slots ?? 5,
    warmupS: opts.warmupS ?? Math.min(60, opts.seconds / 10),
    sampleS: opts.sampleS ?? 5,
    periodS: opts.periodS ?? 60,
    reconnectEveryS: opts.reconnectEveryS ?? 20,
    gapS: opts.gapS ?? 3,
    drainS: opts.drainS ?? 30,
    pin: opts.pin ?? true,
    checkDrift: opts.checkDrift ?? true,
    maxDrift: opts.maxDrift ?? 0.1,
    loseEvery: opts.loseEvery ?? 0,
  };
  const loadStart = os.loadavg();
  const server = child('./connections-server.ts', o.pin ? 0 : null, [], { CONN_LOG_LEVEL: 'warn' });
  const gen = child(new URL('./clients.ts', import.meta.url).href, o.pin ? 1 : null);
  // A run that dies must not leave its server and load generator behind.
  const reap = () => {
    server.proc.kill('SIGKILL');
    gen.proc.kill('SIGKILL');
  };
  process.once('exit', reap);
  const cpus =
    o.pin && process.env.CONN_PIN !== '0'
      ? 'server on CPU 0, load generator on CPU 1 (taskset)'
      : 'not pinned';
  const logs = { warn: 0, error: 0, examples: [] as string[], startup: [] as string[] };
  let serverExit: number | null = null;
  server.proc.once('exit', (code) => (serverExit = code ?? -1));
  const rss: RssSample[] = [];
  const periods: (PeriodReport & ServerPeriod)[] = [];
  let sampler: ReturnType<typeof setInterval> | undefined;
  try {
    const { url, at: readyAt } = await server.next('ready');
    void (async () => {
      for (;;) {
        const { record } = await server.next('log');
        const line = JSON.stringify(record);
        if (record.time <= readyAt) {
          logs.startup.push(line.slice(0, 500)); // "auth is not configured" and the like: said once at start
          continue;
        }
        if (record.level >= 50) logs.error++;
        else logs.warn++;
        if (logs.examples.length < 10) logs.examples.push(line.slice(0, 500));
        opts.onLog?.(line);
      }
    })().catch(() => {}); // ends when the server exits
    await openApp(url, 'load');
    const pid = server.proc.pid!;
    const answer = gen.ask(
      {
        type: 'run',
        url,
        app: 'load',
        n: o.clients,
        room: o.room,
        slots: o.slots,
        seconds: o.seconds,
        periodS: o.periodS,
        drainS: o.drainS,
        concurrency: 100,
        reconnectEveryS: o.reconnectEveryS,
        gapS: o.gapS,
        loseEvery: o.loseEvery,
      },
      'result',
    );
    const connected = await Promise.race([gen.next('connected'), answer]);
    if (connected.type === 'result') return finish(connected as RunResult);
    const t0 = performance.now();
    const sample = () => {
      if (serverExit === null) rss.push({ atS: (performance.now() - t0) / 1000, rssMB: rssOf(pid) });
    };
    sample();
    sampler = setInterval(sample, o.sampleS * 1000);
    let cpu = procCpu(pid);
    let periodAt = t0;
    const periodsDone = (async () => {
      for (;;) {
        const p = (await Promise.race([gen.next('period'), answer])) as PeriodReport | RunResult;
        if (p.type !== 'period') return;
        const now = performance.now();
        const c = procCpu(pid);
        const ms = now - periodAt;
        const from = (periodAt - t0) / 1000;
        const inPeriod = rss.filter((s) => s.atS >= from && s.atS <= p.atS).map((s) => s.rssMB);
        const sp: PeriodReport & ServerPeriod = {
          ...p,
          rssMB: median(inPeriod.length ? inPeriod : [rssOf(pid)]),
          cpuPct: ((c.runMs - cpu.runMs) / ms) * 100,
          waitPct: ((c.waitMs - cpu.waitMs) / ms) * 100,
          load1: os.loadavg()[0]!,
        };
        cpu = c;
        periodAt = now;
        periods.push(sp);
        opts.onPeriod?.(sp);
      }
    })();
    const result = (await answer) as RunResult;
    await periodsDone;
    return finish(result);
  } finally {
    clearInterval(sampler);
    await stopAll(gen, server);
    process.off('exit', reap);
  }

  function finish(result: RunResult): LoadSummary {
    clearInterval(sampler);
    const drift = driftOf(rss, o.warmupS, o.seconds);
    const r = result;
    const checks: Check[] = [];
    const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });
    check('run', !r.error, r.error ?? 'ran to the end');
    if (!r.error) {
      check(
        'connected',
        true,
        `${r.clients} clients in ${r.rooms} rooms connected in ${r.connectMs.toFixed(0)} ms`,
      );
      check(
        'acknowledged',
        r.acks === r.writes && r.refused === 0 && r.unacked === 0,
        `${r.acks} acks of ${r.writes} writes, ${r.refused} refused, ${r.unacked} never acknowledged`,
      );
      check(
        'missed',
        r.missed === 0 && r.delivered + r.superseded === r.expected,
        `${r.missed} missed; ${r.delivered} delivered (${r.catchUp} by catch-up) + ${r.superseded} superseded of ${r.expected} expected`,
      );
      check(
        'duplicates',
        r.duplicates === 0 && r.stray === 0,
        `${r.duplicates} duplicates, ${r.stray} strays`,
      );
      check(
        'final state',
        r.statesDiffering === 0 && r.statesChecked === r.clients && r.serverCells > 0,
        `${r.statesChecked - r.statesDiffering} of ${r.clients} clients equal to the server's snapshot (${r.serverCells} cells in all rooms)`,
      );
      check(
        'protocol',
        r.protocolErrors === 0,
        `${r.protocolErrors} errors, resets or closes by the server; ${r.reconnects} reconnects`,
      );
    }
    check(
      'server alive',
      serverExit === null,
      serverExit === null ? 'running at the end' : `exited (${serverExit})`,
    );
    check(
      'server log',
      logs.warn + logs.error === 0,
      `${logs.error} error and ${logs.warn} warn lines after start-up (${logs.startup.length} at start-up)`,
    );
    const driftText = `RSS ${drift.firstMB.toFixed(1)} MB (median ${drift.first[0].toFixed(0)}–${drift.first[1].toFixed(0)} s) → ${drift.lastMB.toFixed(1)} MB (${drift.last[0].toFixed(0)}–${drift.last[1].toFixed(0)} s): ${(drift.drift * 100).toFixed(1)} %`;
    check(
      'rss drift',
      !o.checkDrift || (Number.isFinite(drift.drift) && drift.drift < o.maxDrift),
      `${driftText}${o.checkDrift ? ` (limit ${o.maxDrift * 100} %)` : ' (reported, not checked)'}`,
    );
    return {
      options: o,
      result: r,
      periods,
      rss,
      drift,
      serverLogs: logs,
      serverExit,
      loadAvg: { start: loadStart, end: os.loadavg() },
      cpus,
      checks,
      ok: checks.every((c) => c.ok),
    };
  }
}

/** A number with `digits` decimals; `-` when there is none (an empty period: NaN, null in JSON). */
export function fmt(x: number | null | undefined, digits = 1): string {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '-';
}

/** A text summary of a run (what the CLI prints). */
export function formatSummary(s: LoadSummary): string {
  const r = s.result;
  const lines = [
    `load: ${s.options.clients} clients (rooms of ${s.options.room}, ${s.options.slots} documents each, 1 write/s each), ${s.options.seconds} s; ${s.cpus}; load average ${s.loadAvg.start.map((x) => x.toFixed(1)).join(' ')} at the start, ${s.loadAvg.end.map((x) => x.toFixed(1)).join(' ')} at the end`,
    `writes ${r.writes}, deliveries ${r.delivered} (${r.catchUp} by catch-up) + ${r.superseded} superseded of ${r.expected}, missed ${r.missed}, duplicates ${r.duplicates}, reconnects ${r.reconnects}, drain ${(r.drainMs / 1000).toFixed(1)} s`,
    `fan-out (live, other members) over the run: p50 ${r.fanout.p50} ms, p99 ${r.fanout.p99} ms, max ${r.fanout.max} ms (${r.fanout.count} deliveries)`,
    'period  at(s)  writes  delivered  fan-out p50/p99/max (ms)  server RSS MB  server CPU/wait %  loadgen CPU %  load1',
    ...s.periods.map(
      (p) =>
        `${String(p.period).padStart(6)}  ${p.atS.toFixed(0).padStart(5)}  ${String(p.writes).padStart(6)}  ${String(p.delivered).padStart(9)}  ${`${fmt(p.fanout.p50, 1)}/${fmt(p.fanout.p99, 1)}/${fmt(p.fanout.max, 1)}`.padStart(24)}  ${fmt(p.rssMB).padStart(12)}  ${`${fmt(p.cpuPct, 0)}/${fmt(p.waitPct, 0)}`.padStart(17)}  ${p.loadgenCpuPct.toFixed(0).padStart(13)}  ${fmt(p.load1, 1)}`,
    ),
    `RSS series (MB, every ${s.options.sampleS} s): ${s.rss.map((x) => x.rssMB.toFixed(0)).join(' ')}`,
    ...s.checks.map((c) => `${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`),
    ...(r.examples.length ? ['examples:', ...r.examples.map((e) => `  ${e}`)] : []),
    ...(s.serverLogs.examples.length ? ['server log:', ...s.serverLogs.examples.map((e) => `  ${e}`)] : []),
    s.ok ? 'load: all checks passed' : 'load: FAILED',
  ];
  return lines.join('\n');
}
