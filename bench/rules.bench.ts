/**
 * The cost of permission rules on writes (issue 13): push ingest on a server with 10
 * collections' rules (`defineRules`, principal-bound predicates, a write mask) next to the
 * same server without rules, in the same run, interleaved pairs on fresh servers (order
 * alternating). Both verify the same HS256 token on every push. Inserts (checked on the new
 * document) and then updates of the same documents (checked on the old and the new one).
 * Goal: ≤ 20 % slower with rules on. Fan-out with read rules belongs to the read side (it
 * filters subscriptions), measured there.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import {
  createRulesEvaluator,
  defineRules,
  op,
  type Principal,
  principal,
} from '../packages/core/src/index.ts';
import { createServer, type OmniSyncServer } from '../packages/server/src/index.ts';
import { applyChecked } from '../packages/server/src/engine/push.ts';
import { WorkingDoc } from '../packages/server/src/engine/working-doc.ts';
import { type BenchSection, fmtMs, fmtRate, median, performance } from './lib.ts';
import { CELLS_PER_DOC, clientsWorker, DOCS, makeBatches, pushIngest } from './server.bench.ts';

const RUNS = Number(process.env.OMNISYNC_BENCH_RUNS ?? 6); // interleaved pairs
const SECRET = 'bench-rules-secret-0123456789abcdef-0123';
type Config = 'off' | 'on';

const isAdmin = (p: Principal) => Array.isArray(p.roles) && p.roles.includes('admin');
const owned = { ownerId: principal('sub') };
/** Rules of 10 collections; the pushes write `todos` (insert: 2 clauses under and/or, update: old and new). */
export const BENCH_RULES = defineRules({
  todos: {
    read: owned,
    insert: op.and(
      op.eq('ownerId', principal('sub')),
      op.or(op.lte('priority', 5), op.in('team', [principal('teams')])),
    ),
    update: {
      old: owned,
      new: op.and(op.eq('ownerId', principal('sub')), op.exists('title')),
    },
    delete: (p) => (isAdmin(p) ? true : owned),
    writeMask: ['createdBy', 'audit.by'],
  },
  ...Object.fromEntries(
    ['projects', 'comments', 'labels', 'members', 'files', 'events', 'invites', 'settings', 'logs'].map(
      (c, i) => [
        c,
        {
          read: i % 2 ? owned : { team: principal('teams') },
          insert: owned,
          update: owned,
          delete: (p: Principal) => isAdmin(p),
          writeMask: ['ownerId'],
        },
      ],
    ),
  ),
});

const pause = () => new Promise((r) => setTimeout(r, 200));

function serverOf(dir: string, config: Config, name: string): OmniSyncServer {
  return createServer({
    dataDir: join(dir, name),
    durability: 'normal', // less fsync noise: what is left is the server's CPU work, where the checks show
    logLevel: 'silent',
    auth: { secret: SECRET },
    ...(config === 'on' ? { rules: BENCH_RULES } : {}),
  });
}

async function openApp(url: string, app: string, headers: Record<string, string>): Promise<void> {
  const res = await fetch(`${url}/v1/apps/${app}/pull`, { method: 'POST', body: '{"cursor":0}', headers });
  if (res.status !== 200) throw new Error(`pull failed: ${res.status} ${await res.text()}`);
  await res.arrayBuffer();
}

