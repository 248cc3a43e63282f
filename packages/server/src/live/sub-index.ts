/**
 * The live subscriptions of one app, indexed for fan-out: which connections can a committed
 * document change concern? Subscriptions are kept by collection, and within it by how they
 * filter — whole collection, pinned to a few values of one field (a required equality or
 * `in` list: core's `SyncQuery.route`), or anything else — so a change is looked up by the
 * document's values before and after it, not tested against every connection's queries.
 * The answer is a superset: each connection still tests its candidates with core's filter
 * when it delivers (in its queue order, where a subscription's catch-up may still be running).
 */
import { DELETED_FIELD, type SyncQuery } from '@omnisync/core';
import type { DocChangeEvent } from '../engine/working-doc.js';

/** What the index needs of a subscription. */
export interface IndexedSubscription<C> {
  readonly conn: C;
  readonly query: SyncQuery;
}

interface CollectionSubs<C> {
  /** Subscriptions per connection (a deletion reaches every subscriber of the collection). */
  readonly conns: Map<C, number>;
  readonly whole: Set<IndexedSubscription<C>>;
  /** field → route key → subscriptions pinned to it. */
  readonly pinned: Map<string, Map<string, Set<IndexedSubscription<C>>>>;
  /** Filtered, but not by a pin: tested on every change of the collection. */
  readonly rest: Set<IndexedSubscription<C>>;
  /** Pinned fields with how to read a document's key, one per field. */
  readonly routes: Map<string, SyncQuery['route'] & object>;
}

const isTombstone = (ev: DocChangeEvent) =>
  ev.after === undefined && ev.changed.length === 1 && ev.changed[0]!.field === DELETED_FIELD;

/** Connection → the indices of the events it is a candidate for (ascending). */
export type Candidates<C> = Map<C, number[]>;

/** The subscription index of one app. */
export class SubscriptionIndex<C> {
  readonly #collections = new Map<string, CollectionSubs<C>>();
  #size = 0;

  /** Number of subscriptions. */
  get size(): number {
    return this.#size;
  }

  add(sub: IndexedSubscription<C>): void {
    const q = sub.query;
    let c = this.#collections.get(q.collection);
    if (!c)
      this.#collections.set(
        q.collection,
        (c = { conns: new Map(), whole: new Set(), pinned: new Map(), rest: new Set(), routes: new Map() }),
      );
    c.conns.set(sub.conn, (c.conns.get(sub.conn) ?? 0) + 1);
    this.#size++;
    if (q.whole) return void c.whole.add(sub);
    const route = q.route;
    if (route === undefined) return void c.rest.add(sub);
    let byKey = c.pinned.get(route.field);
    if (!byKey) {
      c.pinned.set(route.field, (byKey = new Map()));
      c.routes.set(route.field, route);
    }
    for (const key of route.keys) {
      let set = byKey.get(key);
      if (!set) byKey.set(key, (set = new Set()));
      set.add(sub);
    }
  }

  remove(sub: IndexedSubscription<C>): void {
    const q = sub.query;
    const c = this.#collections.get(q.collection);
    if (!c) return;
    const n = c.conns.get(sub.conn);
    if (n === undefined) return;
    let found: boolean;
    if (q.whole) found = c.whole.delete(sub);
    else if (q.route === undefined) found = c.rest.delete(sub);
    else {
      found = false;
      const byKey = c.pinned.get(q.route.field);
      if (byKey)
        for (const key of q.route.keys) {
          const set = byKey.get(key);
          if (set?.delete(sub)) {
            found = true;
            if (set.size === 0) byKey.delete(key);
          }
        }
      if (byKey?.size === 0) {
        c.pinned.delete(q.route.field);
        c.routes.delete(q.route.field);
      }
    }
    if (!found) return;
    this.#size--;
    if (n === 1) c.conns.delete(sub.conn);
    else c.conns.set(sub.conn, n - 1);
    if (c.conns.size === 0) this.#collections.delete(q.collection);
  }

  /**
   * For each connection that any of `events` may concern, the indices of those events. A
   * subscription is a candidate when the document's value of its pinned field, before or
   * after the change, is one it is pinned to (or when it is not pinned); a deletion is a
   * candidate for every subscriber of the collection.
   */
  candidates(events: readonly DocChangeEvent[]): Candidates<C> {
    const out: Candidates<C> = new Map();
    const add = (conn: C, i: number) => {
      const list = out.get(conn);
      if (list === undefined) out.set(conn, [i]);
      else if (list[list.length - 1] !== i) list.push(i);
    };
    for (let i = 0; i < events.length; i++) {
      const ev = events[i]!;
      const c = this.#collections.get(ev.collection);
      if (!c) continue;
      if (isTombstone(ev)) {
        for (const conn of c.conns.keys()) add(conn, i);
        continue;
      }
      for (const sub of c.whole) add(sub.conn, i);
      for (const sub of c.rest) add(sub.conn, i);
      if (c.pinned.size === 0) continue;
      const before = ev.before;
      const after = ev.after;
      for (const [field, byKey] of c.pinned) {
        const route = c.routes.get(field)!;
        const kb = before === undefined ? undefined : route.key(before);
        const ka = after === undefined ? undefined : route.key(after);
        if (kb !== undefined) for (const sub of byKey.get(kb) ?? []) add(sub.conn, i);
        if (ka !== undefined && ka !== kb) for (const sub of byKey.get(ka) ?? []) add(sub.conn, i);
      }
    }
    return out;
  }
}
