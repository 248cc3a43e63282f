/**
 * Closing the Postgres storage with reads in flight (sim seed 64 on Postgres: a server restart
 * hung). `close()` waited for the write lock only, then ended the pool: a read still waiting
 * for a pooled connection never settled, and whoever awaited it (the restart) hung. Now close
 * lets every read that started finish, then ends the pool; reads after it fail with
 * `storage_failed`. Skips, saying why, only when no Postgres answers.
 */
import { describe, expect, it } from 'vitest';
import { createPostgresStorage } from '@omnisync/server';
import { dropSchemas, freshSchema, PG_URL, pgUnreachable } from './helpers/pg-url.js';

const unreachable = await pgUnreachable('postgres-close tests');

/** Settles with 'hung' when `p` has not settled after `ms` (a hang, not a timing measurement). */
const orHang = <T>(p: Promise<T>, ms = 10_000) =>
  Promise.race([
    p.then(
      (v) => ({ v }),
      (e: unknown) => ({ e }),
    ),
    new Promise<'hung'>((r) => setTimeout(() => r('hung'), ms)),
  ]);

describe.skipIf(unreachable !== undefined)('postgres storage close', () => {
  it('waits for the reads in flight (those queued for a connection too), then refuses new ones', async () => {
    const schema = freshSchema('close');
    try {
      const storage = await createPostgresStorage({ connectionString: PG_URL, schema, maxConnections: 1 });
      // One connection: the first read holds it, the others queue for it.
      const reads = Array.from({ length: 5 }, (_, i) =>
        storage.read(async (r) => {
          await new Promise((res) => setTimeout(res, 20));
          return { i, head: await r.head() };
        }),
      );
      const closed = storage.close();
      const settled = await orHang(Promise.allSettled(reads));
      expect(settled).not.toBe('hung');
      expect(await orHang(closed)).not.toBe('hung');
      const results = (settled as { v: PromiseSettledResult<{ i: number; head: number }>[] }).v;
      expect(results.map((r) => r.status)).toEqual(Array(5).fill('fulfilled'));
      await expect(storage.read((r) => r.head())).rejects.toMatchObject({ code: 'storage_failed' });
    } finally {
      await dropSchemas(schema);
    }
  });
});
