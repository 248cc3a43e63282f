/**
 * `client.mutate(name, args)`: a named mutation (seed 002; DESIGN.md decision 5). The
 * mutator runs here first, optimistically, against what this client shows; its writes
 * become one transaction, visible at once and queued in the outbox with the name and args.
 * The server runs the same mutator again, authoritatively: its cells, not ours, are what
 * stays, and they come back by sync like any other change (the transaction completes when
 * they are here; our optimistic cells are then dropped, never confirmed).
 *
 *     mutate(name, args) ─► mutator(clientTx, args) ── reads: visible state + its own writes
 *          │ returns the Transaction at once          writes: staged
 *          ▼ (mutator done)
 *     one transaction: the staged writes through the collections (overlay, outbox + name/args)
 *          ▼
 *     push {id, name, args, changes} ─► server re-runs the mutator ─► applied / rejected
 *          ▼ applied: pull to the push's cursor            ▼ rejected: NonRetriableError, rolled back
 *     overlay dropped; the server's cells show
 *
 * A mutator that throws (or calls `tx.reject`) on the client fails the transaction with that
 * error: nothing shows, nothing is pushed. Collections served by a backend that does not run
 * mutators (local-only, sync + mutationFn) get the writes as plain changes: the client's run
 * is then the only one.
 */
import {
  flattenDocument,
  ID_FIELD,
  InvalidStateError,
  isValidCollectionName,
  inexactKeyReason,
  isExactKey,
  isValidId,
  type JsonValue,
  MutationRejectedError,
  type Mutator,
  type Mutators,
  type MutatorTx,
  NotFoundError,
  toError,
  untracked,
  ValidationError,
} from '@omnisync/core';
import type { Collection } from '../collection/collection.js';
import type { Source } from '../sources/types.js';
import type { ClientStore } from '../store/client-store.js';
import { applyData, cloneDeep } from '../store/doc-ops.js';
import type { TransactionEngine } from '../transactions/engine.js';
import type { Transaction } from '../transactions/transaction.js';
import type { Doc } from '../types.js';
import { toJsonArgs } from './mutator-args.js';

/** The args of a mutator (its second parameter). */
export type MutatorArgs<F> = F extends (tx: MutatorTx, args: infer A) => unknown ? A : undefined;

/** What `mutate(name, …)` takes after the name: optional when the mutator's args may be undefined. */
export type MutateArgs<F> =
  undefined extends MutatorArgs<F> ? [args?: MutatorArgs<F>] : [args: MutatorArgs<F>];

/** @internal What a named mutation needs from its client. */
export interface MutateHost {
  readonly store: ClientStore;
  readonly engine: TransactionEngine;
  /** The id the server knows this client by (the push client id). */
  pushClientId(): string;
  getCollection(id: string): Collection<any> | undefined;
  /** Where a mutation that wrote nothing here still goes (the client's server source). */
  readonly mutatorSource: Source | undefined;
}

type Op =
  | {
      readonly kind: 'set';
      readonly collection: string;
      readonly id: string;
      readonly patch: Record<string, unknown>;
    }
  | { readonly kind: 'delete'; readonly collection: string; readonly id: string };

const noop = () => {};
const key = (collection: string, id: string) => `${collection}\u0000${id}`;

/** Throws unless `mutators` is a record of functions (the `mutators` option of createClient). */
export function checkMutators(mutators: unknown): Mutators | undefined {
  if (mutators === undefined) return undefined;
  if (typeof mutators !== 'object' || mutators === null || Array.isArray(mutators))
    throw new ValidationError(
      'createClient({ mutators }): expected the object defineMutators({...}) returns (the one the server uses).',
    );
  for (const [name, fn] of Object.entries(mutators))
    if (typeof fn !== 'function')
      throw new ValidationError(
        `createClient({ mutators }): mutator ${JSON.stringify(name)} is ${typeof fn}, not a function.`,
        { details: { mutator: name } },
      );
  return mutators as Mutators;
}

/**
 * Start a named mutation; returns its transaction at once. Throws, writing nothing, when the
 * name is unknown (NotFoundError), the args are not JSON (InvalidValueError), or it is called
 * inside `client.transaction(fn)` (InvalidStateError).
 */
