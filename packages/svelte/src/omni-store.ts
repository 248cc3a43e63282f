/**
 * `omniStore(read)` (seed 000 §7 in Svelte): what `read` takes from the state proxy, as a
 * store. Svelte has no re-render to record, so the store runs `read` between a client
 * `StateObserver`'s `begin()` and `end()` and runs it again when one of the values it read
 * changed — and only then: a store that read a list's ids does not re-run when a field of
 * one row changes; a row's own `omniStore(row, (t) => t.title)` does.
 */
import { type OmniState, observeNode, type StateDefinition, StateObserver } from '@omnisync/client';
import { ValidationError } from '@omnisync/core';
import { readable } from 'svelte/store';
import { getOmniContext } from './context.js';
import { type OmniReadable, withCurrent } from './readable.js';

/**
 * Register your app's state once for typed `omniStore(read)`:
 * `declare module '@omnisync/svelte' { interface Register { state: typeof appState } }`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface Register {}

/** The state type `omniStore(read)` hands to `read`: the registered one, or a loose record. */
export type RegisteredState = Register extends { state: StateDefinition<infer S> }
  ? OmniState<S>
  : Record<string, any>;

/** What `read` returns from the state set by `setOmniSync(client, { state })`. */
export function omniStore<R, S extends object = RegisteredState>(read: (state: S) => R): OmniReadable<R>;
/** What `read` returns from a node of the state (a document, a query, a local node). */
export function omniStore<T extends object, R>(node: T, read: (node: T) => R): OmniReadable<R>;
export function omniStore(a: unknown, b?: (node: any) => unknown): OmniReadable<unknown> {
  const read = (b ?? a) as (node: object) => unknown;
  const target = (b === undefined ? getOmniContext('omniStore()').state : a) as object | undefined;
  if (target === undefined)
    throw new ValidationError('omniStore(read): no state was set; pass { state: appState } to setOmniSync.');
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
  return withCurrent(
    readable<unknown>(undefined, (set) => {
      const off = observer.subscribe(() => set(run()));
      set(run());
      return () => {
        off();
        observer.dispose();
      };
    }),
  );
}
