/**
 * A transaction as apps hold it: seed 001's fields, read live from its current snapshot,
 * plus a promise that settles when it finishes. The engine owns it; apps only read.
 */
import type { Cell, JsonValue } from '@omnisync/core';
import type {
  Attempt,
  MutationState,
  PendingMutation,
  TransactionError,
  TransactionState,
} from '../types.js';
import type { MutationRecord } from './mutation.js';
import { initialSnapshot, type TransactionSnapshot } from './reducer.js';

/** Options of one transaction. */
export interface TransactionOptions {
  /** `ordered` (default: the first written collection's) or `parallel`. */
  readonly strategy?: 'ordered' | 'parallel';
  /** `false`: nothing is visible until the backend confirms (seed 000's pessimistic write). Default true. */
  readonly optimistic?: boolean;
  /** Free data carried on every mutation (seed 001 `metadata`). */
  readonly metadata?: unknown;
}

const noop = () => {};
const NO_RECORDS: MutationRecord[] = [];

/** One transaction (seed 001). Read-only for apps; the client drives it. */
export class Transaction {
  #snap: TransactionSnapshot;
  /** @internal The writes, in order (a fresh transaction shares one empty array until its first write). */
  records: MutationRecord[] = NO_RECORDS;
  /** Whether writes are visible before the backend confirms. */
  readonly optimistic: boolean;
  /** `ordered` or `parallel`. */
  strategy: 'ordered' | 'parallel';
  /** @internal The strategy was given (not taken from the first collection written). */
  readonly strategyExplicit: boolean;
  /** @internal Transactions this one waits for (ordered strategy). */
  blockers: Set<Transaction> | undefined;
  /** @internal Transactions waiting for this one. */
  dependents: Set<Transaction> | undefined;
  /** @internal Sources that accepted this transaction's writes. */
  persistedSources: Set<unknown> | undefined;
  /** @internal Committed: no more writes can join it. */
  committed = false;
  /** @internal Where its writes go, once every collection it writes is registered. */
  route: 'local' | 'remote' | undefined;
  /** @internal Whether this transaction takes locks (decided at commit). */
  locking: boolean | undefined;
  /** @internal Cells a backend answered with (applied on completion). */
  confirmedCells: Cell[] | undefined;
  /**
   * The named mutation this transaction is (`client.mutate(name, args)`), when its backend
   * runs mutators: the backend re-runs it and its own cells flow back, so this transaction's
   * optimistic cells are never confirmed into the synced base (only dropped from the overlay).
   */
  mutator: { readonly name: string; readonly args?: JsonValue } | undefined;
  /**
   * The schema version its writes are in: the version of its backend's source when it was
   * committed (kept in the outbox across app updates), or undefined.
   */
  schemaVersion: number | undefined;
  /** @internal Sequence number: creation order. */
  seq: number;
  // Created on first use: most transactions are never awaited, and a promise costs.
  #promise: Promise<Transaction> | undefined;
  #resolve: ((tx: Transaction) => void) | undefined;
  #reject: ((e: Error) => void) | undefined;

  /** @internal */
  constructor(id: string, at: number, seq: number, options: TransactionOptions) {
    this.#snap = initialSnapshot(id, at);
    this.seq = seq;
    this.optimistic = options.optimistic !== false;
    this.strategy = options.strategy ?? 'ordered';
    this.strategyExplicit = options.strategy !== undefined;
  }

  get id(): string {
    return this.#snap.id;
  }
  get state(): TransactionState {
    return this.#snap.state;
  }
  get created_at(): Date {
    return this.#snap.created_at;
  }
  get updated_at(): Date {
    return this.#snap.updated_at;
  }
  /** The writes of this transaction, in order (seed 001). */
  get mutations(): readonly PendingMutation[] {
    return this.records;
  }
  get attempts(): readonly Attempt[] {
    return this.#snap.attempts;
  }
  get current_attempt(): number {
    return this.#snap.current_attempt;
  }
  get queued_behind(): string | undefined {
    return this.#snap.queued_behind;
  }
  get error(): TransactionError | undefined {
    return this.#snap.error;
  }
  /** The immutable state: a new object after every change (for stable UI snapshots). */
  get snapshot(): TransactionSnapshot {
    return this.#snap;
  }
  /** True once completed or failed. */
  get finished(): boolean {
    const s = this.#snap.state;
    return s === 'completed' || s === 'failed';
  }
  /** The state of this transaction's mutations (seed 001's PendingMutation.state). */
  get mutationState(): MutationState {
    const s = this.#snap.state;
    return s === 'completed'
      ? 'synced'
      : s === 'persisting' || s === 'persisted_awaiting_sync'
        ? 'persisting'
        : 'created';
  }
  /**
   * Resolves with this transaction when it completes; rejects with its error when it fails
   * (for a dependency failure: a DependencyFailedError).
   */
  get promise(): Promise<Transaction> {
    if (this.#promise === undefined) {
      const s = this.#snap;
      if (s.state === 'completed') this.#promise = Promise.resolve(this);
      else if (s.state === 'failed') {
        this.#promise = Promise.reject(s.error!.error);
        this.#promise.catch(noop); // see setSnapshot
      } else
        this.#promise = new Promise<Transaction>((resolve, reject) => {
          this.#resolve = resolve;
          this.#reject = reject;
        });
    }
    return this.#promise;
  }

  /** @internal Replace the snapshot (the engine does, through the reducer). */
  setSnapshot(s: TransactionSnapshot): void {
    this.#snap = s;
    if (this.#resolve === undefined) return;
    if (s.state === 'completed') this.#resolve(this);
    else if (s.state === 'failed') {
      // A failure nobody awaits must not crash the process as an unhandled rejection. Attached
      // only now: most transactions complete, and a handler on each would cost a promise.
      this.#promise!.catch(noop);
      this.#reject!(s.error!.error);
    } else return;
    this.#resolve = this.#reject = undefined;
  }

  /** A JSON-friendly view, for logs and devtools. */
  toJSON(): Record<string, unknown> {
    return { ...this.#snap, strategy: this.strategy, optimistic: this.optimistic, mutations: this.records };
  }
}
