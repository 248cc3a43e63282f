/**
 * `npm run sim -- [--seeds N] [--from S] [--seed S] [--clients 3..10] [--storage sqlite|postgres] [--servers 1|2] [--jobs J] [--no-corpus]`
 *
 * Runs the deterministic simulation over many seeds in worker threads (one per core by
 * default), with a progress bar and a summary of the faults injected. Every failing seed is
 * printed with its replay command and appended to the regression corpus (regressions.json),
 * which the simulation test replays in CI. Exits 1 when any seed failed.
 *
 * `--clients 3..10` gives each seed a client count in that range (fixed by the seed, so a
 * replay uses the same one); `--seed S` replays one seed verbosely in this process.
 * `--storage postgres` runs the server on the local Postgres (a schema of its own per seed,
 * dropped after it); `--servers 2` runs two server instances on it, clients split between them.
 */
import { availableParallelism } from 'node:os';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { addToCorpus, CORPUS_PATH } from './corpus.js';
import { COUNT_KEYS, runSeed, type SeedCounts } from './sim-run.js';
import { PG_URL, pgUnreachable } from '../../../server/test/helpers/pg-url.js';

type Storage = 'sqlite' | 'postgres';

interface Args {
  seeds: number;
  from: number;
  one: number | undefined;
  clientsMin: number;
  clientsMax: number;
  jobs: number;
  corpus: boolean;
  storage: Storage;
  servers: 1 | 2;
}

interface SeedResult {
  seed: number;
  clients: number;
  counts?: SeedCounts;
  error?: string;
}

const clientsFor = (seed: number, min: number, max: number) => min + (seed % (max - min + 1));

