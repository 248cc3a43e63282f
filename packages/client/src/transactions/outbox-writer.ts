/**
 * Writes to the client's persistence, grouped: everything asked for while a commit is in
 * flight (or within one microtask) goes into the next single `persistence.commit`. One batch
 * is atomic, so an outbox entry and the cells of its optimistic change, or the confirmed
 * cells of a write and the removal of its outbox entry, land together or not at all.
 * Transactions are serialised at flush time, so the latest state is what is stored.
 */
import { type Cell, type JsonValue, PersistenceError, toError } from '@omnisync/core';
import type { Persistence, PersistenceBatch } from '../persistence/types.js';
import { serializeTransaction } from './serialize.js';
import type { Transaction } from './transaction.js';

/** One part of a future commit. */
export interface OutboxWrite {
  readonly cells?: readonly Cell[];
  readonly put?: readonly Transaction[];
  readonly del?: readonly string[];
  readonly meta?: Record<string, JsonValue>;
}

const RESOLVED = Promise.resolve();

/** @internal */
export class OutboxWriter {
  readonly #persistence: Persistence | undefined;
  /** Extra meta written with every commit (the HLC high-water mark). */
  readonly #metaEachCommit: () => Record<string, JsonValue>;
  #cells: Cell[] = [];
  #put = new Map<string, Transaction>();
  #del = new Set<string>();
  #meta: Record<string, JsonValue> = {};
  #waiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  #busy = false;
  #scheduled = false;
  #closed = false;

  constructor(persistence: Persistence | undefined, metaEachCommit: () => Record<string, JsonValue>) {
    this.#persistence = persistence;
    this.#metaEachCommit = metaEachCommit;
  }

  /** True when there is a persistence to write to. */
  get enabled(): boolean {
    return this.#persistence !== undefined && !this.#closed;
  }

  /** Queue a write; resolves once it is durably committed (at once without persistence). */
  write(part: OutboxWrite): Promise<void> {
    if (!this.enabled) return RESOLVED;
    if (part.cells) for (const c of part.cells) this.#cells.push(c);
    if (part.put)
      for (const tx of part.put) {
        this.#del.delete(tx.id);
        this.#put.set(tx.id, tx);
      }
    if (part.del)
      for (const id of part.del) {
        this.#put.delete(id);
        this.#del.add(id);
      }
    if (part.meta) Object.assign(this.#meta, part.meta);
    const p = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (!this.#busy && !this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(() => this.#flush());
    }
    return p;
  }

  /** Resolves when everything queued so far is committed (or failed). */
  async drain(): Promise<void> {
    if (this.enabled) await this.write({}).catch(() => {});
  }

  /** Stop writing (pending waiters are rejected). */
  close(): void {
    this.#closed = true;
  }

  #flush(): void {
    this.#scheduled = false;
    const waiters = this.#waiters;
    if (waiters.length === 0) return;
    this.#waiters = [];
    const batch: PersistenceBatch = {};
    const b = batch as { -readonly [K in keyof PersistenceBatch]: PersistenceBatch[K] };
    if (this.#cells.length > 0) b.cells = this.#cells;
    if (this.#put.size > 0) b.putTransactions = [...this.#put.values()].map(serializeTransaction);
    if (this.#del.size > 0) b.deleteTransactions = [...this.#del];
    b.meta = { ...this.#meta, ...this.#metaEachCommit() };
    this.#cells = [];
    this.#put = new Map();
    this.#del = new Set();
    this.#meta = {};
    const persistence = this.#persistence;
    if (!persistence || this.#closed) {
      for (const w of waiters) w.resolve();
      return;
    }
    this.#busy = true;
    let p: Promise<void>;
    try {
      p = persistence.commit(batch);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      () => {
        for (const w of waiters) w.resolve();
      },
      (e: unknown) => {
        const err = toError(e);
        const wrapped =
          err instanceof PersistenceError || (err as { code?: string }).code !== undefined
            ? err
            : new PersistenceError(`Writing to ${persistence.name} failed: ${err.message}`, { cause: err });
        for (const w of waiters) w.reject(wrapped);
      },
    ).finally(() => {
      this.#busy = false;
      if (this.#waiters.length > 0 && !this.#scheduled) {
        this.#scheduled = true;
        queueMicrotask(() => this.#flush());
      }
    });
  }
}
