/**
 * One real-process chaos run (issue 16 part 2): 1–3 `omnisync serve` processes (SQLite: one,
 * restarted after a kill; Postgres: 1–3 on one database and schema prefix of their own),
 * each behind a loopback TCP proxy (proxy.ts), and N client processes (client.ts: the real
 * client with a file persistence) writing ~`rate` transactions a second. A nemesis on a
 * seeded schedule kills (-9) and restarts servers and clients, SIGSTOPs and SIGCONTs them,
 * and cuts, blackholes or delays connections at the proxies. Then everything is healed,
 * the clients stop writing and drain their outboxes, every client and every server (a fresh
 * client pulling from it directly) reports its final state, and checker.ts judges the
 * histories. What happens when is seeded; how the processes interleave is not (real time).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import WebSocket from 'ws';
import { createClient, type WebSocketConstructor } from '@omnisync/client';
import { seededRandom } from '@omnisync/core';
import { ROOT, type ServerProcess, startServe } from '../../packages/server/test/helpers/serve-process.ts';
import { dropSchemas, PG_URL } from '../../packages/server/test/helpers/pg-url.ts';
import { checkHistory, type FinalState, type HistoryEvent, type Violation } from './checker.ts';
import { type ChaosProxy, startProxy } from './proxy.ts';

/** The faults the nemesis injects. */
export const FAULT_KINDS = [
  'kill-server',
  'stop-server',
  'kill-client',
  'stop-client',
  'cut',
  'blackhole',
  'delay',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
/**
 * How often the nemesis picks each kind: a killed server takes seconds to start again on a
 * loaded machine, so kills of servers come less often than the rest.
 */
const FAULT_WEIGHTS: Record<FaultKind, number> = {
  'kill-server': 1,
  'stop-server': 2,
  'kill-client': 2,
  'stop-client': 2,
  cut: 2,
  blackhole: 2,
  delay: 2,
};
const WEIGHTED_KINDS = FAULT_KINDS.flatMap((k) => Array.from({ length: FAULT_WEIGHTS[k] }, () => k));

/** Options of one run. */
export interface ChaosOptions {
  readonly seed: number;
  /** How long the clients write under faults. */
  readonly seconds: number;
  readonly storage: 'sqlite' | 'postgres';
  /** Server processes (SQLite: 1). */
  readonly servers?: number;
  readonly clients?: number;
  /** Transactions per second per client. */
  readonly rate?: number;
  /** Shared documents and fields per document (small: LWW conflicts are the point). */
  readonly docs?: number;
  readonly fields?: number;
  /** Where run directories go (default: the OS temp dir). */
  readonly outDir?: string;
  /** Keep the run's directory even when it passed. */
  readonly keep?: boolean;
  /** Progress lines. */
  readonly log?: (line: string) => void;
  /** How long the drain after healing may take before the run counts as stalled (ms). */
  readonly drainTimeoutMs?: number;
}

/** What one run did and found. */
export interface ChaosResult {
  readonly seed: number;
  readonly storage: 'sqlite' | 'postgres';
  readonly servers: number;
  readonly clients: number;
  readonly seconds: number;
  readonly ops: { writes: number; deletes: number; acks: number; fails: number; reads: number };
  readonly faults: Record<FaultKind, number>;
  readonly violations: readonly Violation[];
  /** Problems outside the checker's kinds: outboxes that never drained, nodes that never answered. */
  readonly stalls: readonly string[];
  readonly ok: boolean;
  /** The run's directory (histories, logs, finals); removed when it passed unless `keep`. */
  readonly dir: string;
  readonly wallMs: number;
  /** Wall time of each phase (ms): start, faults, heal, drain, final, check. */
  readonly phases: Record<string, number>;
}

/** The logged event types the checker reads (start and fail lines are for people). */
const CHECKED = new Set(['write', 'ack', 'read', 'delete']);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface ServerSlot {
  readonly index: number;
  proc: ServerProcess | undefined;
  readonly proxy: ChaosProxy;
  stopped: boolean;
  /** Set while a restart is under way. */
  restarting: Promise<void> | undefined;
}

interface ClientSlot {
  readonly name: string;
  readonly server: number;
  inc: number;
  child: ChildProcess | undefined;
  stopped: boolean;
  alive: boolean;
  started: Promise<void> | undefined;
}

type Reply = { type: string } & Record<string, unknown>;

/** Send `cmd` to a client and wait for its reply of `type`. */
function ask(child: ChildProcess, cmd: string, type: string, timeoutMs: number): Promise<Reply> {
  return new Promise<Reply>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.off('message', on);
      reject(new Error(`no ${type} reply in ${timeoutMs} ms`));
    }, timeoutMs);
    const on = (m: Reply) => {
      if (m.type !== type) return;
      clearTimeout(timer);
      child.off('message', on);
      resolve(m);
    };
    child.on('message', on);
    if (!child.connected) {
      clearTimeout(timer);
      reject(new Error('client process is gone'));
      return;
    }
    child.send({ cmd });
  });
}

