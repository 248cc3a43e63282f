/**
 * SQLBinding through the server's safe SQL runner (`createSqlRunner` + `sqlRunnerHandler`
 * on @hono/node-server over loopback), on SQLite (better-sqlite3) and on the local Postgres
 * (pg), next to the same driver doing the same writes and reads in process (the limit: no
 * HTTP, no parsing and checking of statements, no optimistic state).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAdaptorServer } from '@hono/node-server';
import Database from 'better-sqlite3';
import pg from 'pg';
import { createClient, createState, defineState, SQLBinding } from '../packages/client/src/index.ts';
import { createSqlRunner, sqlRunnerHandler } from '../packages/server/src/index.ts';
import { freshSchema, PG_URL, pgUnreachable } from '../packages/server/test/helpers/pg-url.ts';
import {
  BATCH,
  type Row,
  ROWS,
  settle,
  STEP_COLUMNS,
  type StepTimes,
  stepRows,
  UPDATES,
} from './backend-support.ts';
import { type BenchSection, performance } from './lib.ts';

const RUNS = 3;
const ALLOW = { rows: ['id', 'title', 'n'] };

async function serve(
  handle: (r: Request) => Promise<Response>,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createAdaptorServer({ fetch: handle }) as Server;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api/sql-runner`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

/** OmniSync: two apps (A writes, B is the fresh client) with a SQLBinding to the runner. */
async function throughBinding(url: string): Promise<StepTimes> {
  const app = () => {
    const client = createClient();
    const binding = new SQLBinding<Row>({ endpoint: url });
    const state = createState(client, defineState({ rows: { _binding: binding, _type: [] as Row[] } }));
    return { client, state };
  };
  const a = app();
  await settle(() => a.state.rows.length);
  let t0 = performance.now();
  for (let b = 0; b < ROWS / BATCH; b++)
    await a.client.transaction(() => {
      for (let i = b * BATCH; i < (b + 1) * BATCH; i++)
        a.state.rows.insert({ id: `r${i}`, title: `row ${i}`, n: 0 });
    }).promise;
  const push = performance.now() - t0;
  t0 = performance.now();
  const b = app();
  const loaded = await settle(() => b.state.rows.length);
  const load = performance.now() - t0;
  if (loaded !== ROWS) throw new Error(`SQL bench: the fresh client loaded ${loaded} rows`);
  t0 = performance.now();
  await a.client.transaction(() => {
    for (let i = 0; i < UPDATES; i++) a.state.rows.get(`r${i}`)!.n = 1;
  }).promise;
  const updates = performance.now() - t0;
  await Promise.all([a.client.close(), b.client.close()]);
  return { push, load, updates };
}

function sqliteDirect(db: Database.Database): StepTimes {
  const ins = db.prepare('INSERT INTO rows (id, title, n) VALUES (?, ?, ?)');
  const upd = db.prepare('UPDATE rows SET n = ? WHERE id = ?');
  let t0 = performance.now();
  for (let b = 0; b < ROWS / BATCH; b++)
    db.transaction(() => {
      for (let i = b * BATCH; i < (b + 1) * BATCH; i++) ins.run(`r${i}`, `row ${i}`, 0);
    })();
  const push = performance.now() - t0;
  t0 = performance.now();
  if (db.prepare('SELECT * FROM rows').all().length !== ROWS) throw new Error('direct read lost rows');
  const load = performance.now() - t0;
  t0 = performance.now();
  db.transaction(() => {
    for (let i = 0; i < UPDATES; i++) upd.run(1, `r${i}`);
  })();
  return { push, load, updates: performance.now() - t0 };
}