/** Interleaved pairs: each configuration's insert and update ingest times per run. */
async function ingest(dir: string): Promise<Record<Config, { insert: number[]; update: number[] }>> {
  const token = await new SignJWT({ app: 'ingest', sub: 'u1', teams: ['red'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(Math.floor(Date.now() / 1000) + 3600)
    .sign(new TextEncoder().encode(SECRET));
  const warm = await new SignJWT({ app: 'warmup', sub: 'u1', teams: ['red'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime(Math.floor(Date.now() / 1000) + 3600)
    .sign(new TextEncoder().encode(SECRET));
  const headers = { authorization: `Bearer ${token}` };
  const pusher = clientsWorker();
  const ms: Record<Config, { insert: number[]; update: number[] }> = {
    off: { insert: [], update: [] },
    on: { insert: [], update: [] },
  };
  try {
    for (let r = 0; r < RUNS; r++) {
      const order: Config[] = r % 2 === 0 ? ['off', 'on'] : ['on', 'off'];
      const servers = new Map<Config, { server: OmniSyncServer; url: string }>();
      for (const c of order) {
        const server = serverOf(dir, c, `${c}-${r}`);
        servers.set(c, { server, url: (await server.listen(0)).url });
      }
      try {
        for (const c of order)
          await pushIngest(pusher, servers.get(c)!.url, 'warmup', makeBatches('w_').slice(0, 4), 1, {
            authorization: `Bearer ${warm}`,
          });
        for (const c of order) {
          const { url } = servers.get(c)!;
          await openApp(url, 'ingest', headers);
          await pause();
          // The same ids twice: inserts, then updates of every document (newer stamps).
          ms[c].insert.push((await pushIngest(pusher, url, 'ingest', makeBatches(`d${r}_`), 1, headers)).ms);
          await pause();
          ms[c].update.push((await pushIngest(pusher, url, 'ingest', makeBatches(`d${r}_`), 1, headers)).ms);
        }
      } finally {
        for (const { server } of servers.values()) await server.close();
      }
    }
  } finally {
    await pusher.worker.terminate();
  }
  return ms;
}

/**
 * The checks of one 500-document push alone, in µs (no I/O, no HTTP: little noise): per
 * document what push does with rules on (applyChecked: the old and new document, the
 * evaluator's check), minus the same documents merged without rules.
 */
function checksPerPushUs(kind: 'insert' | 'update'): number {
  const rules = createRulesEvaluator(BENCH_RULES);
  const batch = makeBatches('c_')[0]!;
  const stored = (id: string) =>
    kind === 'insert'
      ? { collection: 'todos', id, cells: [] }
      : {
          collection: 'todos',
          id,
          cells: batch
            .filter((c) => c.id === id)
            .map((c) => ({ field: c.field, value: c.value as never, hlc: '0', version: 1 })),
        };
  const docs = Array.from({ length: batch.length / CELLS_PER_DOC }, (_, i) => {
    const cells = batch.slice(i * CELLS_PER_DOC, (i + 1) * CELLS_PER_DOC) as never[];
    return { stored: stored((cells[0] as unknown as { id: string }).id), cells };
  });
  const pass = (checked: boolean) => {
    // A principal per push, as HTTP pushes have (its checks are compiled once per push).
    const principal = { app: 'ingest', sub: 'u1', teams: ['red'] };
    const check = { rules, principal };
    for (const d of docs) {
      const doc = new WorkingDoc(d.stored);
      if (!checked) doc.apply(d.cells);
      else if (applyChecked('m', [d.cells], () => doc, check).status !== 'applied')
        throw new Error('the bench rules refused a write');
    }
  };
  const time = (checked: boolean) => {
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) pass(checked);
    return ((performance.now() - t0) * 1000) / 200;
  };
  for (let i = 0; i < 50; i++) {
    pass(true);
    pass(false);
  }
  const diffs: number[] = [];
  for (let r = 0; r < 7; r++) diffs.push(time(true) - time(false));
  return median(diffs);
}

const pct = (x: number) => `${x >= 0 ? '+' : ''}${(x * 100).toFixed(1)} %`;

export default async function rulesBench(): Promise<BenchSection> {
  const dir = mkdtempSync(join(tmpdir(), 'omnisync-bench-rules-'));
  const rows: (string | number)[][] = [];
  try {
    const checksUs = { insert: checksPerPushUs('insert'), update: checksPerPushUs('update') };
    const ms = await ingest(dir);
    const cells = DOCS * CELLS_PER_DOC;
    for (const kind of ['insert', 'update'] as const) {
      const off = median(ms.off[kind]);
      const on = median(ms.on[kind]);
      const ratio = median(ms.on[kind].map((t, i) => t / ms.off[kind][i]!));
      rows.push([
        `push ingest, ${kind === 'insert' ? 'inserts (insert check on the new document, write mask)' : 'updates (update check on the old and the new document, write mask)'}`,
        `${fmtRate(cells / (off / 1000))} changes/s (${fmtMs(off / (DOCS / 500))} ms a push)`,
        `${fmtRate(cells / (on / 1000))} changes/s (${fmtMs(on / (DOCS / 500))} ms a push)`,
        `${pct(ratio - 1)} time (median ratio of ${RUNS} interleaved pairs; ${ratio <= 1.2 ? 'goal ≤ +20 % met' : 'goal ≤ +20 % missed'})`,
      ]);
      const us = checksUs[kind];
      rows.push([
        `the rule checks of one such push alone (${kind}s, 500 documents; no I/O, little noise)`,
        '0',
        `${fmtMs(us / 1000)} ms a push (${(us / 500).toFixed(2)} µs a document)`,
        `${pct(us / 1000 / (off / (DOCS / 500)))} of one push with rules off (${fmtMs(off / (DOCS / 500))} ms)`,
      ]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return {
    title: 'Rules: push ingest with 10 collections of permission rules on vs off (issue 13)',
    notes: `HTTP pushes of 500 documents × ${CELLS_PER_DOC} cells (${DOCS} documents a run) with an HS256 token (verified in both configurations) from a worker thread, durability normal, fresh servers per pair. "on" has defineRules for 10 collections (principal-bound predicates, and/or, a write mask); every written document is checked. Goal: ≤ 20 % slower. On this shared, loaded machine the HTTP pairs swing by ±20 % either way; the "checks alone" rows (the same code push runs, timed in-process without I/O) are the steadier figure of what rules add per document. Fan-out with read rules is filtered by the read side (not in this branch) and is not measured here`,
    columns: ['what', 'rules off', 'rules on', 'cost'],
    rows,
  };
}
