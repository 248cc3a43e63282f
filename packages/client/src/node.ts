/**
 * @omnisync/client/node — Node-only parts of the client (they import node:fs): file
 * persistence. Everything browser-safe is in the main entry `@omnisync/client`.
 */
export { createFilePersistence } from './persistence/file.js';
export type { FilePersistence, FilePersistenceOptions } from './persistence/file.js';
export { FILE_MAGIC, FILE_VERSION } from './persistence/file-format.js';