export function mutate(
  host: MutateHost,
  mutators: Mutators | undefined,
  name: string,
  args: unknown,
): Transaction {
  if (typeof name !== 'string' || mutators === undefined || !Object.hasOwn(mutators, name))
    throw new NotFoundError(
      mutators === undefined
        ? `mutate(${JSON.stringify(name)}): this client has no mutators; pass the server's defineMutators({...}) object as createClient({ mutators }).`
        : `mutate(${JSON.stringify(name)}): no such mutator; this client defines ${
            Object.keys(mutators)
              .map((n) => JSON.stringify(n))
              .join(', ') || 'none'
          }.`,
      { details: { mutator: String(name) } },
    );
  const mutator = mutators[name] as Mutator<any>;
  if (host.engine.ambient !== undefined)
    throw new InvalidStateError(
      `mutate(${JSON.stringify(name)}) was called inside client.transaction(fn): a named mutation is a transaction of its own (the server re-runs it whole); call it outside.`,
    );
  const json = toJsonArgs(name, args);
  const tx = host.engine.create({});
  const run = new ClientRun(host, name, tx);
  const fail = (e: unknown) => {
    run.close();
    const error =
      e instanceof Error
        ? e
        : new MutationRejectedError(typeof e === 'string' ? e : String(toError(e).message));
    // The engine fails a transaction whose collecting function throws; nothing was written yet.
    try {
      host.engine.run(
        () => {
          throw error;
        },
        {},
        tx,
      );
    } catch {
      // tx.promise rejects with it
    }
  };
  const finish = () => {
    run.close();
    if (run.failure !== undefined) return fail(run.failure);
    try {
      untracked(() => host.engine.run((t) => run.apply(t, json), {}, tx));
    } catch {
      // The engine failed the transaction (tx.error, tx.promise) and rolled its writes back.
    }
  };
  let result: unknown;
  try {
    result = untracked(() => mutator(run.tx, json));
  } catch (e) {
    fail(e);
    return tx;
  }
  if (
    result !== null &&
    typeof result === 'object' &&
    typeof (result as PromiseLike<unknown>).then === 'function'
  )
    (result as PromiseLike<unknown>).then(finish, fail);
  else finish();
  return tx;
}

/** One client-side run of a mutator: reads see the visible state plus its own staged writes. */
class ClientRun {
  readonly tx: MutatorTx;
  readonly #host: MutateHost;
  readonly #name: string;
  readonly #ops: Op[] = [];
  /** Documents as this run left them (null: deleted by it). */
  readonly #staged = new Map<string, Doc | null>();
  #closed = false;
  /** The first write this run refused (it fails the mutation even if the mutator went on). */
  failure: unknown;

  constructor(host: MutateHost, name: string, transaction: Transaction) {
    this.#host = host;
    this.#name = name;
    this.tx = {
      clientId: host.pushClientId(),
      mutationId: transaction.id,
      userId: undefined,
      location: 'client',
      get: (collection, id) => this.#call(() => this.#get(collection, id)),
      set: (collection, id, patch) => this.#call(() => this.#set(collection, id, patch)),
      delete: (collection, id) => this.#call(() => this.#delete(collection, id)),
      reject(reason: string): never {
        throw new MutationRejectedError(reason);
      },
    };
  }

  close(): void {
    this.#closed = true;
  }

  /** Run a tx call; a refused write also fails the whole mutation (awaited or not). */
  #call<T>(fn: () => T): Promise<T> {
    if (this.#closed)
      return Promise.reject(
        new InvalidStateError(
          `Mutator ${JSON.stringify(this.#name)} used its tx after it finished; await every tx call inside the mutator.`,
        ),
      );
    try {
      return Promise.resolve(fn());
    } catch (e) {
      this.failure ??= e;
      const p = Promise.reject(e as Error);
      p.catch(noop); // the mutation fails with it whether or not the mutator awaited this call
      return p;
    }
  }

