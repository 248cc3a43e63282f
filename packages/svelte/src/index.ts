/**
 * @omnisync/svelte — Svelte 5 bindings over @omnisync/client: context and stores, no logic
 * of their own. Every store follows the store contract (`$store` in components, runes mode
 * included) and has a `.current` getter for `$derived` / `$effect`; each holds one
 * subscription to a client object while something subscribes.
 */
export { getClient, setOmniSync } from './context.js';
export type { OmniSyncContextValue, OmniSyncOptions } from './context.js';
export type { OmniReadable } from './readable.js';
export { queryStore } from './query-store.js';
export type { LiveQueryState, QueryArg } from './query-store.js';
export { collectionStore } from './collection-store.js';
export type { CollectionStore } from './collection-store.js';
export { signalStore, transactionsStore } from './signal-store.js';
export { omniStore } from './omni-store.js';
export type { Register, RegisteredState } from './omni-store.js';
export { joinRoom, onRoomEvent, presenceStore } from './room.js';
export type { PresenceState } from './room.js';
