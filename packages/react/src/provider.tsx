/**
 * `OmniSyncProvider`: puts a client (and optionally the app's state) in context, and
 * hydrates the client from a server-rendered snapshot before anything below renders.
 */
import {
  type Client,
  createState,
  type DehydratedState,
  hydrate,
  isStateNode,
  type StateDefinition,
} from '@omnisync/client';
import { type ReactNode, useMemo, useState } from 'react';
import { OmniSyncContext, type OmniSyncContextValue } from './context.js';

/** Props of {@link OmniSyncProvider}. */
export interface OmniSyncProviderProps {
  readonly client: Client;
  /** The app's state: a `defineState(...)` definition or a `createState(...)` proxy (for `useOmni()`). */
  readonly state?: StateDefinition<any> | object;
  /** A server-rendered snapshot (`dehydrate(serverClient)`), applied once before the first render. */
  readonly snapshot?: DehydratedState;
  readonly children?: ReactNode;
}

/**
 * Provide a client to the hooks.
 * @example
 * <OmniSyncProvider client={client} state={appState} snapshot={window.__OMNISYNC__}>
 *   <App />
 * </OmniSyncProvider>
 */
export function OmniSyncProvider({ client, state, snapshot, children }: OmniSyncProviderProps) {
  // Hydration happens during the first render (not in an effect) so the very first render
  // already reads the server's data, on the server and in the browser alike.
  useState(() => {
    if (snapshot !== undefined) hydrate(client, snapshot);
    return true;
  });
  const value = useMemo<OmniSyncContextValue>(() => {
    let s: object | undefined;
    if (state !== undefined)
      s = isStateNode(state) ? state : createState(client, state as StateDefinition<any>);
    return { client, state: s };
  }, [client, state]);
  return <OmniSyncContext.Provider value={value}>{children}</OmniSyncContext.Provider>;
}
