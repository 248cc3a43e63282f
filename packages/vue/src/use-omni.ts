/**
 * `useOmni()` (seed 000 §7) in Vue: the state proxy, read on behalf of this component. What
 * its render reads is recorded by a client `StateObserver` (from `onBeforeMount` /
 * `onBeforeUpdate` to `onMounted` / `onUpdated`), and the component re-renders when one of
 * those values changes — and only then: a list that read ids does not re-render when a field
 * of one row changes; the row that read the field (through `useOmni(row)`) does.
 */
import { type OmniState, observeNode, type StateDefinition, StateObserver } from '@omnisync/client';
import { ValidationError } from '@omnisync/core';
import {
  getCurrentInstance,
  onBeforeMount,
  onBeforeUnmount,
  onBeforeUpdate,
  onMounted,
  onUpdated,
} from 'vue';
import { useOmniContext } from './context.js';

/**
 * Register your app's state once for typed `useOmni()` without a type argument:
 * `declare module '@omnisync/vue' { interface Register { state: typeof appState } }`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface Register {}

/** The state type `useOmni()` returns: the registered one, or a loose record. */
export type RegisteredState = Register extends { state: StateDefinition<infer S> }
  ? OmniState<S>
  : Record<string, any>;

/** The provided state, observed by this component's render. */
export function useOmni<S extends object = RegisteredState>(): S;
/** A node of the state (a document, a query, a local node, e.g. a prop), observed by this component. */
export function useOmni<T extends object>(node: T): T;
export function useOmni(node?: object): object {
  const ctx = useOmniContext('useOmni()');
  const instance = getCurrentInstance();
  if (instance === null) throw new ValidationError('useOmni() must be called in setup().');
  const observer = new StateObserver();
  const off = observer.subscribe(() => instance.proxy?.$forceUpdate());
  // Reads between these hooks are the render's (children that read a node they got from
  // this component count too, unless they observe it themselves).
  onBeforeMount(() => observer.begin());
  onBeforeUpdate(() => observer.begin());
  onMounted(() => observer.end());
  onUpdated(() => observer.end());
  onBeforeUnmount(() => {
    off();
    observer.dispose();
  });
  const target = node ?? ctx.state;
  if (target === undefined)
    throw new ValidationError(
      'useOmni(): no state was provided; pass { state: appState } to provideOmniSync / createOmniSync.',
    );
  return observeNode(target, observer);
}
