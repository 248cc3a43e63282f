/**
 * `signalStore(signal)`: a core signal or computed as a Svelte store (e.g. a server source's
 * sync `status`); `transactionsStore()`: the client's transactions.
 */
import type { Client, Transaction } from '@omnisync/client';
import { effect, type ReadonlySignal } from '@omnisync/core';
import { readable } from 'svelte/store';
import { getOmniContext } from './context.js';
import { type OmniReadable, withCurrent } from './readable.js';

/**
 * The value of a signal, followed while the store has subscribers.
 * @example
 * const status = signalStore(client.server!.status); // {$status.online ? 'online' : 'offline'}
 */
export function signalStore<T>(readable_: ReadonlySignal<T>): OmniReadable<T> {
  return withCurrent(
    readable(readable_.peek(), (set) => {
      // The effect re-runs when the signal changes; it only hands the value over.
      const e = effect(() => set(readable_.get()));
      return () => e.stop();
    }),
  );
}

/** Active and recently finished transactions of the client, oldest first (seed 001 "State Exposure"). */
export function transactionsStore(client?: Client): OmniReadable<readonly Transaction[]> {
  return signalStore((client ?? getOmniContext('transactionsStore()').client).transactions);
}
