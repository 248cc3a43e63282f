/**
 * The shared storage suite on the real Postgres of this machine (127.0.0.1:5432, database
 * `test`; OMNISYNC_PG_URL overrides), each case in a schema of its own, dropped afterwards;
 * plus Postgres-only checks and a server running on it end to end. Skips, saying why, only
 * when no Postgres answers (CI starts it, so there it never skips).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { userInfo } from 'node:os';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type Cell, Replica } from '@omnisync/core';
import { createPostgresStorage, createPostgresStorageFactory, createServer } from '@omnisync/server';
import { CellWriter, HttpClient, LiveClient, mutation } from './helpers/protocol-client.js';
import { storageSuite } from './storage-suite.js';

// Trust auth: the user is this process's OS user (as psql would use), unless given.
const ROOT = fileURLToPath(new globalThis.URL('../../../', import.meta.url));
const cli = ['--import', 'tsx', 'packages/server/src/cli.ts', 'serve', '--port', '0'];

const URL =
  process.env.OMNISYNC_PG_URL ?? `postgres://${encodeURIComponent(userInfo().username)}@127.0.0.1:5432/test`;

async function reachable(): Promise<string | undefined> {
  const c = new pg.Client({ connectionString: URL, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  } finally {
    await c.end().catch(() => {});
  }
}

const unreachable = await reachable();
if (unreachable) console.warn(`postgres-storage tests skipped: no Postgres at ${URL} (${unreachable})`);

const admin = unreachable ? undefined : new pg.Pool({ connectionString: URL, max: 2 });
afterAll(async () => {
  await admin?.end();
});
const freshSchema = () => `omnisync_t_${randomBytes(6).toString('hex')}`;
const dropSchema = async (schema: string) => {
  await admin!.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
};

if (!unreachable) {
  storageSuite('postgres (synchronous_commit on)', () => {
    const schema = freshSchema();
    return {
      create: () => createPostgresStorage({ connectionString: URL, schema }),
      reopen: () => createPostgresStorage({ connectionString: URL, schema }),
      cleanup: () => dropSchema(schema),
    };
  });
}

describe.skipIf(unreachable !== undefined)('postgres storage', () => {
  it('refuses a schema written by a newer storage, and an unreachable database, with storage_failed', async () => {
    const schema = freshSchema();
    try {
      await (await createPostgresStorage({ connectionString: URL, schema })).close();
      await admin!.query(`UPDATE "${schema}".meta SET value = '99' WHERE key = 'schema'`);
      await expect(createPostgresStorage({ connectionString: URL, schema })).rejects.toMatchObject({
        code: 'storage_failed',
        message: expect.stringMatching(/schema 99/),
      });
      await expect(
        createPostgresStorage({ connectionString: 'postgres://127.0.0.1:1/none', schema }),
      ).rejects.toMatchObject({
        code: 'storage_failed',
        message: expect.stringMatching(/connection string/),
      });
    } finally {
      await dropSchema(schema);
    }
  });

  it('serves a sync server end to end: push, pull, snapshot, restart on the same database', async () => {
    const prefix = `${freshSchema()}_`;
    const storage = createPostgresStorageFactory({ connectionString: URL, schemaPrefix: prefix });
    let server = createServer({ storage, logLevel: 'silent' });
    try {
      let url = (await server.listen(0)).url;
      let api = new HttpClient(url, 'todo');
      const w = new CellWriter('pg_1');
      const res = await api.push('c1', [mutation(w.doc('todos', 'a', { title: 'on postgres', n: 1 }))]);
      expect(res.results).toEqual([{ id: expect.any(String), status: 'applied' }]);
      await api.push('c1', [mutation(w.update('todos', 'a', { n: 2 }))]);
      const pulled = await api.pull(0);
      expect('changes' in pulled && pulled.cursor).toBe(2);
      await server.close();
      server = createServer({ storage, logLevel: 'silent' });
      url = (await server.listen(0)).url;
      api = new HttpClient(url, 'todo');
      const snap = await api.snapshot();
      const doc = Object.fromEntries(snap.cells.filter((c) => c.id === 'a').map((c) => [c.field, c.value]));
      expect(doc).toEqual({ id: 'a', title: 'on postgres', n: 2 });
      expect(snap.cursor).toBe(2);
      // U+0000 in an id: Postgres text cannot hold it; refused as bad input, nothing written.
      const nul = await fetch(`${url}/v1/apps/todo/push`, {
        method: 'POST',
        body: JSON.stringify({ clientId: 'c1', mutations: [mutation(w.doc('todos', 'a\u0000b', { n: 1 }))] }),
      });
      expect(nul.status).toBe(400);
      expect(((await nul.json()) as { error: { code: string; message: string } }).error).toMatchObject({
        code: 'invalid_input',
        message: expect.stringMatching(/cannot store U\+0000/),
      });
      expect((await api.snapshot()).cursor).toBe(2);
    } finally {
      await server.close();
      const { rows } = await admin!.query<{ nspname: string }>(
        'SELECT nspname FROM pg_namespace WHERE nspname LIKE $1',
        [`${prefix}%`],
      );
      for (const r of rows) await dropSchema(r.nspname);
    }
  });

  it('two servers on one database: live clients of each hear every commit of both, in order, without a gap', async () => {
    const prefix = `${freshSchema()}_`;
    // Two engines with their own pools and notification connections: the database is all they share.
    const open = () =>
      createServer({
        storage: createPostgresStorageFactory({
          connectionString: URL,
          schemaPrefix: prefix,
          durability: 'off',
        }),
        logLevel: 'silent',
      });
    const a = open();
    const b = open();
    const clients: LiveClient[] = [];
    try {
      const urls = [(await a.listen(0)).url, (await b.listen(0)).url];
      for (const url of urls) {
        const c = await LiveClient.open(url, 'todo');
        clients.push(c);
        expect((await c.hello({ clientId: `l${clients.length}` })).type).toBe('welcome');
        expect((await c.subscribe('all', { collection: 'todos' })).type).toBe('subscribed');
      }
      const apis = urls.map((url) => new HttpClient(url, 'todo'));
      const w = new CellWriter('pg2_1');
      let last = 0;
      for (let i = 0; i < 12; i++) {
        // Alternating servers, some pushes of the two at once.
        const pushes = [apis[i % 2]!.push(`c${i % 2}`, [mutation(w.doc('todos', `d${i}`, { n: i }))])];
        if (i % 3 === 0)
          pushes.push(apis[(i + 1) % 2]!.push('x', [mutation(w.update('todos', `d${i}`, { n: -i }))]));
        for (const r of await Promise.all(pushes)) last = Math.max(last, r.cursor);
      }
      const del = await apis[0]!.push('c0', [mutation(w.remove('todos', 'd1'))]);
      last = Math.max(last, del.cursor);
      for (const c of clients) {
        await c.next((m) => m.type === 'changes' && m.cursor === last);
        const changes = c.messages.filter((m) => m.type === 'changes');
        const cursors = changes.map((m) => m.cursor as number);
        // In order, each batch past the one before, up to the last commit of either server.
        expect(cursors).toEqual([...cursors].sort((x, y) => x - y));
        expect(new Set(cursors).size).toBe(cursors.length);
        expect(cursors.at(-1)).toBe(last);
        // Nothing missing: the merged cells are the server's state.
        const r = new Replica();
        r.apply(changes.flatMap((m) => m.cells));
        const snap = new Replica();
        snap.apply((await apis[1]!.snapshot()).cells as Cell[]);
        expect([...r.ids('todos')].sort()).toEqual([...snap.ids('todos')].sort());
        for (const id of snap.ids('todos')) expect(r.get('todos', id)).toEqual(snap.get('todos', id));
        expect(r.isDeleted('todos', 'd1')).toBe(true);
      }
    } finally {
      for (const c of clients) c.ws.close();
      await a.close();
      await b.close();
      const { rows } = await admin!.query<{ nspname: string }>(
        'SELECT nspname FROM pg_namespace WHERE nspname LIKE $1',
        [`${prefix}%`],
      );
      for (const r of rows) await dropSchema(r.nspname);
    }
  });

  it('a server that loses its notification connection listens again and sends what it missed', async () => {
    const prefix = `${freshSchema()}_`;
    const open = () =>
      createServer({
        storage: createPostgresStorageFactory({
          connectionString: URL,
          schemaPrefix: prefix,
          durability: 'off',
        }),
        logLevel: 'silent',
      });
    const a = open();
    const b = open();
    let c: LiveClient | undefined;
    try {
      const [aUrl, bUrl] = [(await a.listen(0)).url, (await b.listen(0)).url];
      c = await LiveClient.open(bUrl, 'todo');
      await c.hello({ clientId: 'lr' });
      await c.subscribe('all', { collection: 'todos' });
      const api = new HttpClient(aUrl, 'todo');
      const w = new CellWriter('pg3_1');
      const first = await api.push('c', [mutation(w.doc('todos', 'x1', { n: 1 }))]);
      await c.next((m) => m.type === 'changes' && m.cursor === first.cursor);
      // Cut every LISTEN connection of this database (both servers'), then commit on A at once.
      const cut = await admin!.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN omnisync_commits' AND pid <> pg_backend_pid()`,
      );
      expect(cut.rowCount).toBeGreaterThan(0);
      const missed = await api.push('c', [mutation(w.doc('todos', 'x2', { n: 2 }))]);
      const got = await c.next((m) => m.type === 'changes' && m.cursor === missed.cursor, 15_000);
      expect(got.cells.map((x: Cell) => x.id)).toContain('x2');
    } finally {
      c?.ws.close();
      await a.close();
      await b.close();
      const { rows } = await admin!.query<{ nspname: string }>(
        'SELECT nspname FROM pg_namespace WHERE nspname LIKE $1',
        [`${prefix}%`],
      );
      for (const r of rows) await dropSchema(r.nspname);
    }
  });

  it('omnisync serve --postgres runs the server on it (a real process); bad flags exit 2', async () => {
    const prefix = `${freshSchema()}_`;
    const child = spawn(
      process.execPath,
      [...cli, '--postgres', URL, '--pg-schema-prefix', prefix, '--log-level', 'info', '--durability', 'off'],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    try {
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the server did not start')), 30_000);
        createInterface({ input: child.stdout! }).on('line', (line) => {
          try {
            const rec = JSON.parse(line) as { msg?: string; url?: string };
            if (rec.msg === 'listening' && rec.url) {
              clearTimeout(timer);
              resolve(rec.url);
            }
          } catch {
            // not a log line
          }
        });
        child.once('exit', (code) => reject(new Error(`the server exited (${code})`)));
      });
      const api = new HttpClient(url, 'cliapp');
      const w = new CellWriter('pgcli_1');
      await api.push('c1', [mutation(w.doc('todos', 'x', { v: 1 }))]);
      const { rows } = await admin!.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM "${prefix}cliapp".triples`,
      );
      expect(rows[0]!.n).toBe(2); // id and v, stored in the app's schema
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      await dropSchema(`${prefix}cliapp`);
    }
    const bad = (...flags: string[]) =>
      spawnSync(process.execPath, [...cli, ...flags], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
    const prefixAlone = bad('--pg-schema-prefix', 'x_');
    expect(prefixAlone.status).toBe(2);
    expect(prefixAlone.stderr).toMatch(/needs --postgres/);
    const notPg = bad('--postgres', 'mysql://127.0.0.1/x');
    expect(notPg.status).toBe(2);
    expect(notPg.stderr).toMatch(/postgres:\/\/ connection string/);
  });
});
