/**
 * `@omnisync/convex`: OmniSync on Convex (seed 004). The client side is
 * {@link ConvexSyncProvider}, used with `createSyncProviderSource` from `@omnisync/client`;
 * the server side (Convex functions and tables) is `@omnisync/convex/server`.
 */
export { ConvexSyncProvider } from './convex-sync-provider.js';
export type {
  ConvexClientLike,
  ConvexSyncFunctions,
  ConvexSyncProviderOptions,
} from './convex-sync-provider.js';
