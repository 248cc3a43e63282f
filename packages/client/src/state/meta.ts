/**
 * The meta side-channel (seed 000 §2.2): loading state, errors and dirtiness of a state node
 * live behind a symbol, so data objects stay exactly the app's data.
 */
import { ValidationError } from '@omnisync/core';

/** The symbol under which every state node exposes its {@link MetaState}. */
export const META: unique symbol = Symbol.for('OmniSyncMeta') as never;

/** What a state node (a query, a document, a local node) says about itself (seed 000). */
export interface MetaState {
  /** `loading` until its data first arrived; `error` when fetching or syncing it failed. */
  readonly status: 'idle' | 'loading' | 'error' | 'ready';
  readonly error: Error | null;
  /** When the node's data last changed, in ms since the epoch (0: never). */
  readonly lastUpdated: number;
  /** True while an optimistic write to it has not been confirmed. */
  readonly isDirty: boolean;
}

/**
 * The {@link MetaState} of a state node: `meta(state.todos.where({ completed: false }))`,
 * `meta(todo)`, `meta(state.ui)`. Reading it inside a render subscribes the component to it.
 * @example
 * const open = state.todos.where({ completed: false });
 * if (meta(open).status === 'error') return <p>{meta(open).error!.message}</p>;
 */
export function meta(node: unknown): MetaState {
  const m =
    node !== null && (typeof node === 'object' || typeof node === 'function')
      ? (node as { [META]?: MetaState })[META]
      : undefined;
  if (m === undefined)
    throw new ValidationError(
      'meta() takes a node of the OmniSync state (state.todos, a query of it, one of its documents, a local node); got a plain value. Pass the node itself, not a field read from it.',
    );
  return m;
}
