/**
 * `useSignal(readable)`: a core signal or computed as a read-only Vue ref (e.g. a server
 * source's `status`); stops listening when the component's scope ends.
 */
import { effect, type ReadonlySignal } from '@omnisync/core';
import { onScopeDispose, type Ref, shallowRef } from 'vue';

/**
 * The value of a signal as a ref, following it while the calling component lives.
 * @example
 * const status = useSignal(client.server!.status); // status.value.online
 */
export function useSignal<T>(readable: ReadonlySignal<T>): Readonly<Ref<T>> {
  const ref = shallowRef(readable.peek());
  // The effect re-runs when the signal changes; it only copies the value over.
  const e = effect(() => {
    ref.value = readable.get();
  });
  onScopeDispose(() => e.stop());
  return ref;
}
