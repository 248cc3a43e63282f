/**
 * A FIFO async mutex: one holder at a time, waiters served in arrival order. Used to
 * serialize write transactions per app (SQLite has one writer; fan-out must follow commit
 * order) and to let shutdown wait for in-flight commits.
 */
export class Mutex {
  #tail: Promise<void> = Promise.resolve();
  #held = 0;

  /** Run `fn` while holding the lock; the lock is released however `fn` ends. */
  run<T>(fn: () => T | Promise<T>): Promise<T> {
    this.#held++;
    const result = this.#tail.then(fn);
    this.#tail = result.then(
      () => void this.#held--,
      () => void this.#held--,
    );
    return result;
  }

  /** True while a holder or a waiter exists. */
  get busy(): boolean {
    return this.#held > 0;
  }

  /** Resolves once every holder and waiter queued so far has finished. */
  idle(): Promise<void> {
    return this.#tail;
  }
}
