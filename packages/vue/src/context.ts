/**
 * The client in Vue: `provideOmniSync(client)` in a root component's `setup` (or the
 * `createOmniSync` plugin for `app.use`) puts it, and the app's state, where the composables
 * below find it with `inject`.
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
import { type App, inject, type InjectionKey, provide } from 'vue';

/** What the composables find in context. */
export interface OmniSyncContextValue {
  readonly client: Client;
  /** The state proxy (from `state`), when one was given. */
  readonly state: object | undefined;
}

/** Options of {@link provideOmniSync} and {@link createOmniSync}. */
export interface OmniSyncOptions {
  /** The app's state: a `defineState(...)` definition or a `createState(...)` proxy (for `useOmni()`). */
  readonly state?: StateDefinition<any> | object;
  /** A server-rendered snapshot (`dehydrate(serverClient)`), applied once before anything renders. */
  readonly snapshot?: DehydratedState;
}

/** @internal The injection key. */
export const OMNISYNC_KEY: InjectionKey<OmniSyncContextValue> = Symbol('omnisync');

function contextOf(client: Client, options: OmniSyncOptions): OmniSyncContextValue {
  if (options.snapshot !== undefined) hydrate(client, options.snapshot);
  const { state } = options;
  const s =
    state === undefined
      ? undefined
      : isStateNode(state)
        ? state
        : createState(client, state as StateDefinition<any>);
  return { client, state: s };
}

/**
 * Provide `client` to the composables of this component's descendants (call in `setup`).
 * @example
 * setup() { provideOmniSync(client, { state: appState }); return () => h(TodoList); }
 */
export function provideOmniSync(client: Client, options: OmniSyncOptions = {}): void {
  provide(OMNISYNC_KEY, contextOf(client, options));
}

/**
 * The same as a plugin, for the whole app.
 * @example
 * createApp(App).use(createOmniSync(client, { state: appState })).mount('#app');
 */
export function createOmniSync(client: Client, options: OmniSyncOptions = {}): { install(app: App): void } {
  return { install: (app) => void app.provide(OMNISYNC_KEY, contextOf(client, options)) };
}

/** @internal The context, or a clear error outside a provider. */
export function useOmniContext(composable: string): OmniSyncContextValue {
  const ctx = inject(OMNISYNC_KEY, null);
  if (ctx === null)
    throw new ValidationError(
      `${composable} must be called in setup() below provideOmniSync(client) or app.use(createOmniSync(client)).`,
    );
  return ctx;
}

/** The provided client. */
export function useClient(): Client {
  return useOmniContext('useClient()').client;
}
