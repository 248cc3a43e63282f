/**
 * @omnisync/react — React bindings over @omnisync/client: a provider and hooks, no logic of
 * their own. Every hook reads a client object with a stable snapshot through
 * `useSyncExternalStore`; nothing here touches `window` at import (SSR-safe).
 */
export { OmniSyncProvider } from './provider.js';
export type { OmniSyncProviderProps } from './provider.js';
export { useClient } from './context.js';
export type { OmniSyncContextValue } from './context.js';
export { useOmni } from './use-omni.js';
export type { Register, RegisteredState } from './use-omni.js';
export { useLiveQuery } from './use-live-query.js';
export type { QueryArg } from './use-live-query.js';
export { useCollection } from './use-collection.js';
export type { UseCollectionResult } from './use-collection.js';
export { useTransactions } from './use-transactions.js';
export { useSignal } from './use-signal.js';
export { usePresence, useRoom, useRoomEvents } from './use-room.js';
export type { PresenceState } from './use-room.js';
export { OmniErrorBoundary } from './error-boundary.js';
export type { OmniErrorBoundaryProps } from './error-boundary.js';
