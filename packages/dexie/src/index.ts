/**
 * @omnisync/dexie — the seed 004 HookBridge for Dexie 4: a DBCore middleware that captures
 * every write of the synced tables into an outbox in the same IndexedDB transaction, and a
 * sync loop that pushes it to an OmniSync server and merges remote changes back by
 * field-level HLC (delete wins) without capturing them again.
 */
export { createDexieBridge } from './bridge.js';
export type { DexieBridge, DexieBridgeOptions } from './bridge.js';
export { createCaptureMiddleware, MIDDLEWARE_NAME } from './middleware.js';
export type { CaptureState } from './capture-state.js';
export { captureWrite, captureDelete, documentId } from './capture.js';
export type { CapturedWrite } from './capture.js';
export { mergeRemote, revertRejected } from './merge.js';
export type { MergeResult } from './merge.js';
export { omnisyncStores, OUTBOX_STORE, META_STORE, STATE_STORE, BRIDGE_STORES } from './stores.js';
export type { OutboxEntry, OutboxCell, MetaRecord, ClockState, CursorState } from './stores.js';
export { createDexieSync } from './sync.js';
export type { DexieSync, DexieSyncOptions, DexieSyncStatus } from './sync.js';
