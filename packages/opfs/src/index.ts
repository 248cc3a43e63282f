/**
 * @omnisync/opfs: OmniSync persistence on SQLite-wasm in the Origin Private File System,
 * in a dedicated worker (the worker entry is `@omnisync/opfs/worker`).
 */
export { createOpfsPersistence } from './opfs.js';
export type { OpfsPersistenceOptions, WorkerLike } from './opfs.js';
export { serveOpfsStore } from './serve.js';
export type { OpenDb, PortLike } from './serve.js';
export type { SqliteDb } from './sqlite-store.js';
