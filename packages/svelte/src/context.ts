/**
 * The client in Svelte: `setOmniSync(client)` in a root component's `<script>` puts it (and
 * the app's state) in context; the stores below find it with `getContext` when created
 * during a component's initialisation, or take a client explicitly anywhere else.
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
import { getContext, hasContext, setContext } from 'svelte';

/** What the stores find in context. */
export interface OmniSyncContextValue {
  readonly client: Client;
  /** The state proxy (from `state`), when one was given. */
  readonly state: object | undefined;
}

/** Options of {@link setOmniSync}. */
export interface OmniSyncOptions {
  /** The app's state: a `defineState(...)` definition or a `createState(...)` proxy (for `omniStore`). */
  readonly state?: StateDefinition<any> | object;
  /** A server-rendered snapshot (`dehydrate(serverClient)`), applied once before anything renders. */
  readonly snapshot?: DehydratedState;
}

const KEY = Symbol.for('omnisync.svelte');

/**
 * Put `client` in context for this component's descendants (call during initialisation).
 * @example
 * <script>
 *   import { setOmniSync } from '@omnisync/svelte';
 *   setOmniSync(client, { state: appState });
 * </script>
 */
export function setOmniSync(client: Client, options: OmniSyncOptions = {}): OmniSyncContextValue {
  if (options.snapshot !== undefined) hydrate(client, options.snapshot);
  const { state } = options;
  const s =
    state === undefined
      ? undefined
      : isStateNode(state)
        ? state
        : createState(client, state as StateDefinition<any>);
  return setContext(KEY, { client, state: s });
}

/** @internal The context, or a clear error outside a provider. */
export function getOmniContext(what: string): OmniSyncContextValue {
  let found: boolean;
  try {
    found = hasContext(KEY);
  } catch {
    found = false; // outside a component's initialisation there is no context to read
  }
  if (!found)
    throw new ValidationError(
      `${what} needs a client: create it during a component's initialisation below setOmniSync(client), or pass the client.`,
    );
  return getContext<OmniSyncContextValue>(KEY);
}

/** The client set by the nearest {@link setOmniSync} (call during initialisation). */
export function getClient(): Client {
  return getOmniContext('getClient()').client;
}
