/**
 * Child process of bench/connections.bench.ts: one OmniSync server (SQLite files in a temp
 * directory) in a process of its own, so its RSS is the server's alone. It speaks JSON lines:
 * on stdout `{type:'ready', url, nofile}` once listening, then one answer per command read
 * from stdin: `mem` (RSS and heap after two GCs), `cpu` (process CPU time so far), `stop`.
 * CONN_LOG_LEVEL (e.g. `warn`): the server's log lines at that level and above come on
 * stdout as `{type:'log', record}` (default: silent).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createLogger, createServer, type LogLevel } from '../packages/server/src/index.ts';
import { gc } from './lib.ts';

const dir = mkdtempSync(join(tmpdir(), 'omnisync-conn-'));
const durability = process.env.CONN_DURABILITY === 'normal' ? 'normal' : 'full';
const send = (m: object) => process.stdout.write(JSON.stringify(m) + '\n');
const logLevel = process.env.CONN_LOG_LEVEL as LogLevel | undefined;
const logger = logLevel
  ? createLogger(logLevel, { write: (line: string) => send({ type: 'log', record: JSON.parse(line) }) })
  : undefined;
const server = createServer({ dataDir: dir, durability, ...(logger ? { logger } : { logLevel: 'silent' }) });
const { url } = await server.listen(0);

/** The soft limit on open files this process got (what the spawn's `ulimit -n` set). */
const nofile = /Max open files\s+(\d+)/.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1];
// `at`: log lines stamped up to then are the start-up ones.
send({ type: 'ready', url, nofile: Number(nofile), durability, at: Date.now() });

for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line) as { type: string };
  if (cmd.type === 'mem') {
    gc();
    gc();
    await new Promise((r) => setTimeout(r, 200));
    const m = process.memoryUsage();
    send({ type: 'mem', rss: m.rss, heapUsed: m.heapUsed, external: m.external + m.arrayBuffers });
  } else if (cmd.type === 'cpu') {
    const c = process.cpuUsage();
    send({ type: 'cpu', ms: (c.user + c.system) / 1000 });
  } else if (cmd.type === 'stop') {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
    send({ type: 'stopped' });
    process.exit(0);
  }
}
