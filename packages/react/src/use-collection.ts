/**
 * `useCollection(config)` (seed 001 "Collection Hook"): a collection of the client, created
 * from `config` the first time (shared by every component using the same id), with its
 * documents as a record by id and its write functions.
 */
import type { Collection, CollectionConfig, Transaction, UpdateChange, WriteOptions } from '@omnisync/client';
import { useCallback, useMemo, useSyncExternalStore } from 'react';
import { useClient } from './context.js';

/** What {@link useCollection} returns (seed 001's shape). */
export interface UseCollectionResult<T extends { id: string }> {
  /** The visible documents by id (the same object until the collection changes). */
  readonly data: Readonly<Record<string, T>>;
  readonly insert: (docs: T | readonly T[], options?: WriteOptions) => Transaction;
  readonly update: (id: string, change: UpdateChange<T>, options?: WriteOptions) => Transaction;
  readonly delete: (ids: string | readonly string[], options?: WriteOptions) => Transaction;
  /** Several writes (to any collections) as one transaction. */
  readonly withMutation: (
    fn: (tx: Transaction) => unknown,
    options?: { strategy?: 'ordered' | 'parallel'; optimistic?: boolean; metadata?: unknown },
  ) => Transaction;
  /** The collection itself (status, ready, reactive reads). */
  readonly collection: Collection<T>;
}

const records = new WeakMap<readonly object[], Readonly<Record<string, unknown>>>();

/** The record form of `all()`, cached per array (all() keeps its array until a change). */
function recordOf<T extends { id: string }>(all: readonly T[]): Readonly<Record<string, T>> {
  let r = records.get(all);
  if (r === undefined) {
    const out: Record<string, T> = {};
    for (const d of all) out[d.id] = d;
    records.set(all, (r = Object.freeze(out)));
  }
  return r as Readonly<Record<string, T>>;
}

/**
 * A collection and its data.
 * @example
 * const { data, insert, update } = useCollection<Todo>({
 *   sync: { id: 'todos', setup: async ({ onUpdate }) => ({ data: await api.list(onUpdate) }) },
 *   mutationFn: { persist: ({ changes }) => api.save(changes) },
 * });
 */
export function useCollection<T extends { id: string } = { id: string } & Record<string, unknown>>(
  config: CollectionConfig<T>,
): UseCollectionResult<T> {
  const client = useClient();
  const collection = client.collection<T>(config);
  const subscribe = useCallback((l: () => void) => collection.subscribe(() => l()), [collection]);
  const get = () => recordOf(collection.all());
  const data = useSyncExternalStore(subscribe, get, get);
  const writes = useMemo(
    () => ({
      insert: (docs: T | readonly T[], options?: WriteOptions) => collection.insert(docs, options),
      update: (id: string, change: UpdateChange<T>, options?: WriteOptions) =>
        collection.update(id, change, options),
      delete: (ids: string | readonly string[], options?: WriteOptions) => collection.delete(ids, options),
      withMutation: (
        fn: (tx: Transaction) => unknown,
        options?: { strategy?: 'ordered' | 'parallel'; optimistic?: boolean; metadata?: unknown },
      ) => collection.withMutation(fn, options),
    }),
    [collection],
  );
  return { data, ...writes, collection };
}
