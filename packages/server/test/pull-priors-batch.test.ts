/**
 * A filtered pull from a cursor reads the documents' priors (their state at the cursor) in one
 * batch per page on Postgres, not with two queries per document: found by the real-process
 * chaos run (issue 16, seed 3001, Postgres with 2 servers), where pages of a few thousand
 * changes took longer than the client's request timeout on a loaded machine, and the retried
 * page never got through. The batched page must equal the per-document one.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Cell } from '@omnisync/core';
import { createPostgresStorageFactory, createSyncEngine } from '@omnisync/server';
import type { StorageReader } from '../src/storage/storage.js';
import { dropSchemas, freshSchema, PG_URL, pgUnreachable } from './helpers/pg-url.js';

const pgDown = await pgUnreachable('pull priors batch');
const prefix = `${freshSchema('pb')}_`;
afterAll(async () => {
  if (!pgDown) await dropSchemas(prefix);
});

/** The engine on real Postgres, its readers counted (and, with `single`, without the batch method). */
function engineOn(single: boolean) {
  const calls = { one: 0, many: 0 };
  const factory = createPostgresStorageFactory({
    connectionString: PG_URL,
    schemaPrefix: prefix,
    durability: 'off',
  });
  const wrapReader = (r: StorageReader): StorageReader =>
    new Proxy(r, {
      get(target, key, receiver) {
        if (key === 'priorsSinceMany') {
          if (single) return undefined;
          return (...args: Parameters<NonNullable<StorageReader['priorsSinceMany']>>) => {
            calls.many++;
            return target.priorsSinceMany!(...args);
          };
        }
        if (key === 'priorsSince')
          return (...args: Parameters<StorageReader['priorsSince']>) => {
            calls.one++;
            return target.priorsSince(...args);
          };
        const v = Reflect.get(target, key, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  const storage = async (app: string) => {
    const s = await factory(app);
    return new Proxy(s, {
      get(target, key, receiver) {
        if (key === 'read')
          return <T>(fn: (r: StorageReader) => Promise<T>) =>
            target.read((r: StorageReader) => fn(wrapReader(r)));
        const v = Reflect.get(target, key, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  };
  return { engine: createSyncEngine({ storage: storage as never, logLevel: 'silent' }), calls };
}

const auth = { sub: undefined } as never;

describe.skipIf(!!pgDown)('filtered pull on Postgres', () => {
  it('reads the priors of a page in one batch, with the same answer as one query per document', async () => {
    const batched = engineOn(false);
    const hlc = (n: number) => `${(1_700_000_000_000 + n).toString(36).padStart(11, '0')}-000000-w`;
    const cells = (i: number, n: number): Cell[] =>
      [
        { collection: 't', id: `d${i}`, field: 'id', value: `d${i}`, hlc: hlc(n) },
        { collection: 't', id: `d${i}`, field: 'n', value: n % 3, hlc: hlc(n) },
      ] as Cell[];
    let n = 0;
    for (let i = 0; i < 60; i++)
      await batched.engine.push('p', auth, {
        clientId: 'w',
        mutations: [{ id: `a${i}`, changes: cells(i, n++) }],
      });
    const cursor = (await batched.engine.pull('p', auth, { cursor: 0 })) as { cursor: number };
    for (let i = 0; i < 60; i++)
      await batched.engine.push('p', auth, {
        clientId: 'w',
        mutations: [{ id: `b${i}`, changes: cells(i, n++) }],
      });
    const queries = [{ collection: 't', where: { n: 1 } }] as never;
    batched.calls.one = 0;
    batched.calls.many = 0;
    const page = await batched.engine.pull('p', auth, { cursor: cursor.cursor, queries, limit: 500 });
    // Before the fix: 60 per-document reads (each two queries) for this one page.
    expect(batched.calls.one).toBe(0);
    expect(batched.calls.many).toBeGreaterThanOrEqual(1);

    const single = engineOn(true);
    const slow = await single.engine.pull('p', auth, { cursor: cursor.cursor, queries, limit: 500 });
    expect(single.calls.one).toBe(60);
    const key = (c: { id: string; field: string; hlc: string }) => `${c.id}.${c.field}@${c.hlc}`;
    expect('changes' in page && page.changes.map(key).sort()).toEqual(
      'changes' in slow && slow.changes.map(key).sort(),
    );
    expect('changes' in page && page.changes.length).toBeGreaterThan(0);
    await batched.engine.close();
    await single.engine.close();
  });
});
