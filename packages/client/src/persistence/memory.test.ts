import { describe, expect, it } from 'vitest';
import {
  createMemoryPersistence,
  createMemoryPersistenceStore,
  type MemoryPersistenceStore,
} from './memory.js';
import { persistenceSuite } from './suite.js';
import { cell } from './suite-support.js';

// The randomized cases replay from OMNISYNC_SEED (their failure messages print the seed).
const seed = Number(process.env.OMNISYNC_SEED ?? 1);

const stores = new Map<string, MemoryPersistenceStore>();
persistenceSuite(
  'memory persistence',
  (location) => {
    let store = stores.get(location);
    if (!store) stores.set(location, (store = createMemoryPersistenceStore()));
    return createMemoryPersistence({ name: `memory:${location}`, store });
  },
  { describe, it, seed, cleanup: (location) => void stores.delete(location) },
);

describe('memory persistence without a shared store', () => {
  it('starts empty each time: it is ephemeral', async () => {
    const a = createMemoryPersistence();
    await a.commit({ cells: [cell('todos', 'a', 'title', 'x')] });
    expect((await a.load()).cells).toHaveLength(1);
    await a.close();
    expect(await createMemoryPersistence().load()).toEqual({ cells: [], transactions: [], meta: {} });
    expect(a.name).toBe('memory');
  });
});
