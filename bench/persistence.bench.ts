/**
 * Client persistence: one commit of 100,000 cells, 500 one-cell commits awaited one by one

 * (commit latency; the file backend fsyncs each), 10,000 one-cell commits issued without
 * awaiting (the file backend group-commits them), and a load of 100,000 cells. Peer:
 * better-sqlite3 (WAL, synchronous=FULL) writing the same rows in one transaction and one
 * transaction per row. IndexedDB runs on fake-indexeddb here (a JS fake: its figures say
 * nothing about a browser; the browser run comes with the React issue).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { type Cell, encodeHlc } from '@omnisync/core';
import { createFilePersistence } from '../packages/client/src/persistence/file.js';
import { createIndexedDbPersistence } from '../packages/client/src/persistence/indexeddb.js';
import {
  createMemoryPersistence,
  createMemoryPersistenceStore,
} from '../packages/client/src/persistence/memory.js';
import type { Persistence } from '../packages/client/src/persistence/types.js';
import { type BenchSection, fmtMs, fmtRate, median, percentile, performance } from './lib.js';

const N = 100_000;
const SMALL = 500;
const BURST = 10_000;
const hlc = (n: number) => encodeHlc({ wall: 1_700_000_000_000 + n, counter: 0, node: 'bench' });
const cells: Cell[] = Array.from({ length: N }, (_, i) => ({
  collection: 'todos',
  id: `d${i}`,
  field: 'title',
  value: `todo number ${i}`,
  hlc: hlc(i),
}));

async function measure(open: () => Persistence): Promise<(string | number)[]> {
  let p = open();
  await p.load();
  let t0 = performance.now();
  await p.commit({ cells, putTransactions: [{ id: 'bulk', state: 'pending' }] });
  const bulkMs = performance.now() - t0;
  const lat: number[] = [];
  for (let i = 0; i < SMALL; i++) {
    t0 = performance.now();
    await p.commit({
      cells: [{ ...cells[i]!, value: `edit ${i}`, hlc: hlc(N + i) }],
      putTransactions: [{ id: `t${i}` }],
    });
    lat.push(performance.now() - t0);
  }
  t0 = performance.now();
  const burst: Promise<void>[] = [];
  for (let i = 0; i < BURST; i++)
    burst.push(
      p.commit({
        cells: [{ ...cells[i]!, value: `burst ${i}`, hlc: hlc(2 * N + i) }],
        putTransactions: [{ id: `b${i}` }],
      }),
    );
  await Promise.all(burst);
  const burstMs = performance.now() - t0;
  await p.close();
  p = open();
  t0 = performance.now();
  const s = await p.load();
  const loadMs = performance.now() - t0;
  if (s.cells.length !== N) throw new Error(`${p.name}: loaded ${s.cells.length} cells`);
  await p.close();
  return [
    p.name.split(':')[0]!,
    fmtRate(N / (bulkMs / 1000)),
    fmtMs(median(lat)),
    fmtMs(percentile(lat, 95)),
    fmtRate(SMALL / (lat.reduce((a, b) => a + b, 0) / 1000)),
    fmtRate(BURST / (burstMs / 1000)),
    fmtMs(loadMs),
  ];
}

function sqlite(dir: string): (string | number)[] {
  const db = new Database(join(dir, 'peer.sqlite'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(
    'CREATE TABLE cells (collection TEXT, id TEXT, field TEXT, value TEXT, hlc TEXT, PRIMARY KEY (collection, id, field))',
  );
  const put = db.prepare('INSERT OR REPLACE INTO cells VALUES (?, ?, ?, ?, ?)');
  let t0 = performance.now();
  db.transaction(() => {
    for (const c of cells) put.run(c.collection, c.id, c.field, JSON.stringify(c.value), c.hlc);
  })();
  const bulkMs = performance.now() - t0;
  const lat: number[] = [];
  for (let i = 0; i < SMALL; i++) {
    t0 = performance.now();
    put.run('todos', `d${i}`, 'title', JSON.stringify(`edit ${i}`), hlc(N + i));
    lat.push(performance.now() - t0);
  }
  t0 = performance.now();
  const rows = db.prepare('SELECT * FROM cells').all();
  const loadMs = performance.now() - t0;
  if (rows.length !== N) throw new Error('sqlite rows');
  db.close();
  return [
    'better-sqlite3 (peer)',
    fmtRate(N / (bulkMs / 1000)),
    fmtMs(median(lat)),
    fmtMs(percentile(lat, 95)),
    fmtRate(SMALL / (lat.reduce((a, b) => a + b, 0) / 1000)),
    '— (synchronous API)',
    fmtMs(loadMs),
  ];
}

export default async function persistenceBench(): Promise<BenchSection> {
  const dir = mkdtempSync(join(tmpdir(), 'omnisync-bench-persist-'));
  try {
    const idb = new IDBFactory();
    const store = createMemoryPersistenceStore();
    const rows = [
      await measure(() => createMemoryPersistence({ store })),
      await measure(() => createFilePersistence({ path: join(dir, 'store.omnisync') })),
      await measure(() => createIndexedDbPersistence({ name: 'bench', indexedDB: idb, IDBKeyRange })),
      sqlite(dir),
    ];
    rows[2]![0] = 'indexeddb (fake-indexeddb)';
    return {
      title: 'Client persistence',
      notes: `One commit of ${N.toLocaleString('en')} cells; ${SMALL} one-cell commits awaited one by one (file: fsync each); ${BURST.toLocaleString('en')} one-cell commits issued at once (file: group commit); load of ${N.toLocaleString('en')} cells after reopening. Peer: better-sqlite3, WAL, synchronous=FULL.`,
      columns: [
        'backend',
        'bulk cells/s',
        'commit p50 ms',
        'commit p95 ms',
        'awaited commits/s',
        `${BURST / 1000}k unawaited commits/s`,
        'load ms',
      ],
      rows,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
