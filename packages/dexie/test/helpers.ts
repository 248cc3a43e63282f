/** Shared pieces of the Dexie bridge tests: a Dexie database on its own fake-indexeddb, with the bridge. */
import { type Clock } from '@omnisync/core';
import { createDexieBridge, type DexieBridge, omnisyncStores } from '@omnisync/dexie';
import { Dexie } from 'dexie';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';

let n = 0;

/** A settable wall clock for the HLC, so which write is later is decided by the test. */
export function manualClock(start = 1_700_000_000_000): Clock & { t: number } {
  const c = { t: start, now: () => c.t };
  return c;
}

/** A device: its own IndexedDB (fake-indexeddb factory), a Dexie db with `todos` synced, the bridge. */
export function openDevice(clock?: Clock, factory = new IDBFactory(), name = `device-${n++}`) {
  const db = new Dexie(name, { indexedDB: factory, IDBKeyRange });
  db.version(1).stores({ todos: 'id, done', ...omnisyncStores });
  const bridge: DexieBridge = createDexieBridge(db, { tables: ['todos'], ...(clock ? { clock } : {}) });
  return { db, bridge, factory, name };
}
