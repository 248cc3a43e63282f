/**
 * Seed 004 SyncProvider throughput: 10,000 rows through the worked provider
 * (examples/provider: HTTP + WebSocket on SQLite) with real clients, next to better-sqlite3
 * doing the same writes and reads directly on the same kind of file (the limit: no network,
 * no sync metadata). Measured: the initial push of 10k rows (10 transactions of 1,000
 * inserts), a fresh client's initial load (catch-up in pages of 500), and 1,000 updates
 * round-trip (one transaction of 1,000 updates on client A until client B shows them all).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import WebSocket from 'ws';
import {
  createClient,
  createSyncProviderSource,
  type WebSocketConstructor,
} from '../packages/client/src/index.ts';
import { HttpSyncProvider } from '../examples/provider/http-sync-provider.ts';
import { startProviderServer } from '../examples/provider/server.ts';
import { type BenchSection, fmtMs, fmtRate, median, performance } from './lib.ts';

const ROWS = 10_000;
const UPDATES = 1_000;
const RUNS = 3;

const until = async (cond: () => boolean) => {
  while (!cond()) await new Promise((r) => setTimeout(r, 1));
};

async function omnisyncRun(dir: string, run: number) {
  const server = await startProviderServer({ file: join(dir, `provider-${run}.db`) });
  const scope = { workspaceId: 'bench' };
  const device = () => {
    const client = createClient();
    const provider = new HttpSyncProvider({
      url: server.url,
      WebSocket: WebSocket as unknown as WebSocketConstructor,
    });
    const rows = client.collection<{ id: string; title: string; n: number }>({
      id: 'rows',
      source: createSyncProviderSource(provider, { scope }),
    });
    return { client, rows };
  };
  const a = device();
  await until(() => a.rows.status.peek() === 'ready');
  let t0 = performance.now();
  for (let b = 0; b < ROWS / 1000; b++) {
    const tx = a.client.transaction(() => {
      for (let i = b * 1000; i < (b + 1) * 1000; i++) a.rows.insert({ id: `r${i}`, title: `row ${i}`, n: 0 });
    });
    await tx.promise;
  }
  const push = performance.now() - t0;
  t0 = performance.now();
  const b = device();
  await until(() => b.rows.status.peek() === 'ready' && b.rows.count() === ROWS);
  const load = performance.now() - t0;
  t0 = performance.now();
  a.client.transaction(() => {
    for (let i = 0; i < UPDATES; i++) a.rows.update(`r${i}`, { n: 1 });
  });
  await until(() => {
    for (let i = UPDATES - 1; i >= 0; i--) if (b.rows.get(`r${i}`)?.n !== 1) return false;
    return true;
  });
  const updates = performance.now() - t0;
  await Promise.all([a.client.close(), b.client.close()]);
  await server.close();
  return { push, load, updates };
}

function sqliteRun(dir: string, run: number) {
  const db = new Database(join(dir, `direct-${run}.db`));
  db.pragma('journal_mode = WAL');
  db.exec('CREATE TABLE rows (id TEXT PRIMARY KEY, title TEXT, n INTEGER)');
  const ins = db.prepare('INSERT INTO rows (id, title, n) VALUES (?, ?, ?)');
  const upd = db.prepare('UPDATE rows SET n = ? WHERE id = ?');
  let t0 = performance.now();
  for (let b = 0; b < ROWS / 1000; b++)
    db.transaction(() => {
      for (let i = b * 1000; i < (b + 1) * 1000; i++) ins.run(`r${i}`, `row ${i}`, 0);
    })();
  const push = performance.now() - t0;
  t0 = performance.now();
  const all = db.prepare('SELECT * FROM rows').all();
  if (all.length !== ROWS) throw new Error('direct read lost rows');
  const load = performance.now() - t0;
  t0 = performance.now();
  db.transaction(() => {
    for (let i = 0; i < UPDATES; i++) upd.run(1, `r${i}`);
  })();
  db.prepare('SELECT * FROM rows WHERE n = 1').all();
  const updates = performance.now() - t0;
  db.close();
  return { push, load, updates };
}

export default async function providerBench(): Promise<BenchSection> {
  const dir = mkdtempSync(join(tmpdir(), 'omnisync-bench-provider-'));
  try {
    const ours: Awaited<ReturnType<typeof omnisyncRun>>[] = [];
    const direct: ReturnType<typeof sqliteRun>[] = [];
    for (let r = 0; r < RUNS; r++) {
      ours.push(await omnisyncRun(dir, r));
      direct.push(sqliteRun(dir, r));
    }
    const row = (what: string, key: 'push' | 'load' | 'updates', n: number) => {
      const o = median(ours.map((x) => x[key]));
      const d = median(direct.map((x) => x[key]));
      return [
        what,
        fmtMs(o),
        fmtRate((n / o) * 1000),
        fmtMs(d),
        fmtRate((n / d) * 1000),
        `${(o / d).toFixed(1)}×`,
      ];
    };
    return {
      title:
        'SyncProvider: 10k rows through the worked provider (HTTP + WebSocket + SQLite) vs better-sqlite3 directly',
      notes: `Medians of ${RUNS} runs, each on a fresh SQLite file. OmniSync: real clients with createSyncProviderSource over HttpSyncProvider to examples/provider/server.ts on loopback (server-side op dedupe, per-field LWW, change log). Direct: the same writes and reads with better-sqlite3 in process (no network, no sync metadata): the limit.`,
      columns: [
        'step',
        'OmniSync via provider (ms)',
        'rows/s',
        'better-sqlite3 direct (ms)',
        'rows/s',
        'ratio (time)',
      ],
      rows: [
        row(`push ${ROWS} inserts (10 tx × 1,000)`, 'push', ROWS),
        row(`initial load of ${ROWS} rows (fresh client)`, 'load', ROWS),
        row(`${UPDATES} updates, A → visible on B`, 'updates', UPDATES),
      ],
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
