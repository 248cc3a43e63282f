/**
 * `useOmni(read)` (seed 000 §7 in Solid): what `read` takes from the state proxy, as an
 * accessor. Solid has no re-render to record, so `read` runs between a client
 * `StateObserver`'s `begin()` and `end()` and runs again when one of the values it read
 * changed — and only then: an accessor that read a list's ids does not re-run when a field of
 * one row changes; a row's own `useOmni(row, (t) => t.title)` does.
 */
import { type OmniState, observeNode, type StateDefinition, StateObserver } from '@omnisync/client';
import { ValidationError } from '@omnisync/core';
import { type Accessor, createSignal, onCleanup } from 'solid-js';
import { useOmniContext } from './context.js';

/**
 * Register your app's state once for typed `useOmni(read)`:
 * `declare module '@omnisync/solid' { interface Register { state: typeof appState } }`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface Register {}

/** The state type `useOmni(read)` hands to `read`: the registered one, or a loose record. */
export type RegisteredState = Register extends { state: StateDefinition<infer S> }
  ? OmniState<S>
  : Record<string, any>;

/** What `read` returns from the provider's state. */
export function useOmni<R, S extends object = RegisteredState>(read: (state: S) => R): Accessor<R>;
/** What `read` returns from a node of the state (a document, a query, a local node, e.g. a prop). */
export function useOmni<T extends object, R>(node: T, read: (node: T) => R): Accessor<R>;
export function useOmni(a: unknown, b?: (node: any) => unknown): Accessor<unknown> {
  const read = (b ?? a) as (node: object) => unknown;
  const target = (b === undefined ? useOmniContext('useOmni()').state : a) as object | undefined;
  if (target === undefined)
    throw new ValidationError(
      'useOmni(read): the provider has no state; pass state={appState} to <OmniSyncProvider>.',
    );
  const observer = new StateObserver();
  const node = observeNode(target, observer);
  const run = (): unknown => {
    observer.begin();
    try {
      return read(node);
    } finally {
      observer.end();
    }
  };
  // Re-run only on the observer's word: every run is a change.
  const [value, setValue] = createSignal<unknown>(run(), { equals: false });
  const off = observer.subscribe(() => setValue(() => run()));
  onCleanup(() => {
    off();
    observer.dispose();
  });
  return value;
}
