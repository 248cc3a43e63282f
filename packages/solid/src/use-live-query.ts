/**
 * `useLiveQuery(query | (q) => query)`: a live query of the client as a Solid accessor. The
 * query is built in a memo, so a builder reading signals re-targets the live query when they
 * change; the owner holds one subscription to the client's live query and drops it on
 * cleanup. While the query loads, reading the accessor reads a resource (so `<Suspense>`
 * shows its fallback); a failed query throws its error to the nearest `<ErrorBoundary>`.
 * The value is the live query's own (the same objects while unchanged), so `<For>` keeps the
 * rows whose document did not change.
 */
import { liveQuery } from '@omnisync/client';
import { type LiveQuery, q, type Query, type QueryStatus } from '@omnisync/core';
import { createComputed, createMemo, createResource, createSignal, onCleanup } from 'solid-js';
import { useClient } from './context.js';

/** A query, or a function building one from `q` (tracked: it may read signals). */
export type QueryArg<T> = Query<T, any> | ((builder: typeof q) => Query<T, any>);

/** What {@link useLiveQuery} returns: call it for the value (suspends, throws); status without either. */
export interface LiveQueryAccessor<T> {
  (): T;
  /** `loading` until the collection's first data arrived, `error` when its source failed (no suspending). */
  readonly status: QueryStatus;
  readonly error: Error | undefined;
  /** The value as it is (`[]` / `undefined` while loading), never suspending or throwing. */
  readonly latest: T;
}

/**
 * The live result of a query.
 * @example
 * const open = useLiveQuery((q) => q<Todo>('todos').where({ completed: false }));
 * <Suspense fallback="Loading…"><For each={open()}>{(t) => <TodoItem todo={t} />}</For></Suspense>
 */
export function useLiveQuery<T>(query: QueryArg<T>): LiveQueryAccessor<T> {
  const client = useClient();
  // The engine gives the same instance per query hash: an unchanged query keeps its live query.
  const lq = createMemo(() => liveQuery(client, typeof query === 'function' ? query(q) : query));
  const [version, setVersion] = createSignal(0);
  createComputed(() => {
    const l = lq();
    onCleanup(l.subscribe(() => setVersion((v) => v + 1)));
  });
  const [loaded] = createResource(lq, (l: LiveQuery<T>) =>
    l.status === 'loading' ? l.promise.then(() => true) : true,
  );
  const current = () => {
    version();
    return lq();
  };
  const read = (() => {
    const l = current();
    if (l.status === 'loading') loaded();
    if (l.status === 'error') throw l.error;
    return l.value;
  }) as LiveQueryAccessor<T>;
  Object.defineProperties(read, {
    status: { get: () => current().status },
    error: { get: () => current().error },
    latest: { get: () => current().value },
  });
  return read;
}
