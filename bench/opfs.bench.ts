/**
 * Cold start in real Chromium: OPFS (SQLite-wasm on opfs-sahpool in a worker, @omnisync/opfs)
 * vs IndexedDB, 100k documents (5 fields each), in the same headless Chromium run. Each run
 * opens a fresh persistence (for OPFS: a new worker, SQLite-wasm instantiated again) and a
 * new client on the persisted replica, until the first result of
 * `todos.where({ completed: false }).orderBy({ createdAt: 'desc' }).limit(50)`. The data is
 * written once through each persistence's own `commit` (OPFS then compacted to its snapshot).
 * Median of RUNS runs; the page stays loaded between runs (the HTTP cache may hold the wasm).
 */
import { type Browser, chromium } from 'playwright-core';
import { chromiumArgs, chromiumPath, serveOpfsPage } from '../packages/opfs/test/page.ts';
import { type BenchSection, fmtMs, median } from './lib.ts';

const N = Number(process.env.OPFS_DOCS ?? 100_000);
const RUNS = Number(process.env.OPFS_RUNS ?? 5);

const entry = `
import { encodeHlc } from '@omnisync/core';
import { createClient, createState, defineState, createIndexedDbPersistence } from '@omnisync/client';
import { createOpfsPersistence } from '../src/index.js';
const T0 = 1_700_000_000_000;
const open = (kind, n) => kind === 'opfs'
  ? createOpfsPersistence({ name: 'cold-' + n, worker: () => new Worker('/worker.js', { type: 'module' }) })
  : createIndexedDbPersistence({ name: 'cold-' + n });
window.seed = async (kind, n) => {
  const p = open(kind, n);
  await p.load();
  const hlc = encodeHlc({ wall: T0, counter: 0, node: 'seed' });
  for (let start = 0; start < n; start += 50000) {
    const cells = [];
    for (let i = start; i < Math.min(n, start + 50000); i++) {
      const id = 't' + i;
      cells.push(
        { collection: 'todos', id, field: 'title', value: 'Todo number ' + i, hlc },
        { collection: 'todos', id, field: 'completed', value: i % 2 === 0, hlc },
        { collection: 'todos', id, field: 'priority', value: i % 5, hlc },
        { collection: 'todos', id, field: 'createdAt', value: T0 + i, hlc },
        { collection: 'todos', id, field: 'ownerId', value: 'owner' + (i % 1000), hlc },
      );
    }
    await p.commit({ cells });
  }
  if (p.compact) await p.compact();
  await p.close();
};
window.cold = async (kind, n) => {
  const t0 = performance.now();
  const client = createClient({ persistence: open(kind, n) });
  const state = createState(client, defineState({ todos: { _type: [] } }));
  await client.ready;
  const first = state.todos.where({ completed: false }).orderBy({ createdAt: 'desc' }).limit(50);
  const ms = performance.now() - t0;
  if (first[0]?.id !== 't' + (n - 1) || first.length !== 50) throw new Error('cold start read ' + first[0]?.id);
  await client.close();
  return ms;
};
`;

export default async function opfsBench(): Promise<BenchSection> {
  const { server, url } = await serveOpfsPage(entry);
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
    const page = await browser.newPage();
    await page.goto(url);
    type W = { seed(k: string, n: number): Promise<void>; cold(k: string, n: number): Promise<number> };
    const times: Record<string, number[]> = { opfs: [], idb: [] };
    for (const kind of ['opfs', 'idb']) {
      await page.evaluate(([k, n]) => (window as unknown as W).seed(k as string, n as number), [kind, N]);
      for (let r = 0; r < RUNS; r++)
        times[kind]!.push(
          await page.evaluate(([k, n]) => (window as unknown as W).cold(k as string, n as number), [kind, N]),
        );
    }
    const opfs = median(times.opfs!);
    const idb = median(times.idb!);
    const row = (name: string, ms: number, all: number[]) => [
      `${N.toLocaleString('en-US')} docs`,
      name,
      `${fmtMs(ms)} ms`,
      all.map((x) => fmtMs(x)).join(', '),
      `${(ms / idb).toFixed(2)}×`,
    ];
    return {
      title: 'Cold start in Chromium: OPFS (SQLite-wasm) vs IndexedDB',
      notes: `headless Chromium ${browser.version()}, ${RUNS} runs, median; persisted replica → first live-query result`,
      columns: ['size', 'persistence', 'median', 'runs (ms)', 'vs IndexedDB'],
      rows: [
        row('OPFS (@omnisync/opfs, opfs-sahpool, worker)', opfs, times.opfs!),
        row('IndexedDB (createIndexedDbPersistence)', idb, times.idb!),
      ],
    };
  } finally {
    await browser?.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
