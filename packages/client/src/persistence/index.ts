/**
 * Persistence: where a client keeps its synced cells, outbox and metadata between runs.
 * Browser-safe exports (no node:* import); file persistence is in `@omnisync/client/node`,
 * the shared conformance suite in ./testing.ts (for `@omnisync/client/testing`).
 */
export type { PersistedState, PersistedTransaction, Persistence, PersistenceBatch } from './types.js';
export { createMemoryPersistence, createMemoryPersistenceStore } from './memory.js';
export type { MemoryPersistenceOptions, MemoryPersistenceStore } from './memory.js';
export { createIndexedDbPersistence, INDEXEDDB_VERSION } from './indexeddb.js';
export type { IndexedDbPersistenceOptions } from './indexeddb.js';
