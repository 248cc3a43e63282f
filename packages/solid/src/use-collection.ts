/**
 * `useCollection(config)` (seed 001 "Collection Hook"): a collection of the client, created
 * from `config` the first time (shared by every user of the same id), with its documents as
 * an accessor of a record by id and its write functions.
 */
import type { Collection, CollectionConfig, Transaction, UpdateChange, WriteOptions } from '@omnisync/client';
import { type Accessor, createSignal, onCleanup } from 'solid-js';
import { useClient } from './context.js';

/** What {@link useCollection} returns (seed 001's shape, `data` an accessor). */
export interface UseCollectionResult<T extends { id: string }> {
  /** The visible documents by id (a new object when the collection changes). */
  readonly data: Accessor<Readonly<Record<string, T>>>;
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

const recordOf = <T extends { id: string }>(all: readonly T[]): Readonly<Record<string, T>> =>
  Object.freeze(Object.fromEntries(all.map((d) => [d.id, d])));

/**
 * A collection and its data.
 * @example
 * const todos = useCollection<Todo>({ id: 'todos' });
 * todos.insert({ id: crypto.randomUUID(), title: 'Write docs', completed: false });
 */
export function useCollection<T extends { id: string } = { id: string } & Record<string, unknown>>(
  config: CollectionConfig<T>,
): UseCollectionResult<T> {
  const collection = useClient().collection<T>(config);
  const [data, setData] = createSignal(recordOf(collection.all()));
  onCleanup(collection.subscribe(() => setData(recordOf(collection.all()))));
  return {
    data,
    insert: (docs, options) => collection.insert(docs, options),
    update: (id, change, options) => collection.update(id, change, options),
    delete: (ids, options) => collection.delete(ids, options),
    withMutation: (fn, options) => collection.withMutation(fn, options),
    collection,
  };
}