/**
 * The server CLI and the client script, each bundled once into one ES module (esbuild; the
 * repository's tsconfig paths resolve @omnisync/* to source, npm packages stay imports):
 * through tsx every start of a process would transpile hundreds of files, ~8 s on a loaded
 * 2-core machine, and the nemesis restarts processes all the time. The code run is the same
 * source (packages/server/src/cli.ts, bench/chaos/client.ts).
 */
let bundles: Promise<{ server: string; client: string }> | undefined;
export function chaosBundles(): Promise<{ server: string; client: string }> {
  bundles ??= (async () => {
    const outDir = join(ROOT, 'node_modules/.cache/omnisync-chaos');
    const one = async (entry: string, name: string) => {
      const outfile = join(outDir, `${name}-${process.pid}.mjs`);
      await build({
        entryPoints: [join(ROOT, entry)],
        bundle: true,
        platform: 'node',
        format: 'esm',
        target: 'node20',
        outfile,
        tsconfig: join(ROOT, 'tsconfig.json'),
        packages: 'external',
        logLevel: 'warning',
      });
      process.once('exit', () => rmSync(outfile, { force: true }));
      return outfile;
    };
    const [server, client] = await Promise.all([
      one('packages/server/src/cli.ts', 'server'),
      one('bench/chaos/client.ts', 'client'),
    ]);
    return { server, client };
  })();
  return bundles;
}

