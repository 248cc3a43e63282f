/** `useTransactions()` (seed 001 "State Exposure"): every active and kept transaction. */
import type { Transaction } from '@omnisync/client';
import { useClient } from './context.js';
import { useSignal } from './use-signal.js';

/**
 * Active and recently finished transactions of the client, oldest first; re-renders when
 * one is added, changes state, or is dropped from the history.
 * @example
 * const pending = useTransactions().filter((t) => t.state !== 'completed' && t.state !== 'failed');
 */
export function useTransactions(): readonly Transaction[] {
  return useSignal(useClient().transactions);
}
