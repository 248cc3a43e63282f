/**
 * Write strategies (seed 000 §8). An assignment to the state is an optimistic write at once;
 * inside `Omni.write(fn, options)` the assignments of `fn` are gathered and sent as one
 * transaction per client, with the options given — `{ optimistic: false }` for a pessimistic
 * write whose result shows only once the backend confirmed it.
 */
import { toError, ValidationError } from '@omnisync/core';
import type { Transaction } from '../transactions/transaction.js';
import type { StateHost } from './context.js';

/** Options of {@link Omni.write}. */
export interface OmniWriteOptions {
  /** `false`: nothing changes on screen until the backend confirms (default true). */
  readonly optimistic?: boolean;
}

interface WriteScope {
  readonly options: OmniWriteOptions;
  readonly writes: Map<StateHost, (() => void)[]>;
}

let scope: WriteScope | undefined;

/**
 * @internal Perform one collection write of the state: at once, or gathered by the
 * enclosing `Omni.write`. Local state writes do not come here: they apply at once.
 */
export function performWrite(host: StateHost, write: () => void): void {
  if (scope === undefined) {
    write();
    return;
  }
  let list = scope.writes.get(host);
  if (list === undefined) scope.writes.set(host, (list = []));
  list.push(write);
}

/** The transaction context of seed 000 §8. */
export const Omni = {
  /**
   * Run `fn`, sending the state writes it makes as one transaction per client. Resolves
   * with those transactions once all of them completed; rejects with the first failure
   * (a failed transaction is rolled back, so the screen shows the confirmed state).
   *
   * The writes leave when `fn` returns, so inside `fn` reads do not see them yet: write
   * from values you already hold. `fn` must be synchronous (a promise it returns is refused).
   * @example
   * await Omni.write(() => { todo.title = 'New title'; }, { optimistic: false });
   */
  async write(fn: () => void, options: OmniWriteOptions = {}): Promise<readonly Transaction[]> {
    if (scope !== undefined)
      throw new ValidationError(
        'Omni.write() cannot be nested: put all the writes in the outer Omni.write().',
      );
    const mine: WriteScope = { options, writes: new Map() };
    scope = mine;
    let returned: unknown;
    try {
      returned = fn();
    } finally {
      scope = undefined;
    }
    if (returned !== undefined && typeof (returned as { then?: unknown })?.then === 'function')
      throw new ValidationError(
        'Omni.write(fn): fn returned a promise; it must be synchronous (await what you need before, then write inside).',
      );
    const txs: Transaction[] = [];
    for (const [host, writes] of mine.writes) {
      txs.push(
        host.transaction(
          () => {
            for (const w of writes) w();
          },
          options.optimistic === false ? { optimistic: false } : {},
        ),
      );
    }
    try {
      await Promise.all(txs.map((t) => t.promise));
    } catch (e) {
      throw toError(e);
    }
    return txs;
  },
} as const;