function parseArgs(argv: readonly string[]): Args {
  const args: Args = {
    seeds: 1000,
    from: 1,
    one: undefined,
    clientsMin: 3,
    clientsMax: 3,
    jobs: Math.max(1, availableParallelism()),
    corpus: true,
    storage: 'sqlite',
    servers: 1,
  };
  const int = (flag: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`${flag} needs an integer ≥ ${min}, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--seeds') args.seeds = int(a, argv[++i], 1);
    else if (a === '--from') args.from = int(a, argv[++i], 0);
    else if (a === '--seed') args.one = int(a, argv[++i], 0);
    else if (a === '--jobs') args.jobs = int(a, argv[++i], 1);
    else if (a === '--no-corpus') args.corpus = false;
    else if (a === '--storage') {
      const v = argv[++i];
      if (v !== 'sqlite' && v !== 'postgres') throw new Error(`--storage takes sqlite or postgres, got ${v}`);
      args.storage = v;
    } else if (a === '--servers') {
      const v = argv[++i];
      if (v !== '1' && v !== '2') throw new Error(`--servers takes 1 or 2, got ${v}`);
      args.servers = Number(v) as 1 | 2;
    } else if (a === '--clients') {
      const v = argv[++i] ?? '';
      const m = /^(\d+)(?:\.\.(\d+))?$/.exec(v);
      if (!m) throw new Error(`--clients takes N or MIN..MAX (e.g. 3..10), got ${v}`);
      args.clientsMin = Number(m[1]);
      args.clientsMax = Number(m[2] ?? m[1]);
      if (args.clientsMin < 1 || args.clientsMax < args.clientsMin || args.clientsMax > 32)
        throw new Error(`--clients ${v}: use 1 ≤ MIN ≤ MAX ≤ 32`);
    } else if (a === '--help' || a === '-h') {
      console.log(
        'npm run sim -- [--seeds N] [--from S] [--seed S] [--clients 3..10] [--storage sqlite|postgres] [--servers 1|2] [--jobs J] [--no-corpus]',
      );
      process.exit(0);
    } else throw new Error(`unknown option ${a} (see --help)`);
  }
  if (args.servers === 2 && args.storage !== 'postgres')
    throw new Error('--servers 2 needs a storage both share: add --storage postgres');
  return args;
}

async function runOne(
  seed: number,
  clients: number,
  where: { storage: Storage; servers: 1 | 2 },
  verbose = false,
): Promise<SeedResult> {
  try {
    return { seed, clients, counts: await runSeed(seed, { clients, verbose, ...where }) };
  } catch (err) {
    return { seed, clients, error: ((err as Error)?.message ?? String(err)).split('\n')[0]! };
  }
}

// ── worker: run the seeds it is given, one message per seed ──
if (!isMainThread) {
  const { seeds, clientsMin, clientsMax, storage, servers } = workerData as {
    seeds: number[];
    clientsMin: number;
    clientsMax: number;
    storage: Storage;
    servers: 1 | 2;
  };
  for (const seed of seeds)
    parentPort!.postMessage(
      await runOne(seed, clientsFor(seed, clientsMin, clientsMax), { storage, servers }),
    );
} else {
  await main();
}

async function main(): Promise<void> {
  let args: Args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (err) {
    console.error((err as Error).message);
    process.exit(2);
  }
  if (args.storage === 'postgres' && (await pgUnreachable('the simulation on Postgres')) !== undefined) {
    console.error(`--storage postgres needs a Postgres at ${PG_URL} (OMNISYNC_PG_URL overrides)`);
    process.exit(2);
  }
  const where = { storage: args.storage, servers: args.servers };
  const replay = `${args.storage === 'sqlite' ? '' : ` --storage ${args.storage}`}${args.servers === 1 ? '' : ` --servers ${args.servers}`}`;
  if (args.one !== undefined) {
    const clients = clientsFor(args.one, args.clientsMin, args.clientsMax);
    const r = await runOne(args.one, clients, where, true);
    console.log(r.error ? `seed ${args.one} FAILED: ${r.error}` : `seed ${args.one} passed`, r.counts ?? '');
    process.exit(r.error ? 1 : 0);
  }
  const seeds = Array.from({ length: args.seeds }, (_, i) => args.from + i);
  const jobs = Math.min(args.jobs, seeds.length);
  const totals = Object.fromEntries(COUNT_KEYS.map((k) => [k, 0])) as SeedCounts;
  const failures: SeedResult[] = [];
  const started = Date.now();
  let done = 0;
  const tty = process.stderr.isTTY;
  let lastLine = 0;
  const progress = () => {
    const pct = done / seeds.length;
    const width = 30;
    const bar = '█'.repeat(Math.round(pct * width)).padEnd(width, '░');
    const elapsed = (Date.now() - started) / 1000;
    const eta = done > 0 ? (elapsed / done) * (seeds.length - done) : 0;
    const line = `sim ${bar} ${done}/${seeds.length} seeds, ${failures.length} failed, ${elapsed.toFixed(0)} s, eta ${eta.toFixed(0)} s`;
    if (tty) process.stderr.write(`\r${line}`);
    else if (done === seeds.length || Date.now() - lastLine > 10_000) {
      lastLine = Date.now();
      process.stderr.write(`${line}\n`);
    }
  };
  console.log(
    `simulation: seeds ${seeds[0]}..${seeds.at(-1)}, ${args.clientsMin === args.clientsMax ? args.clientsMin : `${args.clientsMin}..${args.clientsMax}`} clients, ${args.storage}, ${args.servers} server(s), ${jobs} worker thread(s)`,
  );
  progress();
  await Promise.all(
    Array.from({ length: jobs }, (_, j) => {
      const mine = seeds.filter((_, i) => i % jobs === j);
      return new Promise<void>((resolve, reject) => {
        const w = new Worker(new URL('./sim-worker.mjs', import.meta.url), {
          workerData: { seeds: mine, clientsMin: args.clientsMin, clientsMax: args.clientsMax, ...where },
        });
        w.on('message', (r: SeedResult) => {
          done++;
          if (r.counts) for (const k of COUNT_KEYS) totals[k] += r.counts[k];
          if (r.error) {
            failures.push(r);
            if (tty) process.stderr.write('\n');
            console.error(
              `seed ${r.seed} (${r.clients} clients) FAILED: ${r.error}\n  replay: npm run sim -- --seed ${r.seed} --clients ${r.clients}${replay}`,
            );
          }
          progress();
        });
        w.on('error', reject);
        w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker ${j} exited ${code}`))));
      });
    }),
  );
  if (tty) process.stderr.write('\n');
  const secs = (Date.now() - started) / 1000;
  console.log(
    `\n${seeds.length} seeds in ${secs.toFixed(0)} s: ${seeds.length - failures.length} passed, ${failures.length} failed`,
  );
  console.log('faults and events injected, summed over seeds:');
  for (const k of COUNT_KEYS) console.log(`  ${k.padEnd(15)} ${totals[k]}`);
  if (failures.length > 0 && args.corpus) {
    const found = new Date().toISOString().slice(0, 10);
    const added = addToCorpus(
      failures.map((f) => ({
        seed: f.seed,
        clients: f.clients,
        error: f.error!,
        found,
        ...(args.storage === 'sqlite' ? {} : { storage: args.storage }),
        ...(args.servers === 1 ? {} : { servers: args.servers }),
      })),
    );
    console.log(`${added} new seed(s) written to ${CORPUS_PATH} (the simulation test replays them in CI)`);
  }
  process.exit(failures.length > 0 ? 1 : 0);
}
