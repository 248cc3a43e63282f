/**
 * Browser test harness (a second page of the build, not part of the app): exposes the
 * client persistence suite on `window`, so a browser test can run it against the page's
 * real IndexedDB.
 */
import { createIndexedDbPersistence } from '@omnisync/client';
import { runPersistenceCases } from '@omnisync/client/testing';

const deleteDb = (name: string) =>
  new Promise<void>((resolve, reject) => {
    const req = indexedDB.deleteDatabase(name);
    req.onsuccess = () => resolve();
    req.onerror = () => reject(req.error);
    req.onblocked = () => resolve();
  });

(window as unknown as { runPersistenceSuite: unknown }).runPersistenceSuite = (
  seed = 1,
  randomBatches = 200,
) =>
  runPersistenceCases((location) => createIndexedDbPersistence({ name: location }), {
    seed,
    randomBatches,
    cleanup: (location) => deleteDb(`omnisync:${location}`),
  });
document.getElementById('ready')!.dataset.ready = 'true';
