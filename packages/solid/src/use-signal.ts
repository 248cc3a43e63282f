/**
 * `useSignal(signal)`: a core signal or computed as a Solid accessor (e.g. a server source's
 * sync `status`); `useTransactions()`: the client's transactions.
 */
import type { Transaction } from '@omnisync/client';
import { effect, type ReadonlySignal } from '@omnisync/core';
import { type Accessor, createSignal, onCleanup } from 'solid-js';
import { useClient } from './context.js';

/**
 * The value of a signal, followed until the owner is cleaned up.
 * @example
 * const status = useSignal(client.server!.status); // status().online
 */
export function useSignal<T>(readable: ReadonlySignal<T>): Accessor<T> {
  const [value, setValue] = createSignal<T>(readable.peek(), { equals: Object.is });
  // The effect re-runs when the signal changes; it only hands the value over.
  const e = effect(() => {
    const v = readable.get();
    setValue(() => v);
  });
  onCleanup(() => e.stop());
  return value;
}

/** Active and recently finished transactions of the client, oldest first (seed 001 "State Exposure"). */
export function useTransactions(): Accessor<readonly Transaction[]> {
  return useSignal(useClient().transactions);
}
