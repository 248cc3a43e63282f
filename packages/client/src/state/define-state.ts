/**
 * `defineState` (seed 000 §5): one declaration of an app's state, mixing local state (no
 * source: in memory, optionally persisted) and synced collections (`_source` / `_binding`),
 * from which TypeScript infers the whole shape of the state proxy.
 *
 * A node is a synced collection when it has any of `_source`, `_binding`, `_schema` or
 * `_type`; anything else is local state (its `_options` aside).
 */
import { type CollectionDef, type InferDocument, SchemaError, isValidCollectionName } from '@omnisync/core';
import type { Source } from '../sources/types.js';
import type { MutationStrategy } from '../types.js';
import type { BackendBinding } from '../sources/bindings/binding.js';
import type { CollectionNode, LocalNode } from './node-types.js';

/** Options of a synced collection (seed 000 §9, §10). */
export interface SyncedOptions {
  /** How long fetched data counts as fresh, in ms: no refetch inside it (default 0). */
  readonly staleTime?: number;
  /** Revalidate when a new consumer starts reading a query (default true). */
  readonly refetchOnMount?: boolean;
  /** Keep queries live (push) instead of fetching them (pull). Default true for the OmniSync server. */
  readonly sync?: boolean;
  /** Ordered (default) or parallel writes, seed 001. */
  readonly strategy?: MutationStrategy['type'];
}

/** A synced collection in {@link defineState}. */
export interface SyncedSpec<T = any> {
  /**
   * Where the collection's data lives: `'server'` (the client's OmniSync server, the default
   * when the client has one), `'local'` (this device only), or any source.
   */
  readonly _source?: Source | 'server' | 'local';
  /** A backend binding (seed 000 §3): query-scoped reads with stale-while-revalidate. */
  readonly _binding?: BackendBinding<any>;
  /** A collection definition: validates writes and types the documents. */
  readonly _schema?: CollectionDef<string, any, any>;
  /** Type carrier, no runtime effect: `_type: [] as Todo[]`. */
  readonly _type?: readonly T[];
  /** The collection's name on the backend (default: the key in the state). */
  readonly _collection?: string;
  readonly _options?: SyncedOptions;
}

/** Options of a local node. */
export interface LocalOptions {
  /** Keep this node in the client's persistence across reloads (default false: memory). */
  readonly persist?: boolean;
}

/** What {@link defineState} accepts. */
export type StateSpec = Record<string, object>;

type SyncKeys = '_source' | '_binding' | '_schema' | '_type';

/** The document type a synced spec describes. */
export type DocOfSpec<N> = N extends { _type: readonly (infer T)[] }
  ? T
  : N extends { _schema: infer C }
    ? InferDocument<C>
    : N extends { _binding: BackendBinding<infer T> }
      ? T
      : Record<string, unknown> & { id: string };

/** The state proxy's type for a spec (what `useOmni()` returns). */
export type OmniState<S> = {
  -readonly [K in keyof S]: S[K] extends Partial<Record<SyncKeys, unknown>> &
    ({ _source: unknown } | { _binding: unknown } | { _schema: unknown } | { _type: unknown })
    ? CollectionNode<
        DocOfSpec<S[K]> extends { id: string } ? DocOfSpec<S[K]> : DocOfSpec<S[K]> & { id: string }
      >
    : LocalNode<Omit<S[K], '_options'>>;
};

/** The state proxy's type of a definition: `StateOf<typeof appState>`. */
export type StateOf<D> = D extends StateDefinition<infer S> ? OmniState<S> : never;

/** @internal One parsed node of a definition. */
export type NodeDef =
  | {
      readonly kind: 'local';
      readonly key: string;
      readonly initial: Record<string, unknown>;
      readonly persist: boolean;
    }
  | {
      readonly kind: 'collection';
      readonly key: string;
      readonly name: string;
      readonly source: Source | 'server' | 'local' | undefined;
      readonly binding: BackendBinding<any> | undefined;
      readonly schema: CollectionDef<string, any, any> | undefined;
      readonly options: SyncedOptions;
    };

