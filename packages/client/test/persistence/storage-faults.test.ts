/**
 * Local storage faults (issue 16 part 5): a disk that fills up mid-write (ENOSPC injected
 * through the file store's `fs` option, on a real file), a browser quota exceeded mid-commit
 * (a QuotaExceededError DOMException injected into fake-indexeddb), a corrupt store, and a
 * persistence adapter that throws. Each time the app gets a typed error with a stable code
 * (persistence_quota, persistence_corrupt, persistence_failed), nothing is silently wiped and
 * the outbox stored before the fault is still there after reopening.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as nodeFs from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeHlc, PersistenceCorruptError, PersistenceError, PersistenceQuotaError } from '@omnisync/core';
import { IDBFactory, IDBKeyRange, IDBTransaction } from 'fake-indexeddb';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClient } from '../../src/client.js';
import { createFilePersistence, type FileStoreFs } from '../../src/persistence/file.js';
import { HEADER_SIZE } from '../../src/persistence/file-format.js';
import { createIndexedDbPersistence } from '../../src/persistence/indexeddb.js';
import type { Persistence } from '../../src/persistence/types.js';
import { createTestScheduler } from '../../src/testing/test-scheduler.js';

type Row = { id: string; n: number };
const cell = (id: string, n: number) => ({
  collection: 'rows',
  id,
  field: 'n',
  value: n,
  hlc: encodeHlc({ wall: 1_700_000_000_000 + n, counter: 0, node: 'w' }),
});
const tx = (id: string) => ({ id, state: 'pending' });

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'omnisync-faults-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Real `node:fs/promises`, except that while `full` a data-file write stores half its bytes, then fails with ENOSPC. */
function fillingDisk() {
  const state = { full: false, writes: 0 };
  const open = (async (...args: Parameters<typeof nodeFs.open>) => {
    const fh = await nodeFs.open(...args);
    const write = fh.write.bind(fh) as (...a: unknown[]) => Promise<{ bytesWritten: number }>;
    (fh as { write: unknown }).write = async (
      buf: Buffer,
      offset: number,
      length: number,
      position: number,
    ) => {
      if (!state.full) {
        const r = await write(buf, offset, length, position);
        state.writes++;
        return r;
      }
      await write(buf, offset, Math.floor(length / 2), position);
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), {
        code: 'ENOSPC',
        errno: -28,
      });
    };
    return fh;
  }) as typeof nodeFs.open;
  const fs: FileStoreFs = { ...nodeFs, open };
  return { fs, state };
}

/** A client whose backend never answers, so every write stays in the outbox. */
async function openClient(persistence: Persistence) {
  const errors: Error[] = [];
  const client = createClient({
    scheduler: createTestScheduler(),
    persistence,
    onError: (e) => errors.push(e),
  });
  const rows = client.collection<Row>({
    id: 'rows',
    mutationFn: { persist: () => new Promise<void>(() => {}) },
  });
  return { client, rows, errors };
}

