/**
 * Which queries the server source syncs, and which of them the cursor already covers.
 *
 * A query is kept as its sync scope (core `syncScopeOf`: the collection and its `where`,
 * with `get` as `id = …`): what the server filters by. Queries that differ only in order,
 * window or includes share one scope, so they sync once.
 *
 * Scopes:
 * - `collections` (default): one whole-collection query per collection of the context
 *   (collections registered later are picked up by {@link refresh}), or the fixed `queries`
 *   the app gave.
 * - `queries`: the fixed `queries`, plus the scope of every live query the app opens on the
 *   source's collections ({@link want}). A wanted query stays synced (and is remembered in
 *   the persisted list, so it is synced again after a restart without a catch-up from 0)
 *   while held; once every holder released it ({@link release}; scopes loaded from the
 *   persisted list start released) the source may {@link drop} it.
 *
 * The cursor says "every change up to here is applied" for the queries synced so far. A
 * query added later has history before the cursor: it gets a pull of its own from cursor 0
 * first, and is recorded in the persisted meta `queries` once applied. The persisted list
 * holds exactly the queries the cursor covers: one that was not part of a sync that moved
 * the cursor is dropped from it ({@link coverOnlyKnown}), so re-adding it later catches it
 * up instead of trusting a cursor that skipped its changes.
 */
import {
  type JsonValue,
  type Query,
  type QueryAst,
  syncScopeOf,
  toQueryAst,
  ValidationError,
  type WireQuery,
  wireQueryToAst,
} from '@omnisync/core';
import type { SourceContext } from '../types.js';
import { META_QUERIES } from './server-source-types.js';

/** A query the app may give: a `q(…)` builder, a query AST, or the protocol v1 `{collection, where}` form. */
export type SyncQueryInput = Query<any, any> | QueryAst | WireQuery;

/** The sync scope of an app's query (throws QueryError for a malformed one). */
export function scopeOf(query: SyncQueryInput): QueryAst {
  const ast =
    typeof query === 'object' && query !== null && 'ast' in query ? toQueryAst(query) : wireQueryToAst(query);
  return syncScopeOf(ast);
}

const keyOf = (q: QueryAst): string => JSON.stringify(q);

/** The key of an app query's sync scope (queries differing in order, window or includes share it). */
export const scopeKey = (query: SyncQueryInput): string => keyOf(scopeOf(query));

interface Waiter {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
}

/** @internal The query set of one server source. */
export class QuerySet {
  readonly #ctx: SourceContext;
  readonly #mode: 'collections' | 'fixed' | 'queries';
  #all: QueryAst[];
  readonly #keys = new Set<string>();
  #synced: Set<string>;
  #dirty = false;
  readonly #waiters = new Map<string, Waiter>();
  /** Holders of each wanted scope (`queries` mode); at 0 it may be dropped. Fixed ones are not here. */
  readonly #holders = new Map<string, number>();

