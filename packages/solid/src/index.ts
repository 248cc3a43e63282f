/**
 * @omnisync/solid — Solid bindings over @omnisync/client: a provider and primitives returning
 * accessors, no logic of their own. Live queries suspend through a resource under
 * `<Suspense>` and throw their errors to `<ErrorBoundary>`; everything else copies a client
 * object's stable snapshot into a signal and stops on cleanup.
 */
export { OmniSyncProvider, useClient } from './context.js';
export type { OmniSyncContextValue, OmniSyncProviderProps } from './context.js';
export { useLiveQuery } from './use-live-query.js';
export type { LiveQueryAccessor, QueryArg } from './use-live-query.js';
export { useCollection } from './use-collection.js';
export type { UseCollectionResult } from './use-collection.js';
export { useOmni } from './use-omni.js';
export type { Register, RegisteredState } from './use-omni.js';
export { useSignal, useTransactions } from './use-signal.js';
export { usePresence, useRoom, useRoomEvents } from './use-room.js';
export type { PresenceAccessors } from './use-room.js';
