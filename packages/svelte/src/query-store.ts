/**
 * `queryStore(query | (q) => query)`: a live query of the client as a Svelte store. The store
 * holds one subscription to the client's live query while it has subscribers (`$store` in a
 * component: while mounted) and carries the live query's own objects, so a keyed `{#each}`
 * updates only the rows whose object changed.
 */
import { type Client, liveQuery } from '@omnisync/client';
import { q, type Query, type QueryStatus } from '@omnisync/core';
import { readable } from 'svelte/store';
import { getOmniContext } from './context.js';
import { type OmniReadable, withCurrent } from './readable.js';

/** A query, or a function building one from `q`. */
export type QueryArg<T> = Query<T, any> | ((builder: typeof q) => Query<T, any>);

/** The value of a {@link queryStore}. */
export interface LiveQueryState<T> {
  /** The result (`[]` / `undefined` while loading). */
  readonly data: T;
  /** `loading` until the collection's first data arrived, `error` when its source failed. */
  readonly status: QueryStatus;
  readonly error: Error | undefined;
  readonly isLoading: boolean;
}

/**
 * The live result of a query (create it during component initialisation, or pass a client).
 * @example
 * const open = queryStore((q) => q<Todo>('todos').where({ completed: false }).orderBy('createdAt'));
 * // {#each $open.data as todo (todo.id)} … {/each}   or   $derived(open.current.data.length)
 */
export function queryStore<T>(query: QueryArg<T>, client?: Client): OmniReadable<LiveQueryState<T>> {
  const c = client ?? getOmniContext('queryStore()').client;
  const lq = liveQuery(c, typeof query === 'function' ? query(q) : query);
  const snapshot = (): LiveQueryState<T> => ({
    data: lq.value,
    status: lq.status,
    error: lq.error,
    isLoading: lq.status === 'loading',
  });
  return withCurrent(
    readable(snapshot(), (set) => {
      set(snapshot());
      return lq.subscribe(() => set(snapshot()));
    }),
  );
}