/** Run once. Never throws for what the run finds: it is in the result. */
export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const t0 = Date.now();
  // Each child process adds an exit listener that reaps it if this process dies first.
  process.setMaxListeners(Math.max(process.getMaxListeners(), 100));
  const { seed, seconds, storage } = options;
  const nServers = storage === 'sqlite' ? 1 : Math.min(3, Math.max(1, options.servers ?? 2));
  if (storage === 'sqlite' && (options.servers ?? 1) !== 1)
    throw new Error(
      'SQLite servers do not share a store: run SQLite with --servers 1 (or use --storage postgres).',
    );
  const nClients = options.clients ?? 10;
  const rate = options.rate ?? 20;
  const say = options.log ?? (() => {});
  const base = options.outDir ?? tmpdir();
  mkdirSync(base, { recursive: true });
  const dir = mkdtempSync(join(base, `chaos-${storage}-${seed}-`));
  const random = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
  const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo));
  const prefix = `omnisync_chaos_${randomBytes(4).toString('hex')}_`;
  const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  const stalls: string[] = [];
  const phases: Record<string, number> = {};
  let phaseAt = Date.now();
  const phase = (name: string) => {
    phases[name] = Date.now() - phaseAt;
    phaseAt = Date.now();
  };
  const faultLog: { t: number; kind: FaultKind | 'up'; target: string; ms?: number }[] = [];

  const serverArgs = () => [
    '--port',
    '0',
    '--log-level',
    'info',
    '--durability',
    'full',
    '--rate-limit',
    'off',
    ...(storage === 'sqlite'
      ? ['--data', join(dir, 'server')]
      : ['--postgres', PG_URL, '--pg-schema-prefix', prefix]),
  ];
  const servers: ServerSlot[] = [];
  const clients: ClientSlot[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const later = (ms: number, fn: () => void | Promise<void>) => {
    const t = setTimeout(() => {
      timers.delete(t);
      void fn();
    }, ms);
    timers.add(t);
  };
  let writing = false;

  const bundle = await chaosBundles();
  const startServer = async (s: ServerSlot) => {
    const at = Date.now();
    s.proc = await startServe(serverArgs(), [bundle.server, 'serve'], 90_000);
    s.proc.child.stdout!.resume();
    s.proxy.retarget(s.proc.port);
    faultLog.push({ t: Date.now(), kind: 'up', target: `server-${s.index}`, ms: Date.now() - at });
  };
  const restartServer = (s: ServerSlot) => {
    s.restarting ??= (async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          await startServer(s);
          break;
        } catch (err) {
          if (attempt >= 1) {
            stalls.push(`server-${s.index} did not restart: ${String(err)}`);
            break;
          }
          await sleep(500);
        }
      }
      s.restarting = undefined;
    })();
    return s.restarting;
  };

  const startClient = (c: ClientSlot) => {
    c.inc++;
    const out = openSync(join(dir, `client-${c.name}.log`), 'a');
    const child = fork(bundle.client, [], {
      cwd: ROOT,
      execArgv: [],
      stdio: ['ignore', out, out, 'ipc'],
      env: {
        ...process.env,
        CHAOS_NAME: c.name,
        CHAOS_INC: String(c.inc),
        CHAOS_URL: servers[c.server]!.proxy.url,
        CHAOS_DIR: dir,
        CHAOS_SEED: String(seed * 1000 + clients.indexOf(c) * 37 + c.inc),
        CHAOS_RATE: String(rate),
        CHAOS_STRATEGY: clients.indexOf(c) % 2 === 0 ? 'ordered' : 'parallel',
        CHAOS_DOCS: String(options.docs ?? 4),
        CHAOS_FIELDS: String(options.fields ?? 3),
      },
    });
    closeSync(out);
    c.child = child;
    c.alive = true;
    c.stopped = false;
    const reap = () => child.kill('SIGKILL');
    process.once('exit', reap);
    child.once('exit', () => {
      process.off('exit', reap);
      if (c.child === child) c.alive = false;
    });
    c.started = new Promise<void>((resolve) => {
      const on = (m: Reply) => {
        if (m.type !== 'started') return;
        child.off('message', on);
        if (writing) child.send({ cmd: 'write' });
        resolve();
      };
      child.on('message', on);
      child.once('exit', () => resolve());
    });
    return c.started;
  };

  const result = (violations: readonly Violation[], ops: ChaosResult['ops']): ChaosResult => {
    const ok = violations.length === 0 && stalls.length === 0;
    return {
      seed,
      storage,
      servers: nServers,
      clients: nClients,
      seconds,
      ops,
      faults,
      violations,
      stalls,
      ok,
      dir,
      wallMs: Date.now() - t0,
      phases,
    };
  };

  let violations: readonly Violation[] = [];
  const ops = { writes: 0, deletes: 0, acks: 0, fails: 0, reads: 0 };
  try {
    // ── servers, proxies, the shared documents ──────────────────────────────────────────
    for (let i = 0; i < nServers; i++) {
      const proxy = await startProxy(1);
      const slot: ServerSlot = { index: i, proc: undefined, proxy, stopped: false, restarting: undefined };
      servers.push(slot);
      await restartServer(slot);
      if (!slot.proc) throw new Error(`server-${i} did not start`);
    }
    const docIds = Array.from({ length: options.docs ?? 4 }, (_, i) => `d${i}`);
    {
      const setup = createClient({
        app: 'chaos',
        server: servers[0]!.proc!.url,
        serverOptions: { WebSocket: null },
      });
      const docs = setup.collection<{ id: string }>({ id: 'docs' });
      await setup.ready;
      await setup.sync();
      const missing = docIds.filter((id) => !docs.has(id));
      if (missing.length > 0) await docs.insert(missing.map((id) => ({ id }))).promise;
      await setup.close();
    }
    say(`run seed=${seed} ${storage} servers=${nServers} clients=${nClients} dir=${dir}`);

    // ── clients ──────────────────────────────────────────────────────────────────────────
    for (let i = 0; i < nClients; i++)
      clients.push({
        name: `c${i}`,
        server: i % nServers,
        inc: 0,
        child: undefined,
        stopped: false,
        alive: false,
        started: undefined,
      });
    await Promise.all(clients.map((c) => startClient(c)));
    // The fault window starts once every client writes (it first waits to see the shared documents).
    writing = true;
    await Promise.all(clients.map((c) => ask(c.child!, 'write', 'writing', 90_000).catch(() => undefined)));
    phase('start');

    // ── nemesis ──────────────────────────────────────────────────────────────────────────
    const end = Date.now() + seconds * 1000;
    const busy = new Set<string>();
    const record = (kind: FaultKind, target: string, ms?: number) => {
      faults[kind]++;
      faultLog.push({ t: Date.now(), kind, target, ...(ms !== undefined ? { ms } : {}) });
    };
    while (Date.now() < end) {
      await sleep(between(300, 1500));
      if (Date.now() >= end) break;
      const kind = pick(WEIGHTED_KINDS);
      const s = pick(servers);
      const c = pick(clients);
      const sKey = `server-${s.index}`;
      const cKey = `client-${c.name}`;
      const onServer = kind.endsWith('-server') || kind === 'cut' || kind === 'blackhole' || kind === 'delay';
      const key = onServer ? (kind.endsWith('-server') ? sKey : `proxy-${s.index}`) : cKey;
      if (busy.has(key) || (!onServer && !c.alive)) continue;
      if (kind === 'cut') {
        s.proxy.cut();
        record(kind, key);
        continue;
      }
      const ms = kind === 'delay' ? between(1000, 4000) : between(200, 2500);
      busy.add(key);
      record(kind, key, ms);
      const free = () => busy.delete(key);
      if (kind === 'kill-server') {
        s.proc?.child.kill('SIGKILL');
        later(ms, async () => {
          await restartServer(s);
          free();
        });
      } else if (kind === 'stop-server') {
        s.proc?.child.kill('SIGSTOP');
        s.stopped = true;
        later(ms, () => {
          s.proc?.child.kill('SIGCONT');
          s.stopped = false;
          free();
        });
      } else if (kind === 'kill-client') {
        c.child?.kill('SIGKILL');
        c.alive = false;
        later(ms, async () => {
          await startClient(c);
          free();
        });
      } else if (kind === 'stop-client') {
        c.child?.kill('SIGSTOP');
        c.stopped = true;
        later(ms, () => {
          c.child?.kill('SIGCONT');
          c.stopped = false;
          free();
        });
      } else if (kind === 'blackhole') {
        s.proxy.blackhole(true);
        later(ms, () => {
          s.proxy.blackhole(false);
          free();
        });
      } else {
        s.proxy.delay(between(50, 400));
        later(ms, () => {
          s.proxy.delay(0);
          free();
        });
      }
    }

    phase('faults');
    // ── stop writing (the window is over: what follows is healing and draining) ─────────
    writing = false;
    await Promise.all(
      clients.map((c) =>
        c.alive && !c.stopped && c.child?.connected
          ? ask(c.child, 'stop', 'stopped', 10_000).catch(() => undefined)
          : undefined,
      ),
    );
    // ── heal everything ─────────────────────────────────────────────────────────────────
    for (const t of timers) clearTimeout(t);
    timers.clear();
    for (const s of servers) {
      s.proxy.blackhole(false);
      s.proxy.delay(0);
      if (s.stopped) s.proc?.child.kill('SIGCONT');
      s.stopped = false;
    }
    await Promise.all(
      servers.map(async (s) => {
        if (s.restarting) await s.restarting;
        if (!s.proc || s.proc.child.exitCode !== null || s.proc.child.signalCode !== null)
          await restartServer(s);
      }),
    );
    for (const c of clients) {
      if (c.stopped) c.child?.kill('SIGCONT');
      c.stopped = false;
    }
    await Promise.all(clients.map((c) => (c.alive ? c.started : startClient(c))));
    say(`  healed after ${seconds}s; faults ${JSON.stringify(faults)}`);

    phase('heal');
    // ── drain (a client SIGSTOPped or restarted during the stop above is told again) ────
    await Promise.all(clients.map((c) => ask(c.child!, 'stop', 'stopped', 10_000).catch(() => undefined)));
    const drainUntil = Date.now() + (options.drainTimeoutMs ?? 120_000);
    let statuses: Reply[] = [];
    for (;;) {
      statuses = await Promise.all(
        clients.map((c) =>
          ask(c.child!, 'status', 'status', 10_000).catch(
            (err: unknown) => ({ type: 'status', error: String(err) }) as Reply,
          ),
        ),
      );
      if (statuses.every((s) => s.unfinished === 0 && s.tracked === 0 && s.pending === 0)) break;
      if (Date.now() > drainUntil) {
        for (const [i, s] of statuses.entries())
          if (s.unfinished !== 0 || s.tracked !== 0 || s.pending !== 0)
            stalls.push(`client c${i} did not drain: ${JSON.stringify(s)}`);
        break;
      }
      await sleep(500);
    }

    phase('drain');
    // ── final states ────────────────────────────────────────────────────────────────────
    const finals: FinalState[] = [];
    for (const c of clients) {
      try {
        const f = await ask(c.child!, 'final', 'final', 30_000);
        finals.push({
          node: f.node as string,
          fields: f.fields as FinalState['fields'],
          rows: f.rows as string[],
        });
      } catch (err) {
        stalls.push(`client ${c.name} gave no final state: ${String(err)}`);
      }
    }
    for (const s of servers) finals.push(await serverFinal(s, docIds, options.fields ?? 3));
    writeFileSync(join(dir, 'finals.json'), JSON.stringify({ finals, faults: faultLog, statuses }, null, 1));

    phase('final');
    // ── check ───────────────────────────────────────────────────────────────────────────
    const events = readHistories(dir);
    for (const e of events) {
      if (e.type === 'write') ops.writes++;
      else if (e.type === 'delete') ops.deletes++;
      else if (e.type === 'ack') ops.acks++;
      else if (e.type === 'fail') ops.fails++;
    }
    const checked = checkHistory(
      events.filter((e) => CHECKED.has(e.type)) as unknown as HistoryEvent[],
      finals,
    );
    ops.reads = checked.stats.reads;
    phase('check');
    violations = checked.violations;
    const r = result(violations, ops);
    say(
      `  ${r.ok ? 'ok' : 'FAILED'}: writes ${ops.writes}, deletes ${ops.deletes}, acks ${ops.acks}, fails ${ops.fails}, reads ${ops.reads}, violations ${violations.length}, stalls ${stalls.length} (${Math.round(r.wallMs / 1000)} s: ${Object.entries(
        phases,
      )
        .map(([k, v]) => `${k} ${(v / 1000).toFixed(1)}`)
        .join(', ')})`,
    );
    return r;
  } catch (err) {
    stalls.push(`runner error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return result(violations, ops);
  } finally {
    for (const t of timers) clearTimeout(t);
    await Promise.all(
      clients.map(async (c) => {
        const child = c.child;
        if (!child || child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGCONT');
        const gone = new Promise<void>((r) => child.once('exit', () => r()));
        if (child.connected) child.send({ cmd: 'exit' });
        await Promise.race([gone, sleep(5000)]);
        child.kill('SIGKILL');
        await gone;
      }),
    );
    for (const s of servers) {
      s.proc?.child.kill('SIGCONT');
      await s.proc?.stop();
      await s.proxy.close();
    }
    if (storage === 'postgres') await dropSchemas(prefix).catch(() => {});
    const passed = violations.length === 0 && stalls.length === 0;
    if (passed && !options.keep) rmSync(dir, { recursive: true, force: true });
  }
}

/** What a server holds: a fresh in-memory client pulls everything from it directly (no proxy). */
async function serverFinal(s: ServerSlot, docIds: readonly string[], nFields: number): Promise<FinalState> {
  const client = createClient({
    app: 'chaos',
    server: s.proc!.url,
    serverOptions: { WebSocket: WebSocket as unknown as WebSocketConstructor, requestTimeoutMs: 10_000 },
  });
  try {
    const docs = client.collection<{ id: string } & Record<string, string | undefined>>({ id: 'docs' });
    const rows = client.collection<{ id: string }>({ id: 'log' });
    await client.ready;
    await client.sync();
    const fields: Record<string, string | null> = {};
    for (const d of docIds) {
      const doc = docs.get(d);
      for (let i = 0; i < nFields; i++) fields[`${d}.f${i}`] = (doc?.[`f${i}`] as string | undefined) ?? null;
    }
    return { node: `server-${s.index}`, fields, rows: rows.all().map((r) => r.id) };
  } finally {
    await client.close();
  }
}

type LoggedEvent = { type: string; t: number } & Record<string, unknown>;

/**
 * Every client's history, merged by time: each file keeps its own order (a client's log is
 * its program order); between files the earlier event goes first, a write before anything
 * else logged in the same millisecond (another client can read a value only after it was
 * written, and a write is logged before the transaction exists).
 */
export function readHistories(dir: string): LoggedEvent[] {
  const files: LoggedEvent[][] = [];
  for (const f of readdirSync(dir)
    .filter((x) => x.startsWith('history-'))
    .sort()) {
    const events: LoggedEvent[] = [];
    for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
      if (!line) continue;
      try {
        events.push(JSON.parse(line) as LoggedEvent);
      } catch {
        // a line cut by a kill -9 mid-write: the write it described never happened
      }
    }
    files.push(events);
  }
  const rank = (e: LoggedEvent) => (e.type === 'write' || e.type === 'delete' ? 0 : 1);
  const at = files.map(() => 0);
  const out: LoggedEvent[] = [];
  for (;;) {
    let best = -1;
    for (let i = 0; i < files.length; i++) {
      const e = files[i]![at[i]!];
      if (!e) continue;
      const b = best < 0 ? undefined : files[best]![at[best]!]!;
      if (!b || e.t < b.t || (e.t === b.t && rank(e) < rank(b))) best = i;
    }
    if (best < 0) return out;
    out.push(files[best]![at[best]!++]!);
  }
}
