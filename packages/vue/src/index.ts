/**
 * @omnisync/vue — Vue 3 bindings over @omnisync/client: provide/inject and composables
 * returning refs, no logic of their own. Each composable copies a client object's stable
 * snapshot (a live query's value, a signal) into a shallow ref and stops with its scope.
 */
export { createOmniSync, provideOmniSync, useClient } from './context.js';
export type { OmniSyncContextValue, OmniSyncOptions } from './context.js';
export { useOmni } from './use-omni.js';
export type { Register, RegisteredState } from './use-omni.js';
export { useLiveQuery } from './use-live-query.js';
export type { LiveQueryRefs, QueryArg } from './use-live-query.js';
export { useCollection } from './use-collection.js';
export type { UseCollectionResult } from './use-collection.js';
export { useTransactions } from './use-transactions.js';
export { useSignal } from './use-signal.js';
export { usePresence, useRoom, useRoomEvents } from './use-room.js';
export type { PresenceRefs } from './use-room.js';
