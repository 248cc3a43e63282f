/**
 * @omnisync/convex: real clients with createSyncProviderSource over ConvexSyncProvider, the
 * server side being the package's Convex functions (sync.push/pull/watchChanges) run by
 * convex-test's in-memory backend, next to the same writes and reads as plain Convex
 * functions on an app table in the same backend (the limit: no sync metadata, no HLCs, no
 * change log). convex-test has no subscriptions: queries watched through the shared client
 * are re-run after each mutation, as Convex's reactivity would push them.
 */
import { convexTest } from 'convex-test';
import { anyApi } from 'convex/server';
import { createClient, createSyncProviderSource } from '../packages/client/src/index.ts';
import { ConvexSyncProvider } from '../packages/convex/src/index.ts';
import { convexTestClient } from '../packages/convex/test/convex-test-client.ts';
import schema from './convex/schema.ts';
import { type Row, STEP_COLUMNS, type StepTimes, stepRows, until } from './backend-support.ts';
import { type BenchSection, performance } from './lib.ts';

const RUNS = 3;
/**
 * convex-test answers an indexed query by scanning the table (it has no real indexes) and
 * each write of a mutation grows what later reads scan, so its cost grows with the square
 * of the rows: 2,000 plain inserts in one mutation take 3× as long as 1,000. 10k rows (the
 * other backends' size) would take most of an hour here, so Convex runs at 1k.
 */
const ROWS = Number(process.env.CONVEX_ROWS ?? 1_000);
const BATCH = ROWS / 10;
const UPDATES = ROWS / 10;
const modules = {
  'convex/_generated/api.js': async () => ({}),
  'convex/schema.ts': () => import('./convex/schema.ts'),
  'convex/sync.ts': () => import('./convex/sync.ts'),
  'convex/rows.ts': () => import('./convex/rows.ts'),
};
const fn = anyApi as any;

async function throughProvider(): Promise<StepTimes> {
  const convex = convexTestClient(convexTest(schema, modules));
  const device = () => {
    const client = createClient();
    const rows = client.collection<Row>({
      id: 'rows',
      source: createSyncProviderSource(new ConvexSyncProvider(convex), { scope: { workspaceId: 'bench' } }),
    });
    return { client, rows };
  };
  const a = device();
  await until(() => a.rows.status.peek() === 'ready');
  let t0 = performance.now();
  for (let b = 0; b < ROWS / BATCH; b++)
    await a.client.transaction(() => {
      for (let i = b * BATCH; i < (b + 1) * BATCH; i++)
        a.rows.insert({ id: `r${i}`, title: `row ${i}`, n: 0 });
    }).promise;
  const push = performance.now() - t0;
  t0 = performance.now();
  const b = device();
  await until(() => b.rows.status.peek() === 'ready' && b.rows.count() === ROWS, 600_000);
  const load = performance.now() - t0;
  t0 = performance.now();
  a.client.transaction(() => {
    for (let i = 0; i < UPDATES; i++) a.rows.update(`r${i}`, { n: 1 });
  });
  await until(() => {
    for (let i = UPDATES - 1; i >= 0; i--) if (b.rows.get(`r${i}`)?.n !== 1) return false;
    return true;
  }, 600_000);
  const updates = performance.now() - t0;
  await Promise.all([a.client.close(), b.client.close()]);
  return { push, load, updates };
}

async function plainFunctions(): Promise<StepTimes> {
  const t = convexTest(schema, modules);
  let t0 = performance.now();
  for (let b = 0; b < ROWS / BATCH; b++) {
    const rows = [];
    for (let i = b * BATCH; i < (b + 1) * BATCH; i++) rows.push({ key: `r${i}`, title: `row ${i}`, n: 0 });
    await t.mutation(fn.rows.insertMany, { rows });
  }
  const push = performance.now() - t0;
  t0 = performance.now();
  if ((await t.query(fn.rows.list, {})).length !== ROWS) throw new Error('direct read lost rows');
  const load = performance.now() - t0;
  t0 = performance.now();
  await t.mutation(fn.rows.setN, { keys: Array.from({ length: UPDATES }, (_, i) => `r${i}`), n: 1 });
  const rows = (await t.query(fn.rows.list, {})) as { key: string; n: number }[];
  if (rows.filter((r) => r.n === 1).length !== UPDATES) throw new Error('direct updates lost');
  return { push, load, updates: performance.now() - t0 };
}

export default async function backendConvexBench(): Promise<BenchSection> {
  const ours: StepTimes[] = [];
  const direct: StepTimes[] = [];
  for (let r = 0; r < RUNS; r++) {
    ours.push(await throughProvider());
    direct.push(await plainFunctions());
  }
  return {
    title: 'Convex backend: 1k rows through @omnisync/convex on convex-test vs plain Convex functions',
    notes: `${ROWS} rows, not 10k: convex-test scans a table for each indexed query (no real indexes), so its cost grows with the square of the rows on both sides. Medians of ${RUNS} runs, each on a fresh convex-test backend (in memory, in process: no network on either side, so the ratio is the cost of the sync protocol's functions and the client). OmniSync: two clients with createSyncProviderSource(new ConvexSyncProvider(...)); push = 10 transactions of ${BATCH} inserts acknowledged by sync.push (server HLC order, op-id idempotency, change log); initial load = a fresh client's catch-up by sync.pull pages; updates = ${UPDATES} updates on A until B shows them all (B's watchChanges re-run after A's push). The push ratio is mostly convex-test: sync.push looks up each op id, tombstone and field (per-field LWW) through indexes, which convex-test answers by scanning the table, while the direct insert does no lookup; on a Convex deployment those are index seeks (none can run here: it needs a download). Direct: mutations inserting/patching the same rows on a plain table and a list query (the updates step ends with the query that shows them).`,
    columns: STEP_COLUMNS,
    rows: stepRows('Convex (convex-test)', ours, direct, { rows: ROWS, batch: BATCH, updates: UPDATES }),
  };
}