/** A state definition: pass it to `createState(client, def)` or to `<OmniSyncProvider state>`. */
export interface StateDefinition<S extends StateSpec = StateSpec> {
  /** @internal The parsed nodes, by key. */
  readonly nodes: ReadonlyMap<string, NodeDef>;
  /** Type-only: the shape of the state proxy. */
  readonly '~state'?: OmniState<S>;
}

const SYNC_KEYS: readonly string[] = ['_source', '_binding', '_schema', '_type'];
const SYNCED_SPEC_KEYS = new Set([...SYNC_KEYS, '_collection', '_options']);

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null &&
  typeof v === 'object' &&
  (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null);

/**
 * Declare an app's state.
 * @example
 * export const appState = defineState({
 *   ui: { sidebarOpen: false, theme: 'dark', _options: { persist: true } },
 *   todos: { _source: 'server', _type: [] as Todo[], _options: { staleTime: 5000 } },
 * });
 * // useOmni() then returns { ui: { sidebarOpen: boolean; theme: string }, todos: CollectionNode<Todo> }
 */
export function defineState<S extends StateSpec>(spec: S): StateDefinition<S>;
export function defineState(spec: StateSpec): StateDefinition {
  if (!isPlainObject(spec))
    throw new SchemaError(
      'defineState() takes an object: { ui: { theme: "dark" }, todos: { _source: "server" } }.',
    );
  const nodes = new Map<string, NodeDef>();
  const names = new Set<string>();
  for (const [key, node] of Object.entries(spec)) {
    if (!isPlainObject(node))
      throw new SchemaError(
        `defineState: "${key}" must be an object (local state like { open: false }, or a collection like { _source: 'server' }).`,
        { details: { node: key } },
      );
    const synced = SYNC_KEYS.some((k) => Object.hasOwn(node, k));
    if (synced) {
      for (const k of Object.keys(node))
        if (!SYNCED_SPEC_KEYS.has(k))
          throw new SchemaError(
            `defineState: collection "${key}" has an unknown key "${k}"; a collection takes _source, _binding, _schema, _type, _collection and _options.`,
            { details: { node: key, key: k } },
          );
      const name =
        (node._collection as string | undefined) ?? (node._schema as CollectionDef | undefined)?.name ?? key;
      if (!isValidCollectionName(name))
        throw new SchemaError(
          `defineState: "${name}" is not a valid collection name (letters, digits, _ or -, starting with a letter or _); set _collection.`,
          { details: { node: key } },
        );
      if (names.has(name))
        throw new SchemaError(
          `defineState: two nodes use collection "${name}"; give one another _collection.`,
          {
            details: { node: key },
          },
        );
      names.add(name);
      if (node._source !== undefined && node._binding !== undefined)
        throw new SchemaError(`defineState: collection "${key}" has both _source and _binding; give one.`, {
          details: { node: key },
        });
      const options = (node._options ?? {}) as SyncedOptions;
      if (!isPlainObject(options))
        throw new SchemaError(`defineState: "${key}"._options must be an object.`, {
          details: { node: key },
        });
      if (
        options.staleTime !== undefined &&
        !(typeof options.staleTime === 'number' && options.staleTime >= 0)
      )
        throw new SchemaError(`defineState: "${key}"._options.staleTime must be a number of ms ≥ 0.`, {
          details: { node: key },
        });
      const source = node._source as Source | 'server' | 'local' | undefined;
      if (
        source !== undefined &&
        source !== 'server' &&
        source !== 'local' &&
        typeof (source as Source)?.persist !== 'function'
      )
        throw new SchemaError(`defineState: "${key}"._source must be 'server', 'local' or a source object.`, {
          details: { node: key },
        });
      nodes.set(key, {
        kind: 'collection',
        key,
        name,
        source,
        binding: node._binding as BackendBinding | undefined,
        schema: node._schema as CollectionDef | undefined,
        options,
      });
    } else {
      const { _options, ...initial } = node as { _options?: LocalOptions } & Record<string, unknown>;
      if (_options !== undefined && !isPlainObject(_options))
        throw new SchemaError(`defineState: "${key}"._options must be an object like { persist: true }.`, {
          details: { node: key },
        });
      nodes.set(key, {
        kind: 'local',
        key,
        initial: structuredClone(initial),
        persist: _options?.persist === true,
      });
    }
  }
  return { nodes };
}
