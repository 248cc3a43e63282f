/**
 * `npm run chaos -- [--runs N] [--seconds S] [--servers 1..3] [--storage sqlite|postgres|both]
 *  [--seed S] [--clients N] [--rate R] [--out DIR] [--keep]`
 *
 * Real-process chaos runs (run.ts), one after another. `both` (the default) alternates SQLite
 * (one server) and Postgres (1–3 servers, from the seed unless --servers). Prints a summary
 * per run and in all, writes failing runs' seeds and directories to `<out>/failures.jsonl`,
 * and exits 1 on any violation or stall.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { parseArgs } from 'node:util';
import { pgUnreachable } from '../../packages/server/test/helpers/pg-url.ts';
import { type ChaosResult, FAULT_KINDS, runChaos } from './run.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '1' },
    seconds: { type: 'string', default: '30' },
    servers: { type: 'string' },
    storage: { type: 'string', default: 'both' },
    seed: { type: 'string' },
    clients: { type: 'string', default: '10' },
    rate: { type: 'string', default: '20' },
    out: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const seconds = Number(values.seconds);
const storageArg = values.storage;
if (!['sqlite', 'postgres', 'both'].includes(storageArg)) {
  console.error(`--storage must be sqlite, postgres or both, got ${storageArg}`);
  process.exit(2);
}
const servers = values.servers === undefined ? undefined : Number(values.servers);
if (servers !== undefined && !(servers >= 1 && servers <= 3)) {
  console.error(`--servers must be 1, 2 or 3, got ${values.servers}`);
  process.exit(2);
}
if (storageArg === 'sqlite' && servers !== undefined && servers > 1) {
  console.error('SQLite servers do not share a store: --servers above 1 needs --storage postgres.');
  process.exit(2);
}
const firstSeed = values.seed === undefined ? Date.now() % 1_000_000 : Number(values.seed);
const out = resolve(values.out ?? join(tmpdir(), 'omnisync-chaos'));
mkdirSync(out, { recursive: true });
const pgDown = storageArg === 'sqlite' ? 'not needed' : await pgUnreachable('chaos on Postgres');
if (storageArg === 'postgres' && pgDown) process.exit(2);

const results: ChaosResult[] = [];
for (let i = 0; i < runs; i++) {
  const seed = firstSeed + i;
  const storage = storageArg === 'both' ? (i % 2 === 0 || pgDown ? 'sqlite' : 'postgres') : storageArg;
  const nServers = storage === 'sqlite' ? 1 : (servers ?? 1 + (seed % 3));
  console.log(`[${i + 1}/${runs}]`);
  const r = await runChaos({
    seed,
    seconds,
    storage: storage as 'sqlite' | 'postgres',
    servers: nServers,
    clients: Number(values.clients),
    rate: Number(values.rate),
    outDir: out,
    keep: values.keep,
    log: (line) => console.log(line),
  });
  results.push(r);
  if (!r.ok) {
    appendFileSync(
      join(out, 'failures.jsonl'),
      JSON.stringify({
        seed,
        storage,
        servers: nServers,
        dir: r.dir,
        violations: r.violations,
        stalls: r.stalls,
      }) + '\n',
    );
    for (const v of r.violations.slice(0, 10)) console.log(`    ${v.kind}: ${v.detail}`);
    for (const s of r.stalls.slice(0, 10)) console.log(`    stall: ${s}`);
    console.log(`    seed ${seed}, history in ${r.dir}`);
  }
}

const sum = (f: (r: ChaosResult) => number) => results.reduce((a, r) => a + f(r), 0);
const failed = results.filter((r) => !r.ok);
console.log('\nchaos summary');
for (const storage of ['sqlite', 'postgres'] as const) {
  const rs = results.filter((r) => r.storage === storage);
  if (rs.length === 0) continue;
  const s = (f: (r: ChaosResult) => number) => rs.reduce((a, r) => a + f(r), 0);
  console.log(
    `  ${storage}: runs ${rs.length}, writes ${s((r) => r.ops.writes)}, deletes ${s((r) => r.ops.deletes)}, acked ${s((r) => r.ops.acks)}, fails ${s((r) => r.ops.fails)}, reads ${s((r) => r.ops.reads)}, violations ${s((r) => r.violations.length)}, stalls ${s((r) => r.stalls.length)}, failed runs ${rs.filter((r) => !r.ok).length}`,
  );
}
console.log(`  faults: ${FAULT_KINDS.map((k) => `${k} ${sum((r) => r.faults[k])}`).join(', ')}`);
console.log(`  wall: ${Math.round(sum((r) => r.wallMs) / 1000)} s`);
if (failed.length > 0) {
  console.log(
    `  FAILED seeds: ${failed.map((r) => `${r.seed} (${r.storage})`).join(', ')}; see ${join(out, 'failures.jsonl')}`,
  );
  process.exit(1);
}
process.exit(0);
