/**
 * `collectionStore(config)` (seed 001 "Collection Hook"): a collection of the client, created
 * from `config` the first time (shared by every user of the same id), as a store of its
 * documents by id, with its write functions.
 */
import type {
  Client,
  Collection,
  CollectionConfig,
  Transaction,
  UpdateChange,
  WriteOptions,
} from '@omnisync/client';
import { readable } from 'svelte/store';
import { getOmniContext } from './context.js';
import { type OmniReadable, withCurrent } from './readable.js';

/** What {@link collectionStore} returns: a store of the documents by id plus seed 001's writes. */
export interface CollectionStore<T extends { id: string }> extends OmniReadable<Readonly<Record<string, T>>> {
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
 * const todos = collectionStore<Todo>({ id: 'todos' });
 * todos.insert({ id: crypto.randomUUID(), title: 'Write docs', completed: false });
 * // {Object.keys($todos).length} todos
 */
export function collectionStore<T extends { id: string } = { id: string } & Record<string, unknown>>(
  config: CollectionConfig<T>,
  client?: Client,
): CollectionStore<T> {
  const collection = (client ?? getOmniContext('collectionStore()').client).collection<T>(config);
  const store = withCurrent(
    readable(recordOf(collection.all()), (set) => {
      set(recordOf(collection.all()));
      return collection.subscribe(() => set(recordOf(collection.all())));
    }),
  );
  return {
    subscribe: store.subscribe,
    get current() {
      return store.current;
    },
    insert: (docs, options) => collection.insert(docs, options),
    update: (id, change, options) => collection.update(id, change, options),
    delete: (ids, options) => collection.delete(ids, options),
    withMutation: (fn, options) => collection.withMutation(fn, options),
    collection,
  };
}
