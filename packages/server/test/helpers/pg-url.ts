/**
 * Where the local Postgres is and whether it answers: no dependency on @omnisync/server, so
 * benchmarks (run by tsx from source) can use it too.
 */
import { randomBytes } from 'node:crypto';
import { userInfo } from 'node:os';
import pg from 'pg';

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