async function pgDirect(pool: pg.Pool, schema: string): Promise<StepTimes> {
  const c = await pool.connect();
  try {
    const tx = async (fn: () => Promise<void>) => {
      await c.query('BEGIN');
      await fn();
      await c.query('COMMIT');
    };
    let t0 = performance.now();
    for (let b = 0; b < ROWS / BATCH; b++)
      await tx(async () => {
        for (let i = b * BATCH; i < (b + 1) * BATCH; i++)
          await c.query(`INSERT INTO ${schema}.rows (id, title, n) VALUES ($1, $2, $3)`, [
            `r${i}`,
            `row ${i}`,
            0,
          ]);
      });
    const push = performance.now() - t0;
    t0 = performance.now();
    if ((await c.query(`SELECT * FROM ${schema}.rows`)).rows.length !== ROWS)
      throw new Error('direct read lost rows');
    const load = performance.now() - t0;
    t0 = performance.now();
    await tx(async () => {
      for (let i = 0; i < UPDATES; i++)
        await c.query(`UPDATE ${schema}.rows SET n = $1 WHERE id = $2`, [1, `r${i}`]);
    });
    return { push, load, updates: performance.now() - t0 };
  } finally {
    c.release();
  }
}

async function sqliteRuns(dir: string): Promise<[StepTimes[], StepTimes[]]> {
  const ours: StepTimes[] = [];
  const direct: StepTimes[] = [];
  for (let r = 0; r < RUNS; r++) {
    const open = (name: string) => {
      const db = new Database(join(dir, `${name}-${r}.db`));
      db.pragma('journal_mode = WAL');
      db.exec('CREATE TABLE rows (id TEXT PRIMARY KEY, title TEXT NOT NULL, n INTEGER NOT NULL)');
      return db;
    };
    const db = open('runner');
    const http = await serve(sqlRunnerHandler(createSqlRunner({ db, allow: ALLOW, maxRows: ROWS * 2 })));
    ours.push(await throughBinding(http.url));
    await http.close();
    db.close();
    const d = open('direct');
    direct.push(sqliteDirect(d));
    d.close();
  }
  return [ours, direct];
}

async function postgresRuns(): Promise<[StepTimes[], StepTimes[]]> {
  const pool = new pg.Pool({ connectionString: PG_URL, max: 4 });
  const ours: StepTimes[] = [];
  const direct: StepTimes[] = [];
  const schemas: string[] = [];
  try {
    for (let r = 0; r < RUNS; r++) {
      const make = async () => {
        const schema = freshSchema('benchsql');
        schemas.push(schema);
        await pool.query(
          `CREATE SCHEMA ${schema}; CREATE TABLE ${schema}.rows (id text PRIMARY KEY, title text NOT NULL, n integer NOT NULL)`,
        );
        return schema;
      };
      const s1 = await make();
      const http = await serve(
        sqlRunnerHandler(createSqlRunner({ db: pool, allow: ALLOW, schema: s1, maxRows: ROWS * 2 })),
      );
      ours.push(await throughBinding(http.url));
      await http.close();
      direct.push(await pgDirect(pool, await make()));
    }
  } finally {
    for (const s of schemas) await pool.query(`DROP SCHEMA ${s} CASCADE`);
    await pool.end();
  }
  return [ours, direct];
}

export default async function backendSqlBench(): Promise<BenchSection> {
  const dir = mkdtempSync(join(tmpdir(), 'omnisync-bench-sql-'));
  try {
    const [sOurs, sDirect] = await sqliteRuns(dir);
    const rows = stepRows('SQLite', sOurs, sDirect);
    const noPg = await pgUnreachable('backend-sql bench on Postgres');
    if (noPg === undefined) {
      const [pOurs, pDirect] = await postgresRuns();
      rows.push(...stepRows('Postgres', pOurs, pDirect));
    } else rows.push(['Postgres', `not run: ${noPg}`, '', '', '', '', '']);
    return {
      title: 'SQL backend: 10k rows through SQLBinding and the safe SQL runner vs the driver directly',
      notes: `Medians of ${RUNS} runs, each on a fresh database (SQLite file in WAL mode; a fresh Postgres schema on 127.0.0.1). OmniSync: apps built with defineState/createState whose collection has a SQLBinding posting to sqlRunnerHandler(createSqlRunner(...)) over loopback HTTP; every statement parsed, checked against the allow-list and run parameterised, a transaction's statements in one database transaction; the updates step ends when the database acknowledged the transaction. Direct: better-sqlite3 prepared statements in process / one pg connection sending the same statements (the limit: no HTTP, no checks, no optimistic state).`,
      columns: STEP_COLUMNS,
      rows,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
