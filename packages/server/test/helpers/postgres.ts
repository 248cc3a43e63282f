/** The Postgres of this machine, for the tests of both packages. */
import { createPostgresStorageFactory, createServer } from '@omnisync/server';

export { dropSchemas, freshSchema, PG_URL, pgUnreachable } from './pg-url.js';
import { dropSchemas, PG_URL } from './pg-url.js';

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
