/**
 * The open/closed state every persistence shares: after `close()` every call rejects with
 * {@link InvalidStateError}, and operations that must not interleave run one at a time in
 * call order.
 */
import { InvalidStateError } from '@omnisync/core';

/** Tracks closing and serialises operations for one persistence. */
export class Lifecycle {
  readonly #label: string;
  #closed = false;
  #tail: Promise<unknown> = Promise.resolve();

  constructor(label: string) {
    this.#label = label;
  }

  /** True once `close()` has been called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Throw {@link InvalidStateError} when closed. Call first thing in every public method. */
  guard(operation: string): void {
    if (this.#closed)
      throw new InvalidStateError(
        `${operation}() on persistence ${this.#label} after close(); open a new persistence to read or write this store again.`,
        { details: { persistence: this.#label, operation } },
      );
  }

  /**
   * Run `fn` after every operation queued before it has settled (a failed one does not
   * block the ones after it), so writes land in the order they were called.
   */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#tail.then(fn, fn);
    this.#tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * Mark closed at once (so calls made from now on are refused) and run `release` after
   * every operation already queued has settled. Rejects with {@link InvalidStateError}
   * when already closed.
   */
  async close(release: () => Promise<void>): Promise<void> {
    this.guard('close');
    this.#closed = true;
    return this.serial(release);
  }
}