describe('file store: disk full (ENOSPC injected through the fs option, real file)', () => {
  it('a commit cut off by ENOSPC is persistence_quota; reopening keeps every earlier commit; writes resume once space is back', async () => {
    const path = join(tmp(), 'store.omni');
    const disk = fillingDisk();
    const p = createFilePersistence({ path, fs: disk.fs, fsync: false });
    await p.commit({ cells: [cell('a', 1)], putTransactions: [tx('t1')], meta: { cursor: 1 } });
    disk.state.full = true;
    const err = await p
      .commit({ cells: [cell('b', 2)], putTransactions: [tx('t2')] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PersistenceQuotaError);
    expect((err as PersistenceQuotaError).code).toBe('persistence_quota');
    expect((err as Error).message).toMatch(/disk is full.*free disk space/);
    // The half-written record is on disk now (a torn tail), then dropped on the next read.
    disk.state.full = false;
    expect((await p.load()).transactions.map((t) => t.id)).toEqual(['t1']);
    await p.commit({ putTransactions: [tx('t3')] });
    await p.close();

    const again = createFilePersistence({ path, fsync: false });
    const state = await again.load();
    expect(state.transactions.map((t) => t.id)).toEqual(['t1', 't3']);
    expect(state.cells.map((c) => c.id)).toEqual(['a']);
    expect(state.meta.cursor).toBe(1);
    await again.close();
  });

  it('the app gets persistence_quota through onError, and the outbox written before the fault is there after reopening', async () => {
    const path = join(tmp(), 'app.omni');
    const disk = fillingDisk();
    const a = await openClient(createFilePersistence({ path, fs: disk.fs, fsync: false }));
    await a.client.ready;
    const before = disk.state.writes;
    const t1 = a.rows.insert({ id: 'a', n: 1 });
    await vi.waitFor(() => expect(disk.state.writes).toBeGreaterThan(before));
    disk.state.full = true;
    a.rows.insert({ id: 'b', n: 2 });
    await vi.waitFor(() => expect(a.errors.length).toBeGreaterThan(0));
    expect(a.errors[0]).toBeInstanceOf(PersistenceQuotaError);
    expect((a.errors[0] as PersistenceQuotaError).code).toBe('persistence_quota');
    // Nothing was taken away from the running app: both writes are still visible.
    expect(a.rows.get('b')).toEqual({ id: 'b', n: 2 });
    disk.state.full = false;
    await a.client.close();

    const b = await openClient(createFilePersistence({ path, fsync: false }));
    await b.client.ready;
    expect(b.client.transactions.get().map((t) => t.id)).toContain(t1.id);
    expect(b.rows.get('a')).toEqual({ id: 'a', n: 1 });
    expect(b.errors).toEqual([]);
    await b.client.close();
  });

  it('a corrupt file is persistence_corrupt for the app, and the file is left byte for byte as it was', async () => {
    const path = join(tmp(), 'corrupt.omni');
    const a = await openClient(createFilePersistence({ path, fsync: false }));
    await a.client.ready;
    a.rows.insert({ id: 'a', n: 1 });
    a.rows.insert({ id: 'b', n: 2 });
    await a.client.close();
    const bytes = readFileSync(path);
    // inside the first record (a damaged last record would be a torn write, dropped by design)
    bytes[HEADER_SIZE + 12]! ^= 0xff;
    writeFileSync(path, bytes);

    const b = await openClient(createFilePersistence({ path, fsync: false }));
    const err = await b.client.ready.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PersistenceCorruptError);
    expect((err as PersistenceCorruptError).code).toBe('persistence_corrupt');
    expect(b.rows.status.get()).toBe('error');
    b.rows.insert({ id: 'c', n: 3 }); // accepted in memory, never written over the unreadable file
    await b.client.close();
    expect(readFileSync(path).equals(bytes)).toBe(true);
  });
});

