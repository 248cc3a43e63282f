/**
 * @internal Query nodes (seed 000 §4 "Collection Proxy"): `state.todos` and every
 * refinement of it (`where`, `orderBy`, `limit`, `offset`) is an array-like proxy over one
 * live query of the engine. Building a query fetches nothing; reading it (`.map`,
 * `.length`, `[i]`, iteration) materialises it, suspending while it loads (the live query's
 * one promise is thrown, so Suspense does not loop) and throwing its error if it failed.
 *
 * In an observer's view, reading a list records the *ids in order* it showed: a change to
 * one document's fields does not re-render the list, only the readers of that field.
 */
import { type Query, ValidationError, q } from '@omnisync/core';
import type { Collection, UpdateChange, WriteOptions } from '../collection/collection.js';
import type { CollectionNodeDef, LiveQueryPort, NodeHandle, StateView } from './context.js';
import { NODE } from './context.js';
import { entityFor } from './entity-proxy.js';
import { META, type MetaState } from './meta.js';
import { performWrite } from './omni-write.js';

type Row = Record<string, unknown>;

const REFINERS = new Set(['where', 'orderBy', 'limit', 'offset']);
const WRITERS = new Set(['insert', 'update', 'delete']);

function sameIds(a: unknown, b: unknown): boolean {
  const x = a as readonly Row[];
  const y = b as readonly Row[];
  if (x === y) return true;
  if (!Array.isArray(x) || !Array.isArray(y) || x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i]!.id !== y[i]!.id) return false;
  return true;
}

/** The rows of a live query, or the throw a render expects (its promise, or its error). */
function rowsOf(lq: LiveQueryPort<readonly Row[]>): readonly Row[] {
  if (lq.status === 'loading') throw lq.promise;
  if (lq.status === 'error') throw lq.error ?? new Error('query failed');
  return lq.value;
}

const registry = new FinalizationRegistry<{ cache: Map<string, WeakRef<object>>; key: string }>(
  ({ cache, key }) => {
    const ref = cache.get(key);
    if (ref !== undefined && ref.deref() === undefined) cache.delete(key);
  },
);

/** Per view: query nodes held weakly, so a query nobody holds any more can be collected. */
const weakCaches = new WeakMap<StateView, Map<string, WeakRef<object>>>();

/** @internal The node of `query` on `node`'s collection in `view` (the same object while held). */
export function queryNode(
  view: StateView,
  node: CollectionNodeDef,
  query: Query<any, any>,
  isRoot = false,
): object {
  let cache = weakCaches.get(view);
  if (cache === undefined) weakCaches.set(view, (cache = new Map()));
  const key = `${isRoot ? 'c' : 'q'}:${query.hash}`;
  const hit = cache.get(key)?.deref();
  if (hit !== undefined) return hit;
  const proxy = buildQueryNode(view, node, query, isRoot);
  cache.set(key, new WeakRef(proxy));
  registry.register(proxy, { cache, key });
  return proxy;
}

