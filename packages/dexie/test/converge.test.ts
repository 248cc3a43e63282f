/**
 * Two Dexie databases (fake-indexeddb) syncing through a real OmniSync server (SQLite) on
 * loopback: field-by-field convergence, delete wins, remote changes not re-captured, and
 * Dexie's liveQuery firing on a remote change.
 */
// liveQuery runs only where a global indexedDB exists (Dexie reads it at import): install one first.
import 'fake-indexeddb/auto';
import { liveQuery } from 'dexie';
import { describe, expect, it } from 'vitest';
import { createDexieSync } from '@omnisync/dexie';
import { inProcessServer, serverDocuments } from '../../client/test/sync/helpers.js';
import { manualClock, openDevice } from './helpers.js';

const server = inProcessServer('omnisync-dexie-converge-');
let app = 0;

function pair() {
  const appId = `dexie-${app++}`;
  const ca = manualClock();
  const cb = manualClock();
  const a = openDevice(ca);
  const b = openDevice(cb);
  const sa = createDexieSync(a.bridge, { server: server.url, app: appId });
  const sb = createDexieSync(b.bridge, { server: server.url, app: appId });
  return { appId, a, b, sa, sb, ca, cb };
}

const rows = (db: { table(n: string): { toArray(): Promise<unknown[]> } }) => db.table('todos').toArray();

describe('two Dexie databases through a real OmniSync server', () => {
  it('converge field by field: concurrent edits of different fields both survive', async () => {
    const { appId, a, b, sa, sb, ca, cb } = pair();
    await a.db.table('todos').put({ id: 't1', title: 'milk', done: false, meta: { prio: 1 } });
    await sa.sync();
    await sb.sync();
    expect(await b.db.table('todos').get('t1')).toEqual({
      id: 't1',
      title: 'milk',
      done: false,
      meta: { prio: 1 },
    });
    // Offline on both sides: A renames, B ticks it off and changes a nested field.
    ca.t += 10;
    await a.db.table('todos').update('t1', { title: 'oat milk' });
    cb.t += 20;
    await b.db.table('todos').update('t1', { done: true, 'meta.prio': 2 });
    await sa.sync();
    await sb.sync();
    await sa.sync();
    const want = { id: 't1', title: 'oat milk', done: true, meta: { prio: 2 } };
    expect(await a.db.table('todos').get('t1')).toEqual(want);
    expect(await b.db.table('todos').get('t1')).toEqual(want);
    expect(await serverDocuments(server.url, appId, 'todos')).toEqual([want]);
    // Applying remote changes captured nothing.
    expect(await a.bridge.outbox()).toEqual([]);
    expect(await b.bridge.outbox()).toEqual([]);
  });

  it('the same field edited on both sides: the later HLC wins everywhere', async () => {
    const { a, b, sa, sb, ca, cb } = pair();
    await a.db.table('todos').put({ id: 'x', title: 'first' });
    await sa.sync();
    await sb.sync();
    cb.t += 50;
    await b.db.table('todos').put({ id: 'x', title: 'later (B)' });
    ca.t += 10;
    await a.db.table('todos').put({ id: 'x', title: 'earlier (A)' });
    await sb.sync();
    await sa.sync(); // A pushes its older write, then pulls B's newer one
    await sb.sync();
    expect(await a.db.table('todos').get('x')).toEqual({ id: 'x', title: 'later (B)' });
    expect(await b.db.table('todos').get('x')).toEqual({ id: 'x', title: 'later (B)' });
  });

  it('delete wins over a concurrent later edit, and the document stays deleted', async () => {
    const { appId, a, b, sa, sb, ca, cb } = pair();
    await a.db.table('todos').bulkPut([
      { id: 'keep', title: 'keep' },
      { id: 'gone', title: 'gone' },
    ]);
    await sa.sync();
    await sb.sync();
    ca.t += 10;
    await a.db.table('todos').delete('gone');
    cb.t += 100; // B's edit is later than A's delete, and still loses
    await b.db.table('todos').update('gone', { title: 'edited after the delete' });
    await sb.sync();
    await sa.sync();
    await sb.sync();
    expect(await rows(a.db)).toEqual([{ id: 'keep', title: 'keep' }]);
    expect(await rows(b.db)).toEqual([{ id: 'keep', title: 'keep' }]);
    expect(await serverDocuments(server.url, appId, 'todos')).toEqual([{ id: 'keep', title: 'keep' }]);
    // A write to a deleted document is refused with a typed error, nothing written.
    await expect(b.db.table('todos').put({ id: 'gone', title: 'again' })).rejects.toMatchObject({
      code: 'conflict',
    });
    expect(await b.db.table('todos').get('gone')).toBeUndefined();
    expect(await b.bridge.outbox()).toEqual([]);
  });

  it("Dexie's liveQuery fires when a remote change is applied", async () => {
    const { a, b, sa, sb } = pair();
    const seen: unknown[] = [];
    const sub = liveQuery(() => b.db.table('todos').toArray()).subscribe({
      next: (v) => seen.push(v),
      error: (e) => seen.push(e),
    });
    try {
      await expect.poll(() => seen.length).toBe(1);
      expect(seen[0]).toEqual([]);
      await a.db.table('todos').put({ id: 'live', title: 'from A' });
      await sa.sync();
      await sb.pull();
      await expect.poll(() => seen.at(-1)).toEqual([{ id: 'live', title: 'from A' }]);
    } finally {
      sub.unsubscribe();
    }
  });

  it('the started loop pushes a local write by itself and pulls the other side', async () => {
    const { appId, a, b } = pair();
    const fast = { pullIntervalMs: 20 };
    const la = createDexieSync(a.bridge, { server: server.url, app: appId, ...fast });
    const lb = createDexieSync(b.bridge, { server: server.url, app: appId, ...fast });
    la.start();
    lb.start();
    try {
      await a.db.table('todos').put({ id: 'auto', title: 'no sync() call' });
      await expect
        .poll(() => b.db.table('todos').get('auto'), { timeout: 10_000 })
        .toEqual({
          id: 'auto',
          title: 'no sync() call',
        });
      await expect.poll(() => a.bridge.outbox()).toEqual([]);
    } finally {
      la.stop();
      lb.stop();
    }
  });
});
