/**
 * Group commit: pushes of one app that queue behind its write lock are committed together,
 * in one storage transaction, by the first of them to get the lock. Under load that turns
 * N commits (N fsyncs with `durability: 'full'`) into one, while an idle server still
 * commits each push alone at once. Each push keeps its own results, its own versions (in
 * arrival order) and its own fan-out, in commit order.
 *
 * A push that throws inside a group rolls the whole transaction back; the group is then
 * committed again one push at a time, so only the push at fault fails (the same answer it
 * would have had alone; nothing of the group was kept by the failed attempt).
 */
import type { Mutex } from '../util/mutex.js';

interface Entry<T, R> {
  readonly item: T;
  done: boolean;
  result?: R;
  error?: unknown;
}

/** The group committer of one app's write lock. */
export class GroupCommit<T, R> {
  readonly #lock: Mutex;
  readonly #commit: (items: readonly T[]) => Promise<R[]>;
  readonly #max: number;
  readonly #queue: Entry<T, R>[] = [];

  /**
   * @param commit commits the items in one transaction, returning their results in order
   *   (called with one item when a push is alone or when a group is retried one by one).
   * @param max most pushes in one group.
   */
  constructor(lock: Mutex, commit: (items: readonly T[]) => Promise<R[]>, max = 64) {
    this.#lock = lock;
    this.#commit = commit;
    this.#max = max;
  }

  /** Commit `item` (alone or with the pushes waiting beside it); its result. */
  async run(item: T): Promise<R> {
    const entry: Entry<T, R> = { item, done: false };
    this.#queue.push(entry);
    await this.#lock.run(async () => {
      if (entry.done) return;
      // A synchronous storage (better-sqlite3) never yields inside a commit, so nothing would
      // queue behind it: the leader lets the I/O of this turn of the event loop (the other
      // sockets' pushes already read) join the group first. One turn, not a timer.
      if (this.#queue.length < this.#max) await nextTurn();
      // FIFO lock: every entry queued before this one was taken by an earlier holder, so an
      // entry not done yet is at the head of the queue.
      await this.#commitGroup(this.#queue.splice(0, this.#max));
    });
    if ('error' in entry) throw entry.error;
    return entry.result as R;
  }

  async #commitGroup(group: Entry<T, R>[]): Promise<void> {
    if (group.length > 1) {
      try {
        const results = await this.#commit(group.map((e) => e.item));
        group.forEach((e, i) => settle(e, results[i] as R));
        return;
      } catch {
        // One of them is at fault: the transaction is rolled back; each goes alone below.
      }
    }
    for (const e of group) {
      try {
        settle(e, (await this.#commit([e.item]))[0] as R);
      } catch (err) {
        e.error = err;
        e.done = true;
      }
    }
  }
}

/** Resolve after the pending I/O callbacks of this event-loop turn (setImmediate where it exists). */
const nextTurn = (): Promise<void> =>
  new Promise((resolve) =>
    typeof setImmediate === 'function' ? setImmediate(resolve) : setTimeout(resolve, 0),
  );

function settle<T, R>(e: Entry<T, R>, result: R): void {
  e.result = result;
  e.done = true;
}
