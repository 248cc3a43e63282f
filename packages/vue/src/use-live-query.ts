/**
 * `useLiveQuery(query | (q) => query)`: a live query of the client as Vue refs. The query
 * is built in a watcher, so a builder that reads refs or props re-targets the live query
 * when they change; the component holds one subscription to the client's live query and
 * drops it when its scope ends. The refs carry the live query's own objects (the same array
 * while nothing in it changed), so a keyed `v-for` re-renders only rows whose object changed.
 */
import { liveQuery } from '@omnisync/client';
import { type LiveQuery, q, type Query, type QueryStatus } from '@omnisync/core';
import { computed, isRef, type Ref, shallowRef, watch } from 'vue';
import { useClient } from './context.js';

/** A query, a function building one from `q` (reactive: it may read refs), or a ref of a query. */
export type QueryArg<T> = Query<T, any> | ((builder: typeof q) => Query<T, any>) | Ref<Query<T, any>>;

/** What {@link useLiveQuery} returns. */
export interface LiveQueryRefs<T> {
  /** The result (`[]` / `undefined` until loaded). */
  readonly data: Readonly<Ref<T>>;
  /** `loading` until the collection's first data arrived, `error` when its source failed. */
  readonly status: Readonly<Ref<QueryStatus>>;
  readonly error: Readonly<Ref<Error | undefined>>;
  readonly isLoading: Readonly<Ref<boolean>>;
  /** Resolves once loaded, rejects with the error: `await suspense()` in an async `setup` suspends under `<Suspense>`. */
  suspense(): Promise<void>;
}

function build<T>(query: QueryArg<T>): Query<T, any> {
  if (isRef(query)) return query.value;
  return typeof query === 'function' ? query(q) : query;
}

/**
 * The live result of a query.
 * @example
 * const { data: open, isLoading } = useLiveQuery((q) => q<Todo>('todos').where({ completed: false }));
 */
export function useLiveQuery<T>(query: QueryArg<T>): LiveQueryRefs<T> {
  const client = useClient();
  const current = shallowRef<LiveQuery<T>>(liveQuery(client, build(query)));
  const data = shallowRef<T>(current.value.value);
  const status = shallowRef<QueryStatus>(current.value.status);
  const error = shallowRef<Error | undefined>(current.value.error);
  const copy = (lq: LiveQuery<T>) => {
    data.value = lq.value;
    status.value = lq.status;
    error.value = lq.error;
  };
  // Identity by hash: a builder re-run on every change is still the same live query.
  const hash = computed(() => build(query).hash);
  watch(
    hash,
    (_h, _old, onCleanup) => {
      const lq = liveQuery(client, build(query));
      current.value = lq;
      onCleanup(lq.subscribe(() => copy(lq)));
      copy(lq);
    },
    { immediate: true },
  );
  return {
    data,
    status,
    error,
    isLoading: computed(() => status.value === 'loading'),
    suspense: async () => {
      const lq = current.value;
      await lq.promise;
      if (lq.status === 'error') throw lq.error;
    },
  };
}
