/**
 * `useLiveQuery(query | (q) => query)`: the value of a live query, on
 * `useSyncExternalStore` over the engine's LiveQuery (whose value is the same object while
 * nothing in it changed). While the query loads, the component suspends on the live query's
 * one promise (Suspense does not loop); a failed query throws its error to the nearest
 * error boundary.
 */
import { liveQuery } from '@omnisync/client';
import { q, type Query } from '@omnisync/core';
import { type DependencyList, useCallback, useMemo, useSyncExternalStore } from 'react';
import { useClient } from './context.js';

/** A query, or a function building one from `q`. */
export type QueryArg<T> = Query<T, any> | ((builder: typeof q) => Query<T, any>);

/**
 * The live result of a query.
 * @example
 * const open = useLiveQuery((q) => q('todos').where({ completed: false }).orderBy({ createdAt: 'desc' }));
 * const todo = useLiveQuery(q('todos').get(id));
 */
export function useLiveQuery<T>(query: QueryArg<T>, deps: DependencyList = []): T {
  const client = useClient();
  const built = typeof query === 'function' ? query(q) : query;
  // Identity by hash: a query rebuilt on every render is still the same live query.
  const hash = built.hash;
  const stable = useMemo(() => built, [hash, ...deps]);
  const lq = liveQuery(client, stable);
  const subscribe = useCallback((l: () => void) => lq.subscribe(l), [lq]);
  const get = () => lq.value;
  const value = useSyncExternalStore(subscribe, get, get);
  if (lq.status === 'loading') throw lq.promise;
  if (lq.status === 'error') throw lq.error;
  return value;
}
