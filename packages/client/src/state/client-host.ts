/**
 * @internal The state's host on a real client: collections from the client's registry,
 * live queries from one query engine per client (over the client's store), local nodes
 * in signals (persisted ones in a local-only collection of the client's persistence).
 */
import { type Query, signal, type Signal } from '@omnisync/core';
import type { Client } from '../client.js';
import type { Collection } from '../collection/collection.js';
import { createLocalOnlySource } from '../sources/local-only.js';
import type { Source } from '../sources/types.js';
import type { CollectionNodeDef, LiveQueryPort, LocalCell, StateHost } from './context.js';
import type { NodeDef } from './define-state.js';
import { type BindingSource, createBindingSource } from '../sources/bindings/binding-source.js';
import { liveQuery } from './live.js';
import { initialLocal } from './local-proxy.js';

type LocalDef = Extract<NodeDef, { kind: 'local' }>;

/** The local-only collection holding persisted local nodes (one document per node). */
export const LOCAL_STATE_COLLECTION = '_omnisync_local';

/** @internal Build the host of a state on `client`. */
export function clientHost(client: Client): StateHost {
  const sources = new Map<string, Source>();
  const bindings = new Map<string, BindingSource>();
  const locals = new Map<string, LocalCell>();
  const updated = new Map<string, number>();
  let listening = false;
  const listen = () => {
    if (listening) return;
    listening = true;
    client.store.subscribe((changes) => {
      const now = client.scheduler.now();
      for (const c of changes) {
        updated.set(c.collection, now);
        updated.set(`${c.collection}/${c.id}`, now);
      }
    });
  };

  const sourceOf = (node: CollectionNodeDef): Source | undefined => {
    if (node.binding !== undefined) {
      let s = bindings.get(node.name);
      if (s === undefined)
        bindings.set(
          node.name,
          (s = createBindingSource(node.name, node.binding, node.options, client.scheduler)),
        );
      return s;
    }
    if (node.source === 'local') {
      let s = sources.get(node.name);
      if (s === undefined) sources.set(node.name, (s = createLocalOnlySource(`local:${node.name}`)));
      return s;
    }
    if (node.source === 'server' || node.source === undefined) return undefined; // the client's default
    return node.source;
  };

  const collection = (node: CollectionNodeDef): Collection<any> => {
    const existing = client.getCollection(node.name);
    if (existing !== undefined) return existing;
    listen();
    const source = sourceOf(node);
    return client.collection({
      id: node.name,
      ...(source !== undefined ? { source } : {}),
      ...(node.schema !== undefined ? { schema: node.schema } : {}),
      ...(node.options.strategy !== undefined ? { strategy: node.options.strategy } : {}),
    });
  };

  const persistedLocal = (
    def: LocalDef,
    cell: Signal<Record<string, unknown>>,
    at: Signal<number>,
  ): LocalCell => {
    const store = client.collection<{ id: string; value: Record<string, unknown> }>({
      id: LOCAL_STATE_COLLECTION,
      source: createLocalOnlySource(`local:${LOCAL_STATE_COLLECTION}`),
    });
    // Persisted values load with the client; until then (and if none was saved) the initial value shows.
    void store.ready.then(() => {
      const saved = store.get(def.key)?.value;
      if (saved !== undefined && at.peek() === 0) cell.set(Object.freeze({ ...saved }));
    });
    return {
      value: cell,
      lastUpdated: at,
      set(next) {
        cell.set(next);
        at.set(client.scheduler.now());
        const doc = { id: def.key, value: JSON.parse(JSON.stringify(next)) as Record<string, unknown> };
        void store.ready.then(() => {
          if (store.get(def.key) === undefined) store.insert(doc);
          else store.update(def.key, (d) => ({ ...d, value: doc.value }));
        });
      },
    };
  };

  return {
    collection,
    peek: (node, id) => client.store.get(node.name, id),
    pending(node, id) {
      collection(node).get(id); // subscribe to the document
      // And to its pending writes: a confirmation can leave the document as it was, and
      // `isDirty` must turn false then. Only this document's writes re-run the reader.
      client.store.trackPending(node.name, id);
      return client.store.pending(node.name, id);
    },
    pendingInList(node, id) {
      client.store.trackAnyPending(node.name);
      return client.store.pending(node.name, id);
    },
    lastUpdated: (node, id) => updated.get(id === undefined ? node.name : `${node.name}/${id}`) ?? 0,
    live(node, query: Query<any, any>): LiveQueryPort<readonly Record<string, unknown>[]> {
      collection(node);
      const lq = liveQuery(client, query) as unknown as LiveQueryPort<readonly Record<string, unknown>[]>;
      const b = bindings.get(node.name);
      return b === undefined ? lq : bindingPort(lq, b, query);
    },
    transaction: (fn, options) => client.transaction(fn, options),
    now: () => client.scheduler.now(),
    local(def) {
      let c = locals.get(def.key);
      if (c === undefined) {
        const value = signal(initialLocal(def));
        const at = signal(0);
        c = def.persist
          ? persistedLocal(def, value, at)
          : {
              value,
              lastUpdated: at,
              set(next) {
                value.set(next);
                at.set(client.scheduler.now());
              },
            };
        locals.set(def.key, c);
      }
      return c;
    },
  };
}

/** A live query whose loading state is the binding's fetch of it (seed 000 SWR + Suspense). */
function bindingPort(
  lq: LiveQueryPort<readonly Record<string, unknown>[]>,
  b: BindingSource,
  query: Query<any, any>,
): LiveQueryPort<readonly Record<string, unknown>[]> {
  const fetchState = () => b.queryState(query);
  return {
    get value() {
      return lq.value;
    },
    get status() {
      const s = fetchState().status;
      return s === 'ready' ? lq.status : s;
    },
    get error() {
      return fetchState().error ?? lq.error;
    },
    get promise() {
      const s = fetchState();
      return s.status === 'loading' ? s.promise : lq.promise;
    },
    subscribe(listener) {
      const a = lq.subscribe(listener);
      const release = b.consume(query, listener);
      return () => {
        a();
        release();
      };
    },
  };
}
