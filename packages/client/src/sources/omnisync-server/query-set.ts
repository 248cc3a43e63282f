/**
 * Which queries the server source syncs, and which of them the cursor already covers.
 *
 * The cursor says "every change up to here is applied" for the queries synced so far. A
 * collection added later (the client registers collections lazily, or the app grew one
 * between runs) has history before the cursor: it gets a pull of its own from cursor 0
 * first, and is recorded in the persisted meta `queries` once applied.
 */
import type { JsonValue, WireQuery } from '@omnisync/core';
import type { SourceContext } from '../types.js';
import { META_QUERIES } from './server-source-types.js';

const keyOf = (q: WireQuery): string => JSON.stringify(q);

/** @internal The query set of one server source. */
export class QuerySet {
  readonly #ctx: SourceContext;
  /** Queries given by the app: fixed. Otherwise one per collection of the context. */
  readonly #fixed: boolean;
  #all: WireQuery[];
  readonly #synced: Set<string>;
  #dirty = false;

  constructor(ctx: SourceContext, queries?: readonly WireQuery[], collections?: readonly string[]) {
    this.#ctx = ctx;
    this.#fixed = queries !== undefined || collections !== undefined;
    this.#all = queries
      ? [...queries]
      : (collections ?? ctx.collections).map((collection) => ({ collection }));
    // Without a saved list every query starts covered: a first start pulls from cursor 0, and
    // a cursor saved without a list covers every query it was saved with.
    const stored = ctx.getMeta(META_QUERIES);
    this.#synced = new Set(
      Array.isArray(stored) ? stored.filter((k): k is string => typeof k === 'string') : this.#all.map(keyOf),
    );
    this.#dirty = !Array.isArray(stored);
  }

  /** Pick up collections registered since the last call; true when the set grew. */
  refresh(): boolean {
    if (this.#fixed || this.#ctx.collections.length === this.#all.length) return false;
    const known = new Set(this.#all.map((q) => q.collection));
    let grew = false;
    for (const collection of this.#ctx.collections)
      if (!known.has(collection)) {
        this.#all.push({ collection });
        grew = true;
      }
    return grew;
  }

  /** Every query. */
  all(): readonly WireQuery[] {
    return this.#all;
  }

  /** Queries the cursor covers. */
  synced(): readonly WireQuery[] {
    return this.#all.filter((q) => this.#synced.has(keyOf(q)));
  }

  /** Queries that still need their first snapshot. */
  unsynced(): readonly WireQuery[] {
    return this.#all.filter((q) => !this.#synced.has(keyOf(q)));
  }

  /** True when {@link markSynced} recorded something {@link save} has not persisted yet. */
  get dirty(): boolean {
    return this.#dirty;
  }

  /** Record that `queries` are applied up to the cursor (in memory; {@link save} persists). */
  markSynced(queries: readonly WireQuery[]): void {
    const before = this.#synced.size;
    for (const q of queries) this.#synced.add(keyOf(q));
    if (this.#synced.size !== before) this.#dirty = true;
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
