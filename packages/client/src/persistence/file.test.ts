import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createFilePersistence } from './file.js';
import { persistenceSuite } from './suite.js';

// The randomized cases replay from OMNISYNC_SEED (their failure messages print the seed).
const seed = Number(process.env.OMNISYNC_SEED ?? 1);

const dir = mkdtempSync(join(tmpdir(), 'omnisync-file-suite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cleanup = (location: string) => rmSync(join(dir, location), { recursive: true, force: true });

// Real files, fsync on: the same suite as memory and IndexedDB.
persistenceSuite(
  'file persistence',
  (location) => createFilePersistence({ path: join(dir, location, 'store.omnisync') }),
  { describe, it, seed, cleanup },
);

// The same suite again with compaction after (almost) every commit, so snapshots and the
// journal after them are exercised by every case.
persistenceSuite(
  'file persistence, compacting as often as it may',
  (location) =>
    createFilePersistence({ path: join(dir, `${location}-c`, 'store.omnisync'), compactAfterBytes: 1 }),
  { describe, it, cleanup: (location) => cleanup(`${location}-c`), randomBatches: 300, seed: seed + 6 },
);

describe('file persistence options', () => {
  it('refuses a missing path or a bad compaction threshold with ValidationError', () => {
    expect(() => createFilePersistence({ path: '' })).toThrow(
      expect.objectContaining({ code: 'invalid_input' }),
    );
    expect(() => createFilePersistence({ path: join(dir, 'x'), compactAfterBytes: 0 })).toThrow(
      expect.objectContaining({ code: 'invalid_input' }),
    );
  });

  it('names itself after its absolute path', () => {
    const p = createFilePersistence({ path: join(dir, 'named', 'a.db') });
    expect(p.name).toBe(`file:${join(dir, 'named', 'a.db')}`);
    expect(p.path).toBe(join(dir, 'named', 'a.db'));
  });
});
