/**
 * `createState(client, definition)`: the state proxy of seed 000 on a client.
 */
import type { Client } from '../client.js';
import { clientHost } from './client-host.js';
import type { OmniState, StateDefinition, StateSpec } from './define-state.js';
import { createStateRuntime } from './state-runtime.js';

const states = new WeakMap<Client, WeakMap<StateDefinition<any>, unknown>>();

/**
 * The state proxy of `definition` on `client`: one per (client, definition), so every
 * caller shares it.
 * @example
 * const state = createState(client, appState);
 * state.todos.insert({ id: 'a', title: 'Buy milk', completed: false });
 * const open = state.todos.where({ completed: false }); // same object on every call
 * open[0].completed = true;                               // an optimistic update
 */
export function createState<S extends StateSpec>(
  client: Client,
  definition: StateDefinition<S>,
): OmniState<S> {
  let byDef = states.get(client);
  if (byDef === undefined) states.set(client, (byDef = new WeakMap()));
  let state = byDef.get(definition) as OmniState<S> | undefined;
  if (state === undefined) {
    state = createStateRuntime(clientHost(client), definition);
    byDef.set(definition, state);
  }
  return state;
}
