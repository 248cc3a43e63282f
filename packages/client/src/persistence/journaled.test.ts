import { describe, expect, it } from 'vitest';
import { type JournalBackend, createJournaledPersistence } from './journaled.js';
import { persistenceSuite } from './suite.js';
import { cell } from './suite-support.js';

const seed = Number(process.env.OMNISYNC_SEED ?? 1);

/** An in-memory backend (a fake: the real ones are OPFS SQLite, tested in @omnisync/opfs). */
interface Stored {
  snapshot: Uint8Array | undefined;
  journal: string[];
}
const memoryBackend = (s: Stored): JournalBackend => ({
  read: async () => ({ snapshot: s.snapshot?.slice(), journal: [...s.journal] }),
  append: async (bodies) => void s.journal.push(...bodies),
  replace: async (snapshot) => {
    s.snapshot = snapshot.slice();
    s.journal = [];
  },
  clear: async () => {
    s.snapshot = undefined;
    s.journal = [];
  },
  close: async () => {},
});

const stores = new Map<string, Stored>();
persistenceSuite(
  'journaled persistence over a memory backend (fake backend)',
  (location) => {
    let s = stores.get(location);
    if (!s) stores.set(location, (s = { snapshot: undefined, journal: [] }));
    // A tiny threshold, so the suite's cases run across many compactions.
    return createJournaledPersistence(memoryBackend(s), { name: `j:${location}`, compactAfterBytes: 512 });
  },
  { describe, it, seed, cleanup: (location) => void stores.delete(location) },
);

describe('journaled persistence', () => {
  it('compacts into a snapshot and loads the same state from it', async () => {
    const s: Stored = { snapshot: undefined, journal: [] };
    const p = createJournaledPersistence(memoryBackend(s), { name: 'j' });
    await p.commit({ cells: [cell('todos', 'a', 'title', 'x'), cell('todos', 'b', 'title', 'y')] });
    const before = await p.load();
    expect(s.journal).toHaveLength(1);
    await p.compact();
    expect(s.journal).toHaveLength(0);
    expect(s.snapshot!.byteLength).toBeGreaterThan(0);
    expect((await p.load()).cells).toEqual(before.cells);
  });

  it('refuses an unreadable snapshot as corrupt instead of loading it empty', async () => {
    const s: Stored = { snapshot: new TextEncoder().encode('{"h":[1]}'), journal: [] };
    const p = createJournaledPersistence(memoryBackend(s), { name: 'j' });
    await expect(p.load()).rejects.toMatchObject({ code: 'persistence_corrupt' });
  });
});
