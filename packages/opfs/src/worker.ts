/**
 * The OPFS worker: SQLite-wasm on the `opfs-sahpool` VFS. Start it as a module worker:
 *
 *     new Worker(new URL('@omnisync/opfs/worker', import.meta.url), { type: 'module' })
 *
 * `opfs-sahpool` keeps a pool of OPFS sync access handles open; unlike the `opfs` VFS it
 * needs no SharedArrayBuffer, so no COOP/COEP headers (cross-origin isolation). Its limit:
 * one connection per pool at a time, so a second tab's worker is refused while the first
 * holds the store (reported as `persistence_unavailable`).
 */
import sqlite3InitModule from '@sqlite.org/sqlite-wasm';
import { serveOpfsStore } from './serve.js';
import type { SqliteDb } from './sqlite-store.js';

const unavailable = (message: string, err?: unknown) =>
  Object.assign(new Error(`${message}${err ? `: ${(err as Error)?.message ?? String(err)}` : ''}`), {
    code: 'persistence_unavailable',
  });

serveOpfsStore(self as unknown as Parameters<typeof serveOpfsStore>[0], async (name) => {
  if (typeof navigator === 'undefined' || !navigator.storage?.getDirectory)
    throw unavailable('this browser has no Origin Private File System (navigator.storage.getDirectory)');
  let sqlite3: Awaited<ReturnType<typeof sqlite3InitModule>>;
  try {
    sqlite3 = await sqlite3InitModule();
  } catch (err) {
    throw unavailable('SQLite-wasm failed to load', err);
  }
  try {
    const pool = await sqlite3.installOpfsSAHPoolVfs({ name: `omnisync-${name}` });
    const db = new pool.OpfsSAHPoolDb(`/${name}.sqlite3`) as unknown as SqliteDb;
    // Give the access handles back on close, so another worker (a reopen, another tab) can open the store.
    return { db, release: () => void pool.pauseVfs() };
  } catch (err) {
    throw unavailable('the OPFS store could not be opened (held by another tab, or OPFS refused)', err);
  }
});
