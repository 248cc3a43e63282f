/**
 * In-memory persistence: for tests and ephemeral clients. It keeps the full contract —
 * validation, batch semantics, copies in and out, closing — so code tested against it
 * behaves the same on IndexedDB and files.
 */
import { normalizeBatch } from './batch.js';
import { Lifecycle } from './lifecycle.js';
import { StateModel } from './state.js';
import type { PersistedState, Persistence, PersistenceBatch } from './types.js';

/**
 * Storage that outlives one {@link createMemoryPersistence} instance, so a test can close a
 * persistence and open another on the same data, as a restarted client would.
 */
export interface MemoryPersistenceStore {
  /** Brand: only {@link createMemoryPersistenceStore} makes these. */
  readonly kind: 'omnisync.memory-persistence-store';
}

interface StoreInternals extends MemoryPersistenceStore {
  model: StateModel;
}

/** A fresh, empty {@link MemoryPersistenceStore}. */
export function createMemoryPersistenceStore(): MemoryPersistenceStore {
  const store: StoreInternals = { kind: 'omnisync.memory-persistence-store', model: new StateModel() };
  return store;
}

/** Options for {@link createMemoryPersistence}. */
export interface MemoryPersistenceOptions {
  /** Label used in errors; defaults to "memory". */
  name?: string;
  /** Data to open (shared with earlier instances); defaults to a new empty store. */
  store?: MemoryPersistenceStore;
}

/**
 * A persistence that holds everything in memory. Commits apply synchronously in call order;
 * `load` returns deep copies, and committed values are copied, so neither side can mutate
 * the other's objects.
 */
export function createMemoryPersistence(options: MemoryPersistenceOptions = {}): Persistence {
  const store = (options.store ?? createMemoryPersistenceStore()) as StoreInternals;
  const name = options.name ?? 'memory';
  const life = new Lifecycle(name);
  return {
    name,
    async load(): Promise<PersistedState> {
      life.guard('load');
      return store.model.toState(true);
    },
    async commit(batch: PersistenceBatch): Promise<void> {
      life.guard('commit');
      const normalized = normalizeBatch(batch);
      if (normalized) store.model.apply(normalized);
    },
    async clear(): Promise<void> {
      life.guard('clear');
      store.model = new StateModel();
    },
    close: () => life.close(async () => {}),
  };
}
