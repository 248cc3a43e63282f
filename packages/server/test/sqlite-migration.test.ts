/**
 * Storage schema migration: a data file written by the schema 1 code path (fixture made by
 * fixtures/make-storage-v1.ts with the server of that time) opens on this server, is
 * migrated in place once, and answers every pull the old server answered on it exactly as
 * it did: every cursor from the horizon to head, with and without query filters (which
 * rebuild each document's state at the cursor from the migrated priors).
 */
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PullRequest } from '@omnisync/core';
import { createSqliteStorage, createSyncEngine, type SyncStorage } from '@omnisync/server';
import { tempDir } from './helpers/servers.js';

const fixtures = new URL('./fixtures/', import.meta.url).pathname;
const expected = JSON.parse(readFileSync(join(fixtures, 'storage-v1.expected.json'), 'utf8')) as {
  head: number;
  horizon: number;
  mutations: number;
  pulls: { request: PullRequest; response: unknown }[];
  snapshot: unknown;
};
const auth = { app: 'v1', userId: undefined, claims: undefined, expiresAt: undefined };
const hlc = (n: number) => `${n.toString(36).padStart(11, '0')}-000000-fixture`;

const inspect = (file: string) => {
  const db = new Database(file, { readonly: true });
  try {
    return {
      schema: db.prepare<[], { value: string }>("SELECT value FROM meta WHERE key = 'schema'").get()?.value,
      changeColumns: db
        .prepare<[], { name: string }>("SELECT name FROM pragma_table_info('changes')")
        .all()
        .map((c) => c.name),
      priors: db
        .prepare<[], { n: number }>("SELECT count(*) AS n FROM sqlite_master WHERE name = 'priors'")
        .get()!.n,
    };
  } finally {
    db.close();
  }
};

describe('sqlite storage schema 1 → 2', () => {
  let dir: ReturnType<typeof tempDir>;
  let file: string;
  let storage: SyncStorage | undefined;
  beforeEach(() => {
    dir = tempDir('omnisync-migrate-');
    file = join(dir.dir, 'v1.sqlite');
    copyFileSync(join(fixtures, 'storage-v1.sqlite'), file);
  });
  afterEach(async () => {
    await storage?.close();
    storage = undefined;
    dir.remove();
  });
  const open = () => {
    storage = createSqliteStorage({ file });
    return createSyncEngine({
      storage: () => storage!,
      logLevel: 'silent',
      maxClockDriftMs: Number.MAX_SAFE_INTEGER,
    });
  };

  it('migrates on open and answers every recorded pull and the snapshot as the old server did', async () => {
    expect(inspect(file)).toMatchObject({ schema: '1', priors: 0 });
    const engine = open();
    expect(inspect(file)).toEqual({ schema: '2', changeColumns: ['version', 'collection', 'id'], priors: 1 });
    expect(await engine.head('v1')).toBe(expected.head);
    expect(await storage!.read((r) => r.horizon())).toBe(expected.horizon);
    expect(expected.pulls.length).toBeGreaterThan(40);
    for (const { request, response } of expected.pulls)
      expect({ request, response: await engine.pull('v1', auth, request) }).toEqual({ request, response });
    expect(await engine.snapshot('v1', auth, {})).toEqual(expected.snapshot);
  });

  it('keeps idempotency records and device cursors, and takes new writes', async () => {
    const engine = open();
    // A retry of a mutation the old server applied applies nothing.
    const retry = await engine.push('v1', auth, {
      clientId: 'fixture',
      mutations: [
        { id: 'm1', changes: [{ collection: 'todos', id: 't1', field: 'title', value: 'x', hlc: hlc(999) }] },
      ],
    });
    expect(retry).toEqual({ results: [{ id: 'm1', status: 'applied' }], cursor: expected.head });
    expect((await storage!.deviceCursors()).map((d) => [d.deviceId, d.cursor])).toEqual([['device-1', 9]]);
    // t3 moves out of "ownerId = u1"; a filtered pull from head reports the move.
    const res = await engine.push('v1', auth, {
      clientId: 'after',
      mutations: [
        {
          id: 'a1',
          changes: [{ collection: 'todos', id: 't3', field: 'ownerId', value: 'u2', hlc: hlc(1000) }],
        },
      ],
    });
    expect(res.cursor).toBe(expected.head + 1);
    const pull = await engine.pull('v1', auth, {
      cursor: expected.head,
      queries: [{ collection: 'todos', where: { ownerId: 'u1' } }],
    });
    expect(pull).toMatchObject({ cursor: expected.head + 1, hasMore: false });
    expect('changes' in pull && pull.changes).toEqual([
      { collection: 'todos', id: 't3', field: 'ownerId', value: 'u2', hlc: hlc(1000) },
    ]);
  });

  it('opens a migrated file again without migrating it twice', async () => {
    open();
    await storage!.close();
    const engine = open();
    expect(inspect(file).schema).toBe('2');
    const last = expected.pulls.at(-1)!;
    expect(await engine.pull('v1', auth, last.request)).toEqual(last.response);
  });

  it('leaves the file untouched when the migration fails, with an error that says what to do', async () => {
    const db = new Database(file);
    db.prepare('UPDATE changes SET prior = \'[["title"\' WHERE version = 9').run();
    db.close();
    expect(() => createSqliteStorage({ file })).toThrow(
      expect.objectContaining({
        code: 'storage_failed',
        message: expect.stringMatching(
          /Could not migrate .* from storage schema 1 to 2 .*the file is unchanged/,
        ),
      }),
    );
    expect(inspect(file)).toMatchObject({ schema: '1', priors: 0 });
    expect(inspect(file).changeColumns).toContain('prior');
  });

  it('refuses a file that is not an OmniSync storage', () => {
    const other = join(dir.dir, 'other.sqlite');
    const db = new Database(other);
    db.exec('CREATE TABLE t (x)');
    db.close();
    expect(() => createSqliteStorage({ file: other })).toThrow(/not an OmniSync storage/);
  });
});
