/**
 * Named mutations (seed 002 `mutate(name, args)`), defined once and run in two places: on the
 * client optimistically, on the server authoritatively (whose cells win and flow back). A
 * mutator reads and writes documents through a {@link MutatorTx}; it rejects a call by
 * throwing {@link MutationRejectedError} (or calling `tx.reject`), which reaches the client's
 * transaction as a `NonRetriableError` and rolls it back.
 */
import type { JsonValue } from '../cells.js';
import type { Principal } from '../rules/define-rules.js';

/** The transaction a mutator runs in. Writes become visible to later reads of the same tx. */
export interface MutatorTx {
  /** The pushing client. */
  readonly clientId: string;
  /** The mutation's id (unique per client). */
  readonly mutationId: string;
  /** The authenticated user (the token's `sub`), when the server knows one. */
  readonly userId: string | undefined;
  /**
   * The authenticated principal (every claim of the token, `sub` included) when run by the
   * server; the server checks the mutator's writes against the permission rules with it.
   */
  readonly principal?: Principal;
  /** `'server'` when run authoritatively, `'client'` when optimistic. */
  readonly location: 'server' | 'client';
  /** A visible document, or undefined when it does not exist or was deleted. */
  get(collection: string, id: string): Promise<Readonly<Record<string, unknown>> | undefined>;
  /** Set fields of a document (nested objects merge by path); creates it when missing. */
  set(collection: string, id: string, patch: Readonly<Record<string, unknown>>): Promise<void>;
  /** Delete a document (delete wins over every concurrent write). */
  delete(collection: string, id: string): Promise<void>;
  /** Refuse this mutation with a reason for the user; nothing of it applies. Write `return tx.reject(…)` so TypeScript narrows after it. */
  reject(reason: string): never;
}

/** One mutator: validates `args`, reads, writes. */
export type Mutator<A = JsonValue | undefined> = (tx: MutatorTx, args: A) => void | Promise<void>;

/** A set of named mutators. */
export type Mutators = Readonly<Record<string, Mutator<any>>>;

/**
 * Declare named mutators (an identity function that keeps their types).
 * @example
 * export const mutators = defineMutators({
 *   async toggle(tx, args: { id: string }) {
 *     const todo = await tx.get('todos', args.id);
 *     if (!todo) return tx.reject(`todo ${args.id} does not exist`);
 *     await tx.set('todos', args.id, { done: !todo.done });
 *   },
 * });
 */
export function defineMutators<M extends Mutators>(mutators: M): M {
  return mutators;
}
