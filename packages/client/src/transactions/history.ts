/**
 * Finished transactions kept for inspection (seed 001's "full history", bounded): at most
 * `transactions` of them, holding at most `mutations` mutations in all, newest kept. A single
 * transaction larger than the whole mutation budget (a bulk import) is not kept at all: it
 * would pin every document it wrote, twice, for as long as it stays.
 */
import { ValidationError } from '@omnisync/core';
import type { Transaction } from './transaction.js';

/** Bounds of the kept history. */
export interface HistoryOptions {
  /** Finished transactions kept (default 100; 0 keeps none). */
  readonly transactions?: number;
  /** Mutations kept across them (default 10,000). */
  readonly mutations?: number;
}

const NONE: readonly string[] = Object.freeze([]);

/** Default number of finished transactions kept. */
export const HISTORY_TRANSACTIONS_DEFAULT = 100;
/** Default number of mutations kept across finished transactions. */
export const HISTORY_MUTATIONS_DEFAULT = 10_000;

/** Fill in defaults and check; throws ValidationError on a bad value. */
export function resolveHistory(o: number | HistoryOptions | undefined): Required<HistoryOptions> {
  const r =
    typeof o === 'number'
      ? { transactions: o, mutations: HISTORY_MUTATIONS_DEFAULT }
      : {
          transactions: o?.transactions ?? HISTORY_TRANSACTIONS_DEFAULT,
          mutations: o?.mutations ?? HISTORY_MUTATIONS_DEFAULT,
        };
  for (const [k, v] of Object.entries(r))
    if (!Number.isInteger(v) || v < 0)
      throw new ValidationError(`transactionHistory.${k} is ${v}; it must be a non-negative integer.`);
  return r;
}

/** @internal */
export class TransactionHistory {
  readonly #limit: Required<HistoryOptions>;
  #list: Transaction[] = [];
  /** Index of the oldest kept one (the list is compacted in halves, not per eviction). */
  #start = 0;
  #mutations = 0;

  constructor(limit: Required<HistoryOptions>) {
    this.#limit = limit;
  }

  /**
   * Keep `tx`; returns the ids of the transactions it pushed out (possibly itself), or, with
   * `report` false (nobody stores the history), nothing.
   */
  add(tx: Transaction, report = true): readonly string[] {
    const n = tx.records.length;
    if (this.#limit.transactions === 0 || n > this.#limit.mutations) return report ? [tx.id] : NONE;
    const list = this.#list;
    list.push(tx);
    this.#mutations += n;
    let out: string[] | undefined;
    while (list.length - this.#start > this.#limit.transactions || this.#mutations > this.#limit.mutations) {
      const old = list[this.#start]!;
      list[this.#start++] = undefined as unknown as Transaction; // let it go now
      this.#mutations -= old.records.length;
      if (report) (out ??= []).push(old.id);
    }
    if (this.#start > 64 && this.#start * 2 > list.length) {
      this.#list = list.slice(this.#start);
      this.#start = 0;
    }
    return out ?? NONE;
  }

  /** The kept transactions, oldest first. */
  list(): Transaction[] {
    return this.#list.slice(this.#start);
  }

  find(id: string): Transaction | undefined {
    for (let i = this.#list.length - 1; i >= this.#start; i--)
      if (this.#list[i]!.id === id) return this.#list[i];
    return undefined;
  }
}
