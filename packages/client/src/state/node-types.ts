/**
 * The public types of state nodes: what `state.todos`, `state.todos.where(...)`, one todo
 * and `state.ui` look like to TypeScript.
 */
import type { Predicate, Query, SortDirection, WhereObject, WhereOperator } from '@omnisync/core';
import type { Collection, UpdateChange, WriteOptions } from '../collection/collection.js';
import type { Transaction } from '../transactions/transaction.js';
import type { MetaState, META } from './meta.js';

/** A document of the state: its fields are readable and assignable (an assignment is a write). */
export type Entity<T> = T & { readonly [META]: MetaState };

/**
 * A query over a collection: an array of its matching documents (read it like any array;
 * reading suspends while the data is loading) that refines further with `where`, `orderBy`,
 * `limit` and `offset`. Identical queries are the same object.
 */
export interface QueryNode<T> extends ReadonlyArray<Entity<T>> {
  /** Add a filter (ANDed): `{ completed: false }`, an operator object, a predicate, or (field, op, value). */
  where(filter: Partial<Record<keyof T & string, unknown>> & WhereObject): QueryNode<T>;
  where(filter: Predicate): QueryNode<T>;
  where(field: (keyof T & string) | (string & {}), operator: WhereOperator, value?: unknown): QueryNode<T>;
  /** Sort: `orderBy({ createdAt: 'desc' })` or `orderBy('title')`. */
  orderBy(spec: Partial<Record<(keyof T & string) | (string & {}), SortDirection>>): QueryNode<T>;
  orderBy(field: (keyof T & string) | (string & {}), dir?: SortDirection): QueryNode<T>;
  /** At most `n` rows. */
  limit(n: number): QueryNode<T>;
  /** Skip the first `n` rows. */
  offset(n: number): QueryNode<T>;
  /** The query this node reads (for `useLiveQuery`, or to send to a server). */
  readonly $query: Query<readonly T[], T & Readonly<Record<string, unknown>>>;
  readonly [META]: MetaState;
}

/** A synced collection of the state: every document (a {@link QueryNode}), plus writes. */
export interface CollectionNode<T extends { id: string }> extends QueryNode<T> {
  /** One document by id, or undefined (suspends while the collection is loading). */
  get(id: string): Entity<T> | undefined;
  /** Insert one document or many (one optimistic transaction). */
  insert(docs: T | readonly T[], options?: WriteOptions): Transaction;
  /** Update a document by a patch or a draft function. */
  update(id: string, change: UpdateChange<T>, options?: WriteOptions): Transaction;
  /** Delete one document or many. */
  delete(ids: string | readonly string[], options?: WriteOptions): Transaction;
  /** The client collection behind this node. */
  readonly $collection: Collection<T>;
}

type Primitive = string | number | boolean | bigint | symbol | null | undefined;

/** Local state: plain values, read and assigned at any depth. */
export type LocalNode<T> = {
  -readonly [K in keyof T]: T[K] extends Primitive | readonly unknown[] | Date | ((...a: never[]) => unknown)
    ? T[K]
    : LocalNode<T[K]>;
} & { readonly [META]?: MetaState };
