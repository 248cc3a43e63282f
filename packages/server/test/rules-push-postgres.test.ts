/**
 * Permission rules on push with Postgres storage (issue 13): the same rules as
 * rules-push.test.ts, a real server on loopback storing in the local Postgres. Insert,
 * update (old and new), delete and a mutator's writes, allowed and refused; a refused
 * mutation leaves nothing in the database. Skipped, with the reason printed, without Postgres.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresStorageFactory, createServer } from '@omnisync/server';
import { mutators, rules } from './fixtures/rules-write.js';
import { dropSchemas, freshSchema, PG_URL, pgUnreachable } from './helpers/postgres.js';
import { signToken } from './helpers/jwt.js';
import { CellWriter, HttpClient, mutation } from './helpers/protocol-client.js';

const unreachable = await pgUnreachable('rules on push with Postgres');
const SECRET = 'rules-pg-test-secret-0123456789abcdef';
const APP = 'rwpg';
const prefix = `${freshSchema('rules')}_`;

describe.skipIf(unreachable !== undefined)('rules on push, Postgres storage', () => {
  let server: ReturnType<typeof createServer>;
  let alice: HttpClient;
  let bob: HttpClient;
  let admin: HttpClient;
  const w = new CellWriter('rules_pg');
  beforeAll(async () => {
    server = createServer({
      storage: createPostgresStorageFactory({
        connectionString: PG_URL,
        schemaPrefix: prefix,
        durability: 'off',
      }),
      logLevel: 'silent',
      auth: { secret: SECRET },
      rules,
      mutators,
    });
    const { url } = await server.listen(0);
    const token = (claims: Record<string, unknown>) => signToken(SECRET, { app: APP, ...claims });
    alice = new HttpClient(url, APP, await token({ sub: 'alice' }));
    bob = new HttpClient(url, APP, await token({ sub: 'bob' }));
    admin = new HttpClient(url, APP, await token({ sub: 'root', roles: ['admin'] }));
  });
  afterAll(async () => {
    await server?.close();
    await dropSchemas(prefix);
  });
  const statuses = (res: { results: any[] }) =>
    res.results.map((r) => (r.status === 'applied' ? 'applied' : `rejected:${r.error.code}`));
  const ids = async () =>
    new Set(
      (await admin.snapshot()).cells
        .filter((c) => c.field === 'title')
        .map((c) => `${c.id}=${String(c.value)}`),
    );

  it('applies allowed writes and nothing of refused ones', async () => {
    const first = await alice.push('pg_a', [
      mutation(w.doc('todos', 'p1', { owner: 'alice', title: 'one' })),
      mutation(w.doc('todos', 'p2', { owner: 'bob', title: 'planted' })),
      mutation([
        ...w.doc('todos', 'p3', { owner: 'alice', title: 'half' }),
        ...w.doc('todos', 'p4', { owner: 'bob', title: 'other half' }),
      ]),
    ]);
    expect(statuses(first)).toEqual(['applied', 'rejected:permission_denied', 'rejected:permission_denied']);
    const second = await bob.push('pg_b', [
      mutation(w.update('todos', 'p1', { title: 'bob was here' })),
      mutation(w.remove('todos', 'p1')),
      { ...mutation([]), name: 'retitle', args: { id: 'p1', title: 'via mutator' } },
    ]);
    expect(statuses(second)).toEqual([
      'rejected:permission_denied',
      'rejected:permission_denied',
      'rejected:permission_denied',
    ]);
    const third = await alice.push('pg_a', [
      mutation(w.update('todos', 'p1', { owner: 'bob' })),
      { ...mutation([]), name: 'retitle', args: { id: 'p1', title: 'two' } },
    ]);
    expect(statuses(third)).toEqual(['rejected:permission_denied', 'applied']);
    expect(third.results[0].error.message).toContain('on the new document');
    expect(await ids()).toEqual(new Set(['p1=two']));
    const del = await alice.push('pg_a', [mutation(w.remove('todos', 'p1'))]);
    expect(statuses(del)).toEqual(['applied']);
    expect(await ids()).toEqual(new Set());
  });
});