function buildQueryNode(
  view: StateView,
  node: CollectionNodeDef,
  query: Query<any, any>,
  isRoot: boolean,
): object {
  const host = view.runtime.host;
  const live = () => host.live(node, query);
  const collection = (): Collection<any> => host.collection(node);
  const handle: NodeHandle = { view, rebind: (other) => queryNode(other, node, query, isRoot) };

  /** The visible rows, recorded for the observer. */
  const rows = (): readonly Row[] => {
    const lq = live();
    const value = rowsOf(lq);
    view.record(`q:${query.hash}`, {
      read: () => rowsOf(live()),
      seen: value,
      equals: sameIds,
      subscribe: (cb) => live().subscribe(cb),
    });
    return value;
  };

  /** The rows as entity proxies (the same array while the rows are the same). */
  const entities = (): readonly object[] => {
    const r = rows();
    let list = view.lists.get(r);
    if (list === undefined) {
      const c = collection();
      list = Object.freeze(r.map((row) => entityFor(view, node, c, row.id as string, row)));
      view.lists.set(r, list);
    }
    return list;
  };

  const metaOf = (): MetaState => {
    const lq = live();
    const snapshot = (): MetaState => {
      const l = live();
      let dirty = false;
      if (l.status === 'ready')
        for (const row of l.value)
          if (host.pendingInList(node, row.id as string).length > 0) {
            dirty = true;
            break;
          }
      return {
        status: l.status,
        error: l.status === 'error' ? (l.error ?? null) : null,
        lastUpdated: host.lastUpdated(node),
        isDirty: dirty,
      };
    };
    const m = snapshot();
    view.record(`meta:q:${query.hash}`, {
      read: () => {
        const s = snapshot();
        return `${s.status}|${s.isDirty}|${s.error?.message ?? ''}`;
      },
      seen: `${m.status}|${m.isDirty}|${m.error?.message ?? ''}`,
      subscribe: (cb) => lq.subscribe(cb),
    });
    return m;
  };

  const write = (fn: (c: Collection<any>) => unknown): any => {
    let result: unknown;
    performWrite(host, () => {
      result = fn(collection());
    });
    return result;
  };

  const methods: Record<string, (...args: any[]) => unknown> = {
    where: (...args: unknown[]) =>
      queryNode(view, node, (query.where as (...a: unknown[]) => Query<any, any>)(...args)),
    orderBy: (...args: unknown[]) =>
      queryNode(view, node, (query.orderBy as (...a: unknown[]) => Query<any, any>)(...args)),
    limit: (n: number) => queryNode(view, node, query.limit(n)),
    offset: (n: number) => queryNode(view, node, query.offset(n)),
  };
  if (isRoot) {
    methods.get = (id: string) => {
      const c = collection();
      const status = c.status.peek();
      if (status === 'loading' && c.count() === 0) throw c.ready;
      const doc = host.peek(node, id);
      view.record(`g:${node.name}/${id}`, { read: () => c.get(id) !== undefined, seen: doc !== undefined });
      return doc === undefined ? undefined : entityFor(view, node, c, id, doc);
    };
    methods.insert = (docs: unknown, options?: WriteOptions) =>
      write((c) => c.insert(plainDocs(docs) as never, options));
    methods.update = (id: string, change: UpdateChange<any>, options?: WriteOptions) =>
      write((c) => c.update(id, change, options));
    methods.delete = (ids: string | readonly string[], options?: WriteOptions) =>
      write((c) => c.delete(ids, options));
  }

  return new Proxy([] as unknown[], {
    get(target, prop) {
      if (prop === NODE) return handle;
      if (prop === META) return metaOf();
      if (prop === '$query') return query;
      if (prop === '$collection') return isRoot ? collection() : undefined;
      if (typeof prop === 'string') {
        const m = methods[prop];
        if (m !== undefined) return m;
        if (prop === 'length') return rows().length;
        if (isIndex(prop)) return entities()[Number(prop)];
      }
      const arrayMember = (Array.prototype as unknown as Record<PropertyKey, unknown>)[prop];
      if (typeof arrayMember === 'function') {
        return (...args: unknown[]) => (arrayMember as (...a: unknown[]) => unknown).apply(entities(), args);
      }
      return Reflect.get(target, prop);
    },
    set(_t, prop) {
      throw new ValidationError(
        `A query of the state is read-only (tried to set ${String(prop)} on ${query.hash}): assign to a document's fields, or use insert/update/delete on the collection.`,
      );
    },
    has(_t, prop) {
      if (typeof prop === 'string' && isIndex(prop)) return Number(prop) < rows().length;
      return (
        prop === 'length' ||
        prop in Array.prototype ||
        (typeof prop === 'string' && (REFINERS.has(prop) || (isRoot && WRITERS.has(prop))))
      );
    },
    ownKeys() {
      const n = rows().length;
      const keys: string[] = [];
      for (let i = 0; i < n; i++) keys.push(String(i));
      keys.push('length');
      return keys;
    },
    getOwnPropertyDescriptor(_t, prop) {
      if (prop === 'length')
        return { value: rows().length, writable: true, enumerable: false, configurable: false };
      if (typeof prop === 'string' && isIndex(prop)) {
        const e = entities()[Number(prop)];
        return e === undefined
          ? undefined
          : { value: e, writable: false, enumerable: true, configurable: true };
      }
      return undefined;
    },
  });
}

const isIndex = (p: string): boolean => p.length > 0 && p.length < 16 && /^(0|[1-9]\d*)$/.test(p);

/** Insert takes plain documents; a state proxy passed in is copied to its plain fields. */
function plainDocs(docs: unknown): unknown {
  const one = (d: unknown) =>
    d !== null && typeof d === 'object' && (d as { [NODE]?: unknown })[NODE]
      ? JSON.parse(JSON.stringify(d))
      : d;
  return Array.isArray(docs) ? docs.map(one) : one(docs);
}

/** @internal The root query of a collection node: every document. */
export function collectionQuery(node: CollectionNodeDef): Query<any, any> {
  return q(node.name);
}
