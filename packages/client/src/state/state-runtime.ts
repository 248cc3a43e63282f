/**
 * @internal The runtime of one state (a definition on a host): builds the root proxy of
 * each view and rebinds nodes to observers.
 */
import { SchemaError, ValidationError } from '@omnisync/core';
import {
  type CollectionNodeDef,
  handleOf,
  NODE,
  type NodeHandle,
  type StateHost,
  type StateRuntime,
  StateView,
} from './context.js';
import type { NodeDef, OmniState, StateDefinition, StateSpec } from './define-state.js';
import { localProxy } from './local-proxy.js';
import { META, type MetaState } from './meta.js';
import type { StateObserver } from './observer.js';
import { collectionQuery, queryNode } from './query-proxy.js';

/** @internal Build the runtime of `def` on `host` and return its global root proxy. */
export function createStateRuntime<S extends StateSpec>(
  host: StateHost,
  def: StateDefinition<S>,
): OmniState<S> {
  if (def === null || typeof def !== 'object' || !(def.nodes instanceof Map))
    throw new SchemaError('createState(client, def): def must come from defineState({...}).');
  const runtime: StateRuntime = {
    host,
    nodes: def.nodes,
    global: undefined as unknown as StateView,
    root: (view) => rootProxy(view),
  };
  (runtime as { global: StateView }).global = new StateView(runtime, undefined);
  return runtime.root(runtime.global) as OmniState<S>;
}

function nodeProxy(view: StateView, def: NodeDef): object {
  let p = view.cache.get(def.key);
  if (p === undefined) {
    p =
      def.kind === 'collection'
        ? queryNode(view, def as CollectionNodeDef, collectionQuery(def as CollectionNodeDef), true)
        : localProxy(view, def, view.runtime.host.local(def));
    view.cache.set(def.key, p);
  }
  return p;
}

function rootProxy(view: StateView): object {
  const cached = view.cache.get('');
  if (cached !== undefined) return cached;
  const { nodes } = view.runtime;
  const handle: NodeHandle = { view, rebind: (other) => rootProxy(other) };
  const rootMeta = (): MetaState => ({ status: 'ready', error: null, lastUpdated: 0, isDirty: false });
  const proxy = new Proxy(
    {},
    {
      get(_t, prop) {
        if (prop === NODE) return handle;
        if (prop === META) return rootMeta();
        if (typeof prop !== 'string') return undefined;
        const def = nodes.get(prop);
        return def === undefined ? undefined : nodeProxy(view, def);
      },
      set(_t, prop, value) {
        const def = typeof prop === 'string' ? nodes.get(prop) : undefined;
        if (def === undefined)
          throw new ValidationError(
            `The state has no node "${String(prop)}": declare it in defineState({...}).`,
          );
        if (def.kind === 'collection')
          throw new ValidationError(
            `state.${def.key} is a collection: write its documents (insert, update, delete, or assign a field).`,
          );
        if (value === null || typeof value !== 'object' || Array.isArray(value))
          throw new ValidationError(
            `state.${def.key} is local state: assign an object, or assign its fields.`,
          );
        const target = nodeProxy(view, def) as Record<string, unknown>;
        for (const k of Object.keys(target)) if (!Object.hasOwn(value, k)) delete target[k];
        for (const [k, v] of Object.entries(value)) target[k] = v;
        return true;
      },
      has: (_t, prop) => typeof prop === 'string' && nodes.has(prop),
      ownKeys: () => [...nodes.keys()],
      getOwnPropertyDescriptor(_t, prop) {
        const def = typeof prop === 'string' ? nodes.get(prop) : undefined;
        return def
          ? { value: nodeProxy(view, def), writable: true, enumerable: true, configurable: true }
          : undefined;
      },
    },
  );
  view.cache.set('', proxy);
  return proxy;
}

const views = new WeakMap<StateObserver, WeakMap<StateRuntime, StateView>>();

/**
 * Read a state node (the root, a collection, a query, a document, a local node) on behalf
 * of an observer: reads through the returned node are recorded by `observer` while it is
 * recording. The same node object per (node, observer) while the node is unchanged.
 */
export function observeNode<T>(node: T, observer: StateObserver): T {
  const handle = handleOf(node);
  if (handle === undefined)
    throw new ValidationError(
      'observeNode / useOmni(node) takes a node of the OmniSync state (the state, a collection, a query, a document or a local node).',
    );
  const runtime = handle.view.runtime;
  let byRuntime = views.get(observer);
  if (byRuntime === undefined) views.set(observer, (byRuntime = new WeakMap()));
  let view = byRuntime.get(runtime);
  if (view === undefined) byRuntime.set(runtime, (view = new StateView(runtime, observer)));
  if (handle.view === view) return node;
  return handle.rebind(view) as T;
}

/** True when `value` is a node of an OmniSync state. */
export function isStateNode(value: unknown): boolean {
  return handleOf(value) !== undefined;
}
