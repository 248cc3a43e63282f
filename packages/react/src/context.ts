/**
 * The React context: the client (and the app's state, if it has one) for the hooks below
 * the provider.
 */
import type { Client } from '@omnisync/client';
import { createContext, useContext } from 'react';
import { ValidationError } from '@omnisync/core';

/** What {@link OmniSyncProvider} puts in context. */
export interface OmniSyncContextValue {
  readonly client: Client;
  /** The state proxy (from `state`), when the provider was given one. */
  readonly state: object | undefined;
}

/** @internal */
export const OmniSyncContext = createContext<OmniSyncContextValue | null>(null);

/** @internal The context, or a clear error when a hook is used outside the provider. */
export function useOmniContext(hook: string): OmniSyncContextValue {
  const ctx = useContext(OmniSyncContext);
  if (ctx === null)
    throw new ValidationError(
      `${hook} must be used inside <OmniSyncProvider client={client}>: wrap your app (or test) in it.`,
    );
  return ctx;
}

/** The client of the nearest {@link OmniSyncProvider}. */
export function useClient(): Client {
  return useOmniContext('useClient()').client;
}
