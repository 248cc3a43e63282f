/**
 * `useSignal(readable)`: the value of a core signal or computed, re-rendering when it
 * changes. The value is the signal's own (a stable snapshot: the same object until it changes).
 */
import { effect, type ReadonlySignal, untracked } from '@omnisync/core';
import { useCallback, useSyncExternalStore } from 'react';

/** @internal Listen to a readable signal; returns unsubscribe. */
export function subscribeSignal(readable: ReadonlySignal<unknown>, listener: () => void): () => void {
  let first = true;
  const e = effect(() => {
    readable.get();
    if (!first) untracked(listener);
  });
  first = false;
  return () => e.stop();
}

/** The current value of a signal or computed; the component re-renders when it changes. */
export function useSignal<T>(readable: ReadonlySignal<T>): T {
  const subscribe = useCallback((l: () => void) => subscribeSignal(readable, l), [readable]);
  const get = () => readable.peek();
  return useSyncExternalStore(subscribe, get, get);
}
