/**
 * The client in Solid: `<OmniSyncProvider client={client}>` puts it (and the app's state) in
 * context for the primitives below.
 */
import {
  type Client,
  createState,
  type DehydratedState,
  hydrate,
  isStateNode,
  type StateDefinition,
} from '@omnisync/client';
import { ValidationError } from '@omnisync/core';
import { createComponent, createContext, type JSX, useContext } from 'solid-js';

/** What the primitives find in context. */
export interface OmniSyncContextValue {
  readonly client: Client;
  /** The state proxy (from `state`), when one was given. */
  readonly state: object | undefined;
}

/** Props of {@link OmniSyncProvider}. */
export interface OmniSyncProviderProps {
  readonly client: Client;
  /** The app's state: a `defineState(...)` definition or a `createState(...)` proxy (for `useOmni`). */
  readonly state?: StateDefinition<any> | object;
  /** A server-rendered snapshot (`dehydrate(serverClient)`), applied once before the children render. */
  readonly snapshot?: DehydratedState;
  readonly children?: JSX.Element;
}

const OmniSyncContext = createContext<OmniSyncContextValue>();

/**
 * Provide a client to the primitives (its props are read once: a provider is for one client).
 * @example
 * <OmniSyncProvider client={client} state={appState}><App /></OmniSyncProvider>
 */
export function OmniSyncProvider(props: OmniSyncProviderProps): JSX.Element {
  const { client, state, snapshot } = props;
  if (snapshot !== undefined) hydrate(client, snapshot);
  const value: OmniSyncContextValue = {
    client,
    state:
      state === undefined
        ? undefined
        : isStateNode(state)
          ? state
          : createState(client, state as StateDefinition<any>),
  };
  return createComponent(OmniSyncContext.Provider, {
    value,
    get children() {
      return props.children;
    },
  });
}

/** @internal The context, or a clear error outside the provider. */
export function useOmniContext(primitive: string): OmniSyncContextValue {
  const ctx = useContext(OmniSyncContext);
  if (ctx === undefined)
    throw new ValidationError(
      `${primitive} must be used inside <OmniSyncProvider client={client}>: wrap your app (or test) in it.`,
    );
  return ctx;
}

/** The client of the nearest {@link OmniSyncProvider}. */
export function useClient(): Client {
  return useOmniContext('useClient()').client;
}