describe('IndexedDB store: quota exceeded (QuotaExceededError DOMException injected into fake-indexeddb)', () => {
  const idb = new IDBFactory();
  const open = (name: string) => createIndexedDbPersistence({ name, indexedDB: idb, IDBKeyRange });

  it('a commit that meets the quota is persistence_quota and stores nothing of itself; reopening keeps the outbox', async () => {
    const p = open('quota');
    await p.commit({ cells: [cell('a', 1)], putTransactions: [tx('t1')] });
    // As a browser does: the request's operation fails with QuotaExceededError, which aborts
    // the transaction with that error (the first write of the commit is rolled back with it).
    type Exec = (this: unknown, req: { operation: () => unknown }) => unknown;
    const proto = IDBTransaction.prototype as unknown as { _execRequestAsync: Exec };
    const exec = proto._execRequestAsync;
    let ops = 0;
    proto._execRequestAsync = function (req) {
      if (++ops !== 2) return exec.call(this, req);
      return exec.call(this, {
        ...req,
        operation: () => {
          throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
        },
      });
    };
    let err: unknown;
    try {
      err = await p.commit({ cells: [cell('b', 2)], putTransactions: [tx('t2')] }).catch((e: unknown) => e);
    } finally {
      proto._execRequestAsync = exec;
    }
    expect(ops).toBeGreaterThanOrEqual(2);
    expect(err).toBeInstanceOf(PersistenceQuotaError);
    expect((err as PersistenceQuotaError).code).toBe('persistence_quota');
    expect((err as Error).message).toMatch(/quota is full.*navigator\.storage\.persist/);
    await p.close();

    const again = open('quota');
    const state = await again.load();
    expect(state.transactions.map((t) => t.id)).toEqual(['t1']);
    expect(state.cells.map((c) => c.id)).toEqual(['a']);
    await again.commit({ putTransactions: [tx('t3')] }); // space is back: writes go on
    expect((await again.load()).transactions.map((t) => t.id)).toEqual(['t1', 't3']);
    await again.close();
  });

  it('a record that is not a cell is persistence_corrupt for the app, and the database is not emptied', async () => {
    const p = open('corrupt');
    await p.commit({ cells: [cell('a', 1)], putTransactions: [tx('t1')] });
    await p.close();
    await new Promise<void>((resolve, reject) => {
      const req = idb.open('omnisync:corrupt');
      req.onerror = () => reject(req.error);
      req.onsuccess = () => {
        const d = req.result;
        const t = d.transaction('cells', 'readwrite');
        t.objectStore('cells').put({ collection: 'rows', id: 'x', field: 'n', nonsense: true });
        t.oncomplete = () => (d.close(), resolve());
        t.onerror = () => reject(t.error);
      };
    });
    const b = await openClient(open('corrupt'));
    const err = await b.client.ready.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PersistenceCorruptError);
    expect((err as PersistenceCorruptError).code).toBe('persistence_corrupt');
    await b.client.close();
    // still all there: the way out is an explicit clear(), never an automatic one
    const raw = open('corrupt');
    await expect(raw.load()).rejects.toBeInstanceOf(PersistenceCorruptError);
    await raw.close();
    const count = await new Promise<number>((resolve, reject) => {
      const req = idb.open('omnisync:corrupt');
      req.onerror = () => reject(req.error);
      req.onsuccess = () => {
        const d = req.result;
        const r = d.transaction('cells').objectStore('cells').count();
        r.onsuccess = () => (d.close(), resolve(r.result));
      };
    });
    expect(count).toBe(2);
  });
});

describe('a persistence adapter that throws (an in-test adapter: no real peer is broken on purpose)', () => {
  it('load throwing a plain error: ready rejects with it, the app sees it, nothing is cleared or committed', async () => {
    const calls: string[] = [];
    const p: Persistence = {
      name: 'throwing',
      load: async () => {
        throw new TypeError('backend exploded');
      },
      commit: async () => void calls.push('commit'),
      clear: async () => void calls.push('clear'),
      close: async () => {},
    };
    const a = await openClient(p);
    const err = await a.client.ready.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(a.errors.length).toBeGreaterThan(0);
    expect(a.rows.status.get()).toBe('error');
    a.rows.insert({ id: 'x', n: 1 });
    await a.client.close();
    expect(calls).toEqual([]);
  });

  it('commit throwing a plain error (sync or async) reaches the app as persistence_failed with the cause', async () => {
    for (const mode of ['sync', 'async'] as const) {
      const boom = new Error('adapter write failed');
      const p: Persistence = {
        name: `throwing-${mode}`,
        load: async () => ({ cells: [], transactions: [], meta: {} }),
        commit: ((): Promise<void> => {
          if (mode === 'sync') throw boom;
          return Promise.reject(boom);
        }) as Persistence['commit'],
        clear: async () => {},
        close: async () => {},
      };
      const a = await openClient(p);
      await a.client.ready.catch(() => undefined);
      a.errors.length = 0;
      a.rows.insert({ id: 'x', n: 1 });
      await vi.waitFor(() => expect(a.errors.length).toBeGreaterThan(0));
      const e = a.errors[0] as PersistenceError;
      expect(e).toBeInstanceOf(PersistenceError);
      expect(e.code).toBe('persistence_failed');
      expect(e.cause).toBe(boom);
      expect(a.rows.get('x')).toEqual({ id: 'x', n: 1 }); // not wiped from the running app
      await a.client.close().catch(() => undefined);
    }
  });
});