  constructor(
    ctx: SourceContext,
    queries?: readonly SyncQueryInput[],
    collections?: readonly string[],
    scope: 'collections' | 'queries' = 'collections',
  ) {
    this.#ctx = ctx;
    this.#mode = scope === 'queries' ? 'queries' : queries || collections ? 'fixed' : 'collections';
    const initial = queries
      ? queries.map(scopeOf)
      : scope === 'queries'
        ? []
        : (collections ?? ctx.collections).map((collection) => ({ collection }));
    const stored = ctx.getMeta(META_QUERIES);
    const storedKeys = Array.isArray(stored) ? stored.filter((k): k is string => typeof k === 'string') : [];
    this.#all = [];
    for (const q of initial) this.#add(q);
    // Queries wanted in an earlier run come back as they were saved (their scope ASTs).
    if (this.#mode === 'queries')
      for (const k of storedKeys) {
        const q = parseScope(k);
        if (q && this.#add(q)) this.#holders.set(keyOf(q), 0);
      }
    // Without a saved list every query starts covered: a first start pulls from cursor 0, and
    // a cursor saved without a list covers every query it was saved with.
    this.#synced = new Set(Array.isArray(stored) ? storedKeys : this.#all.map(keyOf));
    this.#dirty = !Array.isArray(stored);
  }

  /** True when queries are added as the app opens live queries (`scope: 'queries'`). */
  get dynamic(): boolean {
    return this.#mode === 'queries';
  }

  #add(q: QueryAst): boolean {
    const key = keyOf(q);
    if (this.#keys.has(key)) return false;
    // A whole-collection query covers every query of its collection.
    if (q.where !== undefined && this.#keys.has(keyOf({ collection: q.collection }))) return false;
    this.#keys.add(key);
    this.#all.push(q);
    return true;
  }

  /** Pick up collections registered since the last call; true when the set grew. */
  refresh(): boolean {
    if (this.#mode !== 'collections' || this.#ctx.collections.length === this.#all.length) return false;
    let grew = false;
    for (const collection of this.#ctx.collections) if (this.#add({ collection })) grew = true;
    return grew;
  }

  /**
   * Sync `query` too (`scope: 'queries'`). Resolves once its data is applied (at once when
   * the set already covers it). Throws QueryError for a malformed query.
   */
  want(query: SyncQueryInput): Promise<void> {
    if (this.#mode !== 'queries')
      throw new ValidationError('want() adds queries only to a server source created with scope: "queries".');
    const q = scopeOf(query);
    if (!this.#ctx.collections.includes(q.collection))
      throw new ValidationError(
        `Query on ${JSON.stringify(q.collection)}: that collection does not use this server source.`,
      );
    const key = keyOf(q);
    if (this.#add(q) || this.#holders.has(key)) this.#holders.set(key, (this.#holders.get(key) ?? 0) + 1);
    const covering = this.#keys.has(keyOf({ collection: q.collection }))
      ? keyOf({ collection: q.collection })
      : keyOf(q);
    if (this.#synced.has(covering)) return Promise.resolve();
    let w = this.#waiters.get(covering);
    if (!w) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => (resolve = r));
      this.#waiters.set(covering, (w = { promise, resolve }));
    }
    return w.promise;
  }

  /**
   * One holder of `query`'s scope let go (a live query stopped). True when it has no holder
   * left: the source may {@link drop} it after a while. Fixed scopes never count.
   */
  release(query: SyncQueryInput): boolean {
    const key = scopeKey(query);
    const n = this.#holders.get(key);
    if (n === undefined || n === 0) return false;
    this.#holders.set(key, n - 1);
    return n === 1;
  }

  /** True when the cursor covers `query`'s scope (itself, or its whole collection). */
  covers(query: SyncQueryInput): boolean {
    const q = scopeOf(query);
    const whole = keyOf({ collection: q.collection });
    return this.#synced.has(this.#keys.has(whole) ? whole : keyOf(q));
  }

  /** True when the scope `key` is in the set. */
  has(key: string): boolean {
    return this.#keys.has(key);
  }

  /** Wanted scopes without a holder (those loaded from the persisted list, at start). */
  idle(): string[] {
    return [...this.#holders].filter(([, n]) => n === 0).map(([k]) => k);
  }

  /**
   * Stop syncing the scope `key` if nobody holds it: it leaves the set and the persisted
   * list (wanted again later, it catches up from 0). Returns the dropped scope.
   */
  drop(key: string): QueryAst | undefined {
    if (this.#holders.get(key) !== 0) return undefined;
    this.#holders.delete(key);
    const i = this.#all.findIndex((q) => keyOf(q) === key);
    if (i < 0) return undefined;
    const [q] = this.#all.splice(i, 1);
    this.#keys.delete(key);
    if (this.#synced.delete(key)) this.#dirty = true;
    const w = this.#waiters.get(key);
    if (w) {
      this.#waiters.delete(key);
      w.resolve();
    }
    return q;
  }

  /** Every query. */
  all(): readonly QueryAst[] {
    return this.#all;
  }

  /** Queries the cursor covers. */
  synced(): readonly QueryAst[] {
    return this.#all.filter((q) => this.#synced.has(keyOf(q)));
  }

  /** Queries that still need their first catch-up. */
  unsynced(): readonly QueryAst[] {
    return this.#all.filter((q) => !this.#synced.has(keyOf(q)));
  }

  /** True when {@link markSynced} recorded something {@link save} has not persisted yet. */
  get dirty(): boolean {
    return this.#dirty;
  }

  /** Record that `queries` are applied up to the cursor (in memory; {@link save} persists). */
  markSynced(queries: readonly QueryAst[]): void {
    const before = this.#synced.size;
    for (const q of queries) {
      const key = keyOf(q);
      this.#synced.add(key);
      const w = this.#waiters.get(key);
      if (w) {
        this.#waiters.delete(key);
        w.resolve();
      }
    }
    if (this.#synced.size !== before) this.#dirty = true;
  }

  /**
   * The cursor moved with the synced queries of {@link all}: a saved query that is not (yet)
   * among them (a collection not registered this run) is no longer covered.
   */
  coverOnlyKnown(): void {
    for (const key of this.#synced)
      if (!this.#keys.has(key)) {
        this.#synced.delete(key);
        this.#dirty = true;
      }
  }

  /** Persist the synced list (with the cursor, at a checkpoint). */
  async save(): Promise<void> {
    if (!this.#dirty) return;
    this.#dirty = false;
    try {
      await this.#ctx.setMeta(META_QUERIES, [...this.#synced] as JsonValue);
    } catch (err) {
      this.#dirty = true;
      throw err;
    }
  }
}

function parseScope(key: string): QueryAst | undefined {
  try {
    return syncScopeOf(wireQueryToAst(JSON.parse(key)));
  } catch {
    return undefined; // not ours (an older format): it is simply not wanted any more
  }
}
