/**
 * The state API of seed 000: `defineState`, the state proxy (`createState`), `META` and
 * `meta()`, `Omni.write`, backend bindings, and the observer UI adapters sit on.
 */
export { defineState } from './define-state.js';
export type {
  DocOfSpec,
  LocalOptions,
  OmniState,
  StateDefinition,
  StateOf,
  StateSpec,
  SyncedOptions,
  SyncedSpec,
} from './define-state.js';
export type { CollectionNode, Entity, LocalNode, QueryNode } from './node-types.js';
export { createState } from './create-state.js';
export { META, meta } from './meta.js';
export type { MetaState } from './meta.js';
export { Omni } from './omni-write.js';
export type { OmniWriteOptions } from './omni-write.js';
export { StateObserver } from './observer.js';
export type { ObservedRead } from './observer.js';
export { isStateNode, observeNode } from './state-runtime.js';
export { liveQuery, queryEngineOf } from './live.js';
export { dehydrate, hydrate } from './hydration.js';
export type { DehydratedState } from './hydration.js';
export { resolveHeaders } from '../sources/bindings/binding.js';
export type {
  BackendBinding,
  HeadersOption,
  MutationRequest,
  QueryOptions,
  QueryRequest,
  UnsubscribeFn,
} from '../sources/bindings/binding.js';
export { toQueryOptions } from '../sources/bindings/binding-source.js';
export { SQLBinding } from '../sources/bindings/sql-binding.js';
export type { SQLBindingOptions } from '../sources/bindings/sql-binding.js';
export type { HttpBindingOptions } from '../sources/bindings/http-binding.js';
