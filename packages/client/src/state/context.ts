/**
 * @internal What every state node is built from: the runtime of one (client, definition)
 * pair, and the *view* it is read through — the global one, or one bound to an observer
 * (a component), which records the reads of that component's render.
 *
 * Node proxies are cached per view, so identical queries are the same object within a
 * view (seed 000 "stable identity"), and every node carries a handle (under {@link NODE})
 * from which it can be re-read through another view (`useOmni(node)`).
 */
import type { Query, ReadonlySignal } from '@omnisync/core';
import type { Collection } from '../collection/collection.js';
import type { Transaction } from '../transactions/transaction.js';
import type { NodeDef } from './define-state.js';
import type { ObservedRead, StateObserver } from './observer.js';

/** @internal The hidden handle of every node proxy. */
export const NODE: unique symbol = Symbol('omnisync.state.node') as never;

/** A live query as the state reads it (the query engine's LiveQuery satisfies it). */
export interface LiveQueryPort<T = unknown> {
  readonly value: T;
  readonly status: 'loading' | 'ready' | 'error';
  readonly error: Error | null | undefined;
  /** The same promise while loading (Suspense). */
  readonly promise: Promise<unknown>;
  subscribe(listener: () => void): () => void;
}

/** @internal A synced collection's node definition. */
export type CollectionNodeDef = Extract<NodeDef, { kind: 'collection' }>;

/** @internal What the state needs from its client. */
export interface StateHost {
  /** The collection behind a node (created on first use, then shared). */
  collection(node: CollectionNodeDef): Collection<any>;
  /** The visible document without subscribing (the store's object: a new one after each change). */
  peek(node: CollectionNodeDef, id: string): object | undefined;
  /** Pending (unconfirmed) writes to a document. Reading subscribes to the document and its writes. */
  pending(node: CollectionNodeDef, id: string): readonly { readonly tx: Transaction }[];
  /**
   * Pending writes to a document, subscribing only to the collection's writes as a whole
   * (one subscription for a list that checks every row).
   */
  pendingInList(node: CollectionNodeDef, id: string): readonly { readonly tx: Transaction }[];
  /** When the host last saw a change of a document (or, without id, of the collection); 0: never. */
  lastUpdated(node: CollectionNodeDef, id?: string): number;
  /** A live query over the visible state, shared per query hash. */
  live(node: CollectionNodeDef, query: Query<any, any>): LiveQueryPort<readonly Record<string, unknown>[]>;
  /** Several writes as one transaction. */
  transaction(fn: () => void, options: { optimistic?: boolean }): Transaction;
  /** Current time in ms (the client's scheduler). */
  now(): number;
  /** A signal per local node (memory, or loaded from persistence). */
  local(node: Extract<NodeDef, { kind: 'local' }>): LocalCell;
}

/** @internal The storage of one local node: an immutable value in a signal. */
export interface LocalCell {
  readonly value: ReadonlySignal<Record<string, unknown>>;
  set(next: Record<string, unknown>): void;
  /** Time of the last write (ms). */
  readonly lastUpdated: ReadonlySignal<number>;
}

/** @internal One way of reading the state: globally, or on behalf of one observer. */
export class StateView {
  readonly runtime: StateRuntime;
  readonly observer: StateObserver | undefined;
  /** Node proxies of this view, by node key. */
  readonly cache = new Map<string, object>();
  /**
   * Entity proxies by collection/id, with the document object they were made for and
   * whether a field was read through them while this view was recording.
   */
  readonly entities = new Map<string, EntitySlot>();
  /** Entity proxy arrays of a list, by the live query's value (rebuilt when it changes). */
  readonly lists = new WeakMap<object, readonly object[]>();

  constructor(runtime: StateRuntime, observer: StateObserver | undefined) {
    this.runtime = runtime;
    this.observer = observer;
  }

  /** Record a read on behalf of this view's observer (no-op for the global view). */
  record(key: string, read: ObservedRead): void {
    const o = this.observer;
    if (o !== undefined && o.recording) o.record(key, read);
  }
}

/** @internal The cached entity proxy of one document in one view. */
export interface EntitySlot {
  doc: object;
  proxy: object;
  /** A field was read through this proxy on behalf of this view's observer. */
  read: boolean;
}

/** @internal The runtime of one state: its host, definition and views. */
export interface StateRuntime {
  readonly host: StateHost;
  readonly nodes: ReadonlyMap<string, NodeDef>;
  /** The global view (the object `createState` returns reads through it). */
  readonly global: StateView;
  /** The root proxy of a view. */
  root(view: StateView): object;
}

/** @internal A node's hidden handle: enough to rebuild the node in another view. */
export interface NodeHandle {
  readonly view: StateView;
  /** Rebuild this node in `view`. */
  rebind(view: StateView): object;
}

/** @internal The handle of a state node, or undefined for anything else. */
export function handleOf(value: unknown): NodeHandle | undefined {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return undefined;
  return (value as { [NODE]?: NodeHandle })[NODE];
}
