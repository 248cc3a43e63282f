/**
 * The worker protocol in Node: `createOpfsPersistence` talking over a real MessageChannel to
 * `serveOpfsStore` on sqlite-wasm's in-memory database (no OPFS in Node: the VFS is the fake
 * here; the Chromium test runs the same code on OPFS). Runs the shared persistence suite.
 */
import { MessageChannel } from 'node:worker_threads';
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';
import { describe, expect, it } from 'vitest';
import { persistenceSuite } from '../../client/src/persistence/suite.js';
import { createOpfsPersistence, type WorkerLike } from '../src/opfs.js';
import { serveOpfsStore, type PortLike } from '../src/serve.js';
import type { SqliteDb } from '../src/sqlite-store.js';

const sqlite3 = await sqlite3InitModule();
/** One in-memory database per location, kept across reopens (what a restart would find in OPFS). */
const dbs = new Map<string, SqliteDb>();

const channelWorker = (): WorkerLike => {
  const { port1, port2 } = new MessageChannel();
  serveOpfsStore(port2 as unknown as PortLike, async (name) => {
    let db = dbs.get(name);
    if (!db) dbs.set(name, (db = new sqlite3.oo1.DB(':memory:') as unknown as SqliteDb));
    // closing would drop an in-memory database: keep it open, as the file in OPFS would stay
    return { db: { ...db, exec: db.exec.bind(db), transaction: db.transaction.bind(db), close: () => {} } };
  });
  port2.start();
  port1.start();
  return {
    postMessage: (m, transfer) => port1.postMessage(m, transfer as never),
    addEventListener: (type, listener) => port1.addEventListener(type, listener as never),
    terminate: () => {
      port1.close();
      port2.close();
    },
  };
};

persistenceSuite(
  'OPFS persistence protocol over a MessageChannel (in-memory SQLite in place of OPFS)',
  (location) =>
    createOpfsPersistence({
      name: location.replace(/[^\w.-]/g, '_'),
      worker: channelWorker,
      compactAfterBytes: 2048,
    }),
  {
    describe,
    it,
    randomBatches: 100,
    cleanup: (location) => void dbs.delete(location.replace(/[^\w.-]/g, '_')),
  },
);

describe('OPFS persistence errors', () => {
  it('a worker that never answers is persistence_unavailable, naming the fallback', async () => {
    const silent: WorkerLike = { postMessage: () => {}, addEventListener: () => {} };
    const p = createOpfsPersistence({ name: 'silent', worker: silent, startTimeoutMs: 50 });
    await expect(p.load()).rejects.toMatchObject({
      code: 'persistence_unavailable',
      message: expect.stringContaining('createIndexedDbPersistence'),
    });
  });

  it('a worker that cannot be created is persistence_unavailable', async () => {
    const p = createOpfsPersistence({
      name: 'throws',
      worker: () => {
        throw new Error('Worker is not defined');
      },
    });
    await expect(p.commit({ meta: { a: 1 } })).rejects.toMatchObject({ code: 'persistence_unavailable' });
  });

  it('refuses a name that cannot name a file', () => {
    expect(() => createOpfsPersistence({ name: '../x', worker: channelWorker })).toThrow(
      expect.objectContaining({ code: 'invalid_input' }),
    );
  });
});
