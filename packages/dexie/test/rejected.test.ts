/**
 * A mutation the server rejects (its `authorize` hook refuses the write: `forbidden`) is
 * rolled back in Dexie to the server's state, removed from the outbox and reported with the
 * server's typed error; the other mutations of the same push apply.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OmniSyncError } from '@omnisync/core';
import { createDexieSync, type OutboxEntry } from '@omnisync/dexie';
import { createServer } from '@omnisync/server';
import { serverDocuments } from '../../client/test/sync/helpers.js';
import { openDevice } from './helpers.js';

const server = { dir: '', url: '', close: async () => {} };
/** Writes to documents whose id starts with this are refused. */
let lockedPrefix = '\u0000none';
beforeAll(async () => {
  server.dir = mkdtempSync(join(tmpdir(), 'omnisync-dexie-rejected-'));
  const s = createServer({
    dataDir: join(server.dir, 'server'),
    durability: 'off',
    logLevel: 'silent',
    authorize: (_ctx, req) => !(req.op === 'write' && req.id.startsWith(lockedPrefix)),
  });
  server.url = (await s.listen(0)).url;
  server.close = () => s.close();
});
afterAll(async () => {
  await server.close();
  rmSync(server.dir, { recursive: true, force: true });
});

describe('a mutation the server rejects', () => {
  it('is rolled back to the server state, dropped from the outbox, and reported with its code', async () => {
    const { db, bridge } = openDevice();
    const rejected: [OutboxEntry, OmniSyncError][] = [];
    const sync = createDexieSync(bridge, {
      server: server.url,
      app: 'rejected',
      onRejected: (e, err) => rejected.push([e, err]),
    });
    await db.table('todos').bulkPut([
      { id: 'locked-1', title: 'server version', done: false },
      { id: 'locked-2', title: 'will be deleted locally' },
    ]);
    await sync.sync();
    lockedPrefix = 'locked-';
    await db.table('todos').update('locked-1', { title: 'refused edit', extra: 1 });
    await db.table('todos').delete('locked-2');
    await db.table('todos').put({ id: 'free', title: 'allowed' });
    await sync.sync();
    expect(rejected.map(([, e]) => e.code)).toEqual(['forbidden', 'forbidden']);
    expect(await bridge.outbox()).toEqual([]);
    // Local rows are back to what the server holds; the allowed write went through.
    expect(await db.table('todos').orderBy('id').toArray()).toEqual([
      { id: 'free', title: 'allowed' },
      { id: 'locked-1', title: 'server version', done: false },
      { id: 'locked-2', title: 'will be deleted locally' },
    ]);
    expect(await serverDocuments(server.url, 'rejected', 'todos')).toEqual(
      await db.table('todos').orderBy('id').toArray(),
    );
    // The reverted document is writable again (the rejected delete was lifted).
    lockedPrefix = '\u0000none';
    await db.table('todos').update('locked-2', { title: 'edited after the rollback' });
    await sync.sync();
    expect(await serverDocuments(server.url, 'rejected', 'todos')).toContainEqual({
      id: 'locked-2',
      title: 'edited after the rollback',
    });
  });
});
