/**
 * The shared storage suite on the real Postgres of this machine (127.0.0.1:5432, database
 * `test`; OMNISYNC_PG_URL overrides), each case in a schema of its own, dropped afterwards;
 * plus Postgres-only checks and a server running on it end to end. Skips, saying why, only
 * when no Postgres answers (CI starts it, so there it never skips).
 */
import { spawnSync } from 'node:child_process';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { type Cell, Replica } from '@omnisync/core';
import { createPostgresStorage, createPostgresStorageFactory, createServer } from '@omnisync/server';
import { dropSchemas, freshSchema, PG_URL as URL, pgUnreachable, serversOn } from './helpers/postgres.js';
import { CellWriter, HttpClient, LiveClient, mutation } from './helpers/protocol-client.js';
import { ROOT, SERVE, startServe } from './helpers/serve-process.js';
import { storageSuite } from './storage-suite.js';

const unreachable = await pgUnreachable('postgres-storage tests');
const admin = unreachable ? undefined : new pg.Pool({ connectionString: URL, max: 2 });
afterAll(async () => {
  await admin?.end();
});

if (!unreachable) {
  storageSuite('postgres (synchronous_commit on)', () => {
    const schema = freshSchema();
    return {
      create: () => createPostgresStorage({ connectionString: URL, schema }),
      reopen: () => createPostgresStorage({ connectionString: URL, schema }),
      cleanup: () => dropSchemas(schema),
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
      await dropSchemas(schema);
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
        message: expect.stringMatching(/holds U\+0000/),
      });
      expect((await api.snapshot()).cursor).toBe(2);
    } finally {
      await server.close();
      await dropSchemas(prefix);
    }
  });

  it('two servers on one database: live clients of each hear every commit of both, in order, without a gap', async () => {
    const two = await serversOn(`${freshSchema()}_`, 2);
    const clients: LiveClient[] = [];
    try {
      for (const url of two.urls) {
        const c = await LiveClient.open(url, 'todo');
        clients.push(c);
        expect((await c.hello({ clientId: `l${clients.length}` })).type).toBe('welcome');
        expect((await c.subscribe('all', { collection: 'todos' })).type).toBe('subscribed');
      }
      const apis = two.urls.map((url) => new HttpClient(url, 'todo'));
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
      await two.close();
    }
  });

  /**
   * Two servers; a live client of B subscribed to every todo; A's first push seen by it. The
   * test then cuts every LISTEN connection of the database (`cut`) and goes on.
   */
  async function heardAcross(tag: string, test: (t: Awaited<ReturnType<typeof setUp>>) => Promise<void>) {
    const t = await setUp(tag);
    try {
      await test(t);
    } finally {
      t.c.ws.close();
      await t.two.close();
    }
  }
  async function setUp(tag: string) {
    const two = await serversOn(`${freshSchema()}_`, 2);
    const [aUrl, bUrl] = two.urls as [string, string];
    const c = await LiveClient.open(bUrl, 'todo');
    await c.hello({ clientId: tag });
    await c.subscribe('all', { collection: 'todos' });
    const api = new HttpClient(aUrl, 'todo');
    const w = new CellWriter(`${tag}_1`);
    const first = await api.push('c', [mutation(w.doc('todos', `${tag}1`, { n: 1 }))]);
    await c.next((m) => m.type === 'changes' && m.cursor === first.cursor);
    const cut = () =>
      admin!.query(
        `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = 'LISTEN omnisync_commits' AND pid <> pg_backend_pid()`,
      );
    return { two, bUrl, c, api, w, first, cut };
  }

  it('a server that loses its notification connection listens again and sends what it missed', () =>
    heardAcross('x', async ({ c, api, w, cut }) => {
      // Cut every LISTEN connection of this database (both servers'), then commit on A at once.
      expect((await cut()).rowCount).toBeGreaterThan(0);
      const missed = await api.push('c', [mutation(w.doc('todos', 'x2', { n: 2 }))]);
      const got = await c.next((m) => m.type === 'changes' && m.cursor === missed.cursor, 15_000);
      expect(got.cells.map((x: Cell) => x.id)).toContain('x2');
    }));

  it('a server whose missed commits were compacted before it read them drops its live clients, to resume by cursor', () =>
    heardAcross('y', async ({ two, bUrl, c, api, w, first, cut }) => {
      // B stops hearing commits; while it listens again, A commits and compacts them away.
      await cut();
      let head = 0;
      for (let i = 2; i <= 4; i++)
        head = (await api.push('c', [mutation(w.doc('todos', `y${i}`, { n: i }))])).cursor;
      const gc = await two.servers[0]!.engine.gc('todo', { olderThanVersion: head + 1 });
      expect(gc.horizon).toBe(head);
      // B cannot read what it missed: its live client is told to reconnect and resume by cursor.
      const closed = await c.closed;
      expect(closed.code).toBe(1001);
      expect(closed.reason).toMatch(/compacted/);
      expect(c.messages.some((m) => m.type === 'changes' && m.cells.some((x: Cell) => x.id === 'y2'))).toBe(
        false,
      );
      // Resuming from its cursor, it is told to reset (and would snapshot).
      const again = await LiveClient.open(bUrl, 'todo');
      try {
        await again.hello({ clientId: 'y', cursor: first.cursor });
        again.send({
          type: 'subscribe',
          queryId: 'all',
          query: { collection: 'todos' },
          cursor: first.cursor,
        });
        expect((await again.next((m) => m.type === 'reset')).cursor).toBe(head);
      } finally {
        again.ws.close();
      }
    }));

  it('the apps of one server share one pool and one notification connection', async () => {
    const prefix = `${freshSchema()}_`;
    const applicationName = `omnisync_${prefix.slice(-13, -1)}`;
    const server = createServer({
      storage: createPostgresStorageFactory({ connectionString: URL, schemaPrefix: prefix, applicationName }),
      logLevel: 'silent',
    });
    try {
      const url = (await server.listen(0)).url;
      const w = new CellWriter('pgshare_1');
      for (let i = 0; i < 8; i++)
        await new HttpClient(url, `app${i}`).push('c', [mutation(w.doc('todos', `a${i}`, { n: i }))]);
      const count = async () =>
        (
          await admin!.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1',
            [applicationName],
          )
        ).rows[0]!.n;
      // 8 apps, each watched by the server's fan-out: at most the pool's 10 plus one LISTEN
      // connection (one pool and one listener per app would be 16 or more).
      const n = await count();
      expect(n).toBeGreaterThanOrEqual(2);
      expect(n).toBeLessThanOrEqual(11);
      expect(n).toBeLessThan(16);
    } finally {
      await server.close();
      await dropSchemas(prefix);
    }
  });

  it('omnisync serve --postgres runs the server on it (a real process); bad flags exit 2', async () => {
    const prefix = `${freshSchema()}_`;
    const server = await startServe([
      '--port',
      '0',
      '--postgres',
      URL,
      '--pg-schema-prefix',
      prefix,
      '--log-level',
      'info',
      '--durability',
      'off',
    ]);
    try {
      const api = new HttpClient(server.url, 'cliapp');
      const w = new CellWriter('pgcli_1');
      await api.push('c1', [mutation(w.doc('todos', 'x', { v: 1 }))]);
      const { rows } = await admin!.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM "${prefix}cliapp".triples`,
      );
      expect(rows[0]!.n).toBe(2); // id and v, stored in the app's schema
    } finally {
      await server.stop();
      await dropSchemas(prefix);
    }
    const bad = (...flags: string[]) =>
      spawnSync(process.execPath, [...SERVE, '--port', '0', ...flags], {
        cwd: ROOT,
        encoding: 'utf8',
        timeout: 30_000,
      });
    const prefixAlone = bad('--pg-schema-prefix', 'x_');
    expect(prefixAlone.status).toBe(2);
    expect(prefixAlone.stderr).toMatch(/needs --postgres/);
    const notPg = bad('--postgres', 'mysql://127.0.0.1/x');
    expect(notPg.status).toBe(2);
    expect(notPg.stderr).toMatch(/postgres:\/\/ connection string/);
  });
});
