/**
 * `createCollection()` without an explicit client (seed 001's shape). Collections share a
 * default in-memory client; a collection given its own `persistence` gets the client of that
 * persistence (one client per persistence, so an outbox entry and its change always commit
 * together). Either way, one instance per collection id per client.
 */
import type { Collection } from './collection/collection.js';
import { type Client, type ClientOptions, type CollectionConfig, createClient } from './client.js';
import type { Persistence } from './persistence/types.js';

let defaultClient: Client | undefined;
const byPersistence = new WeakMap<Persistence, Client>();

/** The client `createCollection()` uses when given none (created on first use, memory only). */
export function getDefaultClient(): Client {
  return (defaultClient ??= createClient());
}

/** Replace the default client (e.g. with one that has persistence) before creating collections. */
export function setDefaultClient(client: Client | ClientOptions): Client {
  defaultClient =
    'collection' in client && typeof client.collection === 'function'
      ? (client as Client)
      : createClient(client as ClientOptions);
  return defaultClient;
}

/** Options of {@link createCollection}: a collection config, plus where it lives. */
export interface CreateCollectionOptions<T extends { id: string }> extends CollectionConfig<T> {
  /** The client to register with (default: the default client, or the persistence's client). */
  readonly client?: Client;
  /** Keep this collection (and its transactions) in this persistence. */
  readonly persistence?: Persistence;
}

/**
 * Create (or get: one instance per id) a collection.
 * @example
 * const todos = createCollection<Todo>({ id: 'todos' });
 * todos.insert({ id: '1', title: 'Buy milk', done: false });
 * effect(() => console.log(todos.count()));
 */
export function createCollection<T extends { id: string } = { id: string } & Record<string, unknown>>(
  options: CreateCollectionOptions<T>,
): Collection<T> {
  const { client, persistence, ...config } = options;
  let target = client;
  if (!target && persistence) {
    target = byPersistence.get(persistence);
    if (!target) byPersistence.set(persistence, (target = createClient({ persistence })));
  }
  return (target ?? getDefaultClient()).collection<T>(config);
}
