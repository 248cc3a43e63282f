/** The Postgres of this machine, for the tests of both packages. */
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import pg from 'pg';
import { createPostgresStorageFactory, createServer } from '@omnisync/server';

/** 127.0.0.1:5432, database `test`, trust auth as this process's OS user (as psql would); OMNISYNC_PG_URL overrides. */
export const PG_URL =
  process.env.OMNISYNC_PG_URL ?? `postgres://${encodeURIComponent(userInfo().username)}@127.0.0.1:5432/test`;

/** Why no Postgres answers at {@link PG_URL}, or undefined when one does (printed as the reason of a skip). */
export async function pgUnreachable(what: string): Promise<string | undefined> {
  const c = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return undefined;
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    console.warn(`${what} skipped: no Postgres at ${PG_URL} (${why})`);
    return why;
  } finally {
    await c.end().catch(() => {});
  }
}

/** A schema name (or prefix) nobody else uses. */
export const freshSchema = (tag = 't'): string => `omnisync_${tag}_${randomBytes(6).toString('hex')}`;

/** Drop every schema whose name starts with `prefix` (the schemas a test made). */
export async function dropSchemas(prefix: string): Promise<void> {
  const c = new pg.Client({ connectionString: PG_URL });
  await c.connect();
  try {
    const { rows } = await c.query<{ nspname: string }>(
      'SELECT nspname FROM pg_namespace WHERE nspname LIKE $1',
      [`${prefix.replace(/[\\%_]/g, '\\$&')}%`],
    );
    for (const r of rows) await c.query(`DROP SCHEMA "${r.nspname.replace(/"/g, '""')}" CASCADE`);
  } finally {
    await c.end();
  }
}

/**
 * `n` sync servers on one database, each listening on a loopback port (their own pools and
 * notification connections: the database is all they share). `close` stops them and drops
 * their schemas.
 */
export async function serversOn(
  prefix: string,
  n: number,
): Promise<{ urls: string[]; servers: ReturnType<typeof createServer>[]; close(): Promise<void> }> {
  const servers = Array.from({ length: n }, () =>
    createServer({
      storage: createPostgresStorageFactory({
        connectionString: PG_URL,
        schemaPrefix: prefix,
        durability: 'off',
      }),
      logLevel: 'silent',
    }),
  );
  const urls = await Promise.all(servers.map(async (s) => (await s.listen(0)).url));
  return {
    urls,
    servers,
    async close() {
      for (const s of servers) await s.close();
      await dropSchemas(prefix);
    },
  };
}
