/**
 * `useOmni()` (seed 000 §7): the state proxy, read on behalf of this component. The component
 * re-renders when a value it read during its last render changes — and only then: a list
 * that read ids does not re-render when one row's field changes; the row that read the field
 * does. `useOmni(node)` does the same for a node received as a prop (a document, a query).
 */
import { type OmniState, observeNode, type StateDefinition, StateObserver } from '@omnisync/client';
import { ValidationError } from '@omnisync/core';
import { useEffect, useRef, useSyncExternalStore } from 'react';
import { useOmniContext } from './context.js';
import { useIsomorphicLayoutEffect } from './use-isomorphic-layout-effect.js';

/**
 * Register your app's state once for typed `useOmni()` without a type argument:
 * `declare module '@omnisync/react' { interface Register { state: typeof appState } }`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface Register {}

/** The state type `useOmni()` returns: the registered one, or a loose record. */
export type RegisteredState = Register extends { state: StateDefinition<infer S> }
  ? OmniState<S>
  : Record<string, any>;

/** The state of the nearest provider, observed by this component. */
export function useOmni<S extends object = RegisteredState>(): S;
/** A node of the state (a document, a query, a local node) observed by this component. */
export function useOmni<T extends object>(node: T): T;
export function useOmni(node?: object): object {
  const ctx = useOmniContext('useOmni()');
  const ref = useRef<StateObserver | null>(null);
  if (ref.current === null) ref.current = new StateObserver();
  const observer = ref.current;
  useSyncExternalStore(observer.subscribe, observer.getVersion, observer.getVersion);
  // Reads from here until the commit are this render's dependencies (children that read a
  // node they got from this component count too, unless they observe it themselves).
  observer.begin();
  useIsomorphicLayoutEffect(() => {
    observer.end();
  });
  useEffect(() => () => observer.dispose(), [observer]);
  const target = node ?? ctx.state;
  if (target === undefined)
    throw new ValidationError(
      'useOmni(): the provider has no state; pass state={appState} to <OmniSyncProvider>.',
    );
  return observeNode(target, observer);
}
