/**
 * @omnisync/dexie: Dexie 4 tables whose writes the bridge captures into the outbox (in the
 * same IndexedDB transaction) and a sync loop to a real OmniSync server (SQLite, loopback),
 * next to Dexie alone doing the same writes and reads (the limit: no capture, no sync).
 * IndexedDB is fake-indexeddb in Node (the same for both sides).
 */
import 'fake-indexeddb/auto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dexie } from 'dexie';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { createDexieBridge, createDexieSync, omnisyncStores } from '../packages/dexie/src/index.ts';
import { createServer } from '../packages/server/src/index.ts';
import { BATCH, type Row, ROWS, STEP_COLUMNS, type StepTimes, stepRows, UPDATES } from './backend-support.ts';
import { type BenchSection, performance } from './lib.ts';

const RUNS = 3;
let dbs = 0;

const rowsOf = (from: number, to: number): Row[] => {
  const out: Row[] = [];
  for (let i = from; i < to; i++) out.push({ id: `r${i}`, title: `row ${i}`, n: 0 });
  return out;
};

async function writes(db: Dexie, after: () => Promise<unknown>): Promise<{ push: number; updates: number }> {
  const t = db.table<Row, string>('rows');
  let t0 = performance.now();
  for (let b = 0; b < ROWS / BATCH; b++) await t.bulkPut(rowsOf(b * BATCH, (b + 1) * BATCH));
  await after();
  const push = performance.now() - t0;
  t0 = performance.now();
  await db.transaction('rw', t, async () => {
    for (let i = 0; i < UPDATES; i++) await t.update(`r${i}`, { n: 1 });
  });
  await after();
  return { push, updates: performance.now() - t0 };
}

async function throughBridge(url: string, app: string): Promise<StepTimes> {
  const device = () => {
    const db = new Dexie(`bench-${dbs++}`, { indexedDB: new IDBFactory(), IDBKeyRange });
    db.version(1).stores({ rows: 'id', ...omnisyncStores });
    const bridge = createDexieBridge(db, { tables: ['rows'] });
    return { db, sync: createDexieSync(bridge, { server: url, app }) };
  };
  const a = device();
  const b = device();
  const timesA = { push: 0, updates: 0 };
  // A's writes count until the server acknowledged them (the outbox flushed).
  const w = await writes(a.db, () => a.sync.sync());
  timesA.push = w.push;
  let t0 = performance.now();
  await b.sync.sync();
  const load = performance.now() - t0;
  if ((await b.db.table('rows').count()) !== ROWS) throw new Error('Dexie bench: B did not load every row');
  // The updates step as measured by `writes` ended at A's ack; add B's pull to see them.
  t0 = performance.now();
  await b.sync.sync();
  const pulled = performance.now() - t0;
  const seen = await b.db
    .table<Row, string>('rows')
    .where('id')
    .anyOf(['r0', `r${UPDATES - 1}`])
    .toArray();
  if (seen.some((r) => r.n !== 1)) throw new Error('Dexie bench: B did not get the updates');
  a.db.close();
  b.db.close();
  return { push: timesA.push, load, updates: w.updates + pulled };
}

async function dexieAlone(): Promise<StepTimes> {
  const db = new Dexie(`bench-${dbs++}`, { indexedDB: new IDBFactory(), IDBKeyRange });
  db.version(1).stores({ rows: 'id' });
  const { push, updates } = await writes(db, async () => {});
  const t0 = performance.now();
  const all = await db.table('rows').toArray();
  const load = performance.now() - t0;
  if (all.length !== ROWS) throw new Error('direct read lost rows');
  db.close();
  return { push, load, updates };
}

export default async function backendDexieBench(): Promise<BenchSection> {
  const dir = mkdtempSync(join(tmpdir(), 'omnisync-bench-dexie-'));
  const server = createServer({ dataDir: join(dir, 'server'), durability: 'off', logLevel: 'silent' });
  const { url } = await server.listen(0);
  try {
    const ours: StepTimes[] = [];
    const direct: StepTimes[] = [];
    for (let r = 0; r < RUNS; r++) {
      ours.push(await throughBridge(url, `dexie-bench-${r}`));
      direct.push(await dexieAlone());
    }
    return {
      title: 'Dexie backend: 10k rows through @omnisync/dexie and an OmniSync server vs Dexie alone',
      notes: `Medians of ${RUNS} runs, fake-indexeddb in Node for both sides (a fresh IDBFactory per device). OmniSync: Dexie 4 with the bridge's DBCore middleware (each write and its outbox entry in one IndexedDB transaction) and createDexieSync pushing/pulling in its default batches to a real OmniSync server (SQLite, loopback HTTP); push = 10 bulkPut of 1,000 until the server acknowledged the outbox; initial load = a second device's first sync (pull + applying by field-level HLC into its Dexie table); updates = 1,000 update() in one Dexie transaction until A's ack plus B's pull that shows them. Direct: the same bulkPut/update/toArray on Dexie without the bridge (the limit: no capture, no network).`,
      columns: STEP_COLUMNS,
      rows: stepRows('Dexie (fake-indexeddb)', ours, direct),
    };
  } finally {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
