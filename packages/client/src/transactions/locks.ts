/**
 * Locks of the ordered strategy (seed 001). A document is *locked* while a transaction that
 * writes it is persisting or persisted-awaiting-sync; a later ordered write to it queues
 * behind the earlier one, and sync updates to it are held until the lock is released.
 */
import type { Transaction } from './transaction.js';
import { entityKey } from '../types.js';

/**
 * Seed 001's helper: the documents locked by these transactions, as `collection/id` keys
 * (seed 001 used the bare id; with many collections an id alone is ambiguous).
 */
export function getLockedObjects(transactions: readonly Transaction[]): Set<string> {
  return new Set(
    transactions
      .filter((t) => t.state === 'persisting' || t.state === 'persisted_awaiting_sync')
      .flatMap((t) => t.mutations)
      .map((m) => entityKey(m.collection, m.modified.id as string)),
  );
}

/**
 * @internal The lock table of one client: per document, the last unfinished ordered
 * transaction that writes it (the one a new write queues behind), and how many transactions
 * hold it in a locked state (for holding sync updates).
 */
export class LockTable {
  readonly #last = new Map<string, Map<string, Transaction>>();
  readonly #held = new Map<string, Map<string, number>>();

  /** Register `tx` as the newest writer of its documents; returns the transactions it must wait for. */
  acquire(tx: Transaction): Set<Transaction> {
    const blockers = new Set<Transaction>();
    const recs = tx.records;
    let coll: string | undefined;
    let map: Map<string, Transaction> | undefined;
    for (let i = 0; i < recs.length; i++) {
      const m = recs[i]!;
      if (m.collection !== coll) {
        coll = m.collection;
        map = this.#last.get(coll);
        if (!map) this.#last.set(coll, (map = new Map()));
      }
      const prev = map!.get(m.key);
      if (prev !== undefined && prev !== tx && !prev.finished) blockers.add(prev);
      map!.set(m.key, tx);
    }
    return blockers;
  }

  /** Forget `tx` as the newest writer where it still is. */
  release(tx: Transaction): void {
    const recs = tx.records;
    let coll: string | undefined;
    let map: Map<string, Transaction> | undefined;
    for (let i = 0; i < recs.length; i++) {
      const m = recs[i]!;
      if (m.collection !== coll) {
        coll = m.collection;
        map = this.#last.get(coll);
      }
      if (map !== undefined && map.get(m.key) === tx) map.delete(m.key);
    }
  }

  /** `tx` entered a locked state (persisting): its documents hold sync updates. */
  hold(tx: Transaction): void {
    for (const m of tx.records) {
      let map = this.#held.get(m.collection);
      if (!map) this.#held.set(m.collection, (map = new Map()));
      map.set(m.key, (map.get(m.key) ?? 0) + 1);
    }
  }

  /** `tx` left the locked states; returns the documents no longer locked by anyone. */
  unhold(tx: Transaction): { collection: string; id: string }[] {
    const freed: { collection: string; id: string }[] = [];
    for (const m of tx.records) {
      const map = this.#held.get(m.collection);
      const n = map?.get(m.key);
      if (map === undefined || n === undefined) continue;
      if (n <= 1) {
        map.delete(m.key);
        freed.push({ collection: m.collection, id: m.key });
      } else map.set(m.key, n - 1);
    }
    return freed;
  }

  /** Is this document locked (sync updates to it must wait)? */
  isHeld(collection: string, id: string): boolean {
    const map = this.#held.get(collection);
    return map !== undefined && map.size > 0 && map.has(id);
  }

  /** Is any document of this collection locked? (A cheap pre-check for sync batches.) */
  anyHeld(collection: string): boolean {
    const map = this.#held.get(collection);
    return map !== undefined && map.size > 0;
  }
}
