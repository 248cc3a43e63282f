/** `useTransactions()` (seed 001 "State Exposure"): every active and kept transaction, as a ref. */
import type { Transaction } from '@omnisync/client';
import type { Ref } from 'vue';
import { useClient } from './context.js';
import { useSignal } from './use-signal.js';

/**
 * Active and recently finished transactions of the client, oldest first.
 * @example
 * const txs = useTransactions();
 * const pending = computed(() => txs.value.filter((t) => t.state === 'pending').length);
 */
export function useTransactions(): Readonly<Ref<readonly Transaction[]>> {
  return useSignal(useClient().transactions);
}