  #check(collection: string, id: string): void {
    if (!isValidCollectionName(collection))
      throw new ValidationError(
        `Mutator ${JSON.stringify(this.#name)}: collection ${JSON.stringify(collection)} is not a valid name.`,
        { details: { mutator: this.#name } },
      );
    if (!isValidId(id))
      throw new ValidationError(
        `Mutator ${JSON.stringify(this.#name)}: document id ${JSON.stringify(id)} is not valid (a non-empty string of at most 512 characters).`,
        { details: { mutator: this.#name, collection } },
      );
    if (!isExactKey(id))
      throw new ValidationError(
        `Mutator ${JSON.stringify(this.#name)}: document id ${JSON.stringify(id)} ${inexactKeyReason(id)}.`,
        { details: { mutator: this.#name, collection } },
      );
  }

  /** The document as this run sees it: staged by it, else visible; undefined when missing or deleted. */
  #current(collection: string, id: string): Doc | null | undefined {
    const k = key(collection, id);
    if (this.#staged.has(k)) return this.#staged.get(k);
    return this.#host.store.get(collection, id);
  }

  #get(collection: string, id: string): Readonly<Record<string, unknown>> | undefined {
    this.#check(collection, id);
    const doc = this.#current(collection, id);
    return doc == null ? undefined : (cloneDeep(doc) as Record<string, unknown>);
  }

  #set(collection: string, id: string, patch: Readonly<Record<string, unknown>>): void {
    this.#check(collection, id);
    if (typeof patch !== 'object' || patch === null || Array.isArray(patch))
      throw new ValidationError(
        `Mutator ${JSON.stringify(this.#name)}: set(${collection}, ${id}) needs a patch object.`,
        { details: { mutator: this.#name, collection, id } },
      );
    if (Object.hasOwn(patch, ID_FIELD) && patch[ID_FIELD] !== id)
      throw new ValidationError(
        `Mutator ${JSON.stringify(this.#name)}: set(${collection}, ${id}) got a patch with a different id.`,
        { details: { mutator: this.#name, collection, id } },
      );
    const col = this.#collection(collection);
    const refMany = col.def && col.def.refMany.size > 0 ? col.def.refMany : undefined;
    // Checked now (InvalidValueError), so a bad value fails the run where it was written.
    const pairs = flattenDocument(patch as Record<string, unknown>, refMany ? { refMany } : {});
    const copy = cloneDeep(patch) as Record<string, unknown>;
    this.#ops.push({ kind: 'set', collection, id, patch: copy });
    const cur = this.#current(collection, id);
    // Deleted (by this run, or a tombstone / pending delete): delete wins, the write shows nothing.
    if (cur === null || (cur === undefined && this.#host.store.idState(collection, id) !== 'free')) return;
    const data: unknown[] = [];
    for (const [f, v] of pairs) data.push(f, v);
    this.#staged.set(key(collection, id), applyData(cur ?? ({ id } as Doc), data));
  }

  #delete(collection: string, id: string): void {
    this.#check(collection, id);
    this.#collection(collection);
    this.#ops.push({ kind: 'delete', collection, id });
    this.#staged.set(key(collection, id), null);
  }

  #collection(collection: string): Collection<any> {
    const col = this.#host.getCollection(collection);
    if (col === undefined)
      throw new ValidationError(
        `Mutator ${JSON.stringify(this.#name)} writes collection ${JSON.stringify(collection)}, which this client has not opened; call client.collection({ id: ${JSON.stringify(collection)} }) before mutate().`,
        { details: { mutator: this.#name, collection } },
      );
    return col;
  }

  /**
   * Inside the transaction: replay the staged writes through the collections (validated,
   * optimistic, in the outbox) and mark it as a named mutation when its backend runs mutators.
   */
  apply(t: Transaction, args: JsonValue | undefined): void {
    const sources = new Set<Source>();
    for (const op of this.#ops) sources.add(this.#collection(op.collection).source);
    const runners = [...sources].filter((s) => s.runsMutators === true);
    if (runners.length > 0 && sources.size > 1)
      throw new ValidationError(
        `Mutator ${JSON.stringify(this.#name)} writes collections of different backends (${[...sources].map((s) => s.id).join(', ')}); the server re-runs a named mutation whole, so every collection it writes must sync with that server.`,
        { details: { mutator: this.#name } },
      );
    const named = sources.size === 0 ? this.#host.mutatorSource !== undefined : runners.length === 1;
    if (named) t.mutator = args === undefined ? { name: this.#name } : { name: this.#name, args };
    const store = this.#host.store;
    for (const op of this.#ops) {
      const col = this.#collection(op.collection);
      const visible = store.has(op.collection, op.id);
      if (op.kind === 'delete') {
        if (visible) col.delete(op.id);
      } else if (visible) col.update(op.id, op.patch);
      else if (store.idState(op.collection, op.id) === 'free') col.insert({ ...op.patch, id: op.id });
      // else: deleted or being deleted; delete wins, as on the server.
    }
  }
}
