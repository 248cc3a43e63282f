/**
 * The transaction engine: commits, ordering, persisting with retries, confirmation,
 * rollback, and recovery after a restart (seed 001). State changes go through the reducer;
 * this file decides when they happen.
 *
 *     write ─► overlay ─► commit ─► [queued behind lock holder] ─► persisting ─► persisted_awaiting_sync ─► completed
 *                                                                     │  ▲ retry (backoff)                  (cells → base)
 *                                                                     ▼  │
 *                                                                   failed ─► overlay rolled back, dependents fail
 *
 * Local-only transactions (no backend) are confirmed by one grouped persistence commit per
 * microtask: many small transactions cost one commit and one store notification.
 */
import {
  type Cell,
  computed,
  cellWins,
  DELETED_FIELD,
  DependencyFailedError,
  type HlcClock,
  InvalidStateError,
  NonRetriableError,
  type Random,
  type ReadonlySignal,
  type Scheduler,
  signal,
  toError,
  validateCell,
} from '@omnisync/core';
import type { EventHub } from '../events.js';
import type { PersistRequest, Source } from '../sources/types.js';
import type { ClientStore } from '../store/client-store.js';
import type { TransactionError } from '../types.js';
import { type HistoryOptions, TransactionHistory } from './history.js';
import { LockTable } from './locks.js';
import type { MutationRecord } from './mutation.js';
import type { OutboxWriter } from './outbox-writer.js';
import { reduceTransaction, type TransactionAction } from './reducer.js';
import { type ResolvedRetry, retryDelay } from './retry.js';
import { Transaction, type TransactionOptions } from './transaction.js';

/** What the engine needs from its client. */
export interface EngineDeps {
  readonly store: ClientStore;
  readonly scheduler: Scheduler;
  /** The client's clock also hears of stamps acknowledged, and of refusals as too far ahead. */
  readonly hlc: HlcClock & { acknowledged?(stamp: string): void; refused?(): void };
  readonly random: Random;
  readonly retry: ResolvedRetry;
  readonly events: EventHub;
  readonly writer: OutboxWriter;
  /** Finished transactions kept for inspection (and in persistence). */
  readonly history: Required<HistoryOptions>;
  /** Keep only the cells that may be stored (they win against memory and held updates). */
  readonly storable: (cells: readonly Cell[]) => Cell[];
  /** The source of a collection, once the collection is registered. */
  readonly sourceOf: (collection: string) => Source | undefined;
  /** Where a named mutation that wrote nothing locally goes (the server still runs it). */
  readonly mutatorSource?: () => Source | undefined;
  readonly onError: (error: unknown) => void;
  /**
   * Checked at commit, before anything is queued: an error fails the transaction at once
   * (rolled back, never sent). The rules pre-check (`createClient({ rules, principal })`).
   */
  readonly precheck?: ((id: string, writes: readonly MutationRecord[]) => Error | undefined) | undefined;
}

const isClockDrift = (e: Error): boolean => {
  const c = e as { code?: string; details?: { code?: string }; cause?: { code?: string } };
  return c.code === 'clock_drift' || c.details?.code === 'clock_drift' || c.cause?.code === 'clock_drift';
};
const isNonRetriable = (e: Error) => e instanceof NonRetriableError || e.name === 'NonRetriableError';

/** @internal */
export class TransactionEngine {
  readonly #d: EngineDeps;
  /** Unfinished committed transactions, in commit order (a Set: no id hashing per write). */
  readonly #active = new Set<Transaction>();
  readonly #history: TransactionHistory;
  readonly locks = new LockTable();
  readonly #version = signal(0);
  /** Active and kept transactions, oldest first. */
  readonly transactions: ReadonlySignal<readonly Transaction[]>;
  #seq = 0;
  #ambient: Transaction | undefined;
  #ready = false;
  #parked: Transaction[] = [];
  #localBatch: Transaction[] = [];
  #localScheduled = false;
  #bumped = false;
  /** Sync updates held per document until its lock is released. */
  readonly #held = new Map<string, Cell[]>();
  /** Hold of each transaction that entered a locked state. */
  readonly #holding = new WeakSet<Transaction>();
  /** Outbox write of a remote transaction, awaited before its first attempt. */
  readonly #durable = new WeakMap<Transaction, Promise<void>>();

  constructor(deps: EngineDeps) {
    this.#d = deps;
    this.#history = new TransactionHistory(deps.history);
    this.transactions = computed(() => {
      this.#version.get();
      const out = [...this.#history.list(), ...this.#active];
      return out.sort((a, b) => a.seq - b.seq);
    });
  }

  /** The transaction `client.transaction(fn)` is collecting writes into, if any. */
  get ambient(): Transaction | undefined {
    return this.#ambient;
  }

  /** A transaction by id (active or kept). */
  find(id: string): Transaction | undefined {
    for (const t of this.#active) if (t.id === id) return t;
    return this.#history.find(id);
  }

  /** Active (unfinished) transactions, oldest first. */
  active(): Transaction[] {
    return [...this.#active];
  }

  create(options: TransactionOptions = {}): Transaction {
    // The id is an HLC stamp: unique across clients (node id) and restarts (the clock is restored past every stamp issued).
    return new Transaction(this.#d.hlc.now(), this.#d.scheduler.now(), ++this.#seq, options);
  }

  /**
   * Run `fn` collecting its writes into one transaction (all-or-nothing); commit it. `into`:
   * a transaction made earlier by {@link create} and not committed yet (a named mutation
   * returns its transaction before its mutator finished).
   */
  run(fn: (tx: Transaction) => unknown, options: TransactionOptions = {}, into?: Transaction): Transaction {
    if (this.#ambient) {
      // Nested: the writes join the outer transaction.
      fn(this.#ambient);
      return this.#ambient;
    }
    const tx = into ?? this.create(options);
    this.#ambient = tx;
    let result: unknown;
    try {
      result = this.#d.store.batch(() => fn(tx));
    } catch (e) {
      this.#ambient = undefined;
      this.#abandon(tx, toError(e));
      throw e;
    }
    this.#ambient = undefined;
    if (
      result !== null &&
      typeof result === 'object' &&
      typeof (result as { then?: unknown }).then === 'function'
    ) {
      const err = new InvalidStateError(
        'client.transaction(fn): fn returned a Promise. A transaction collects the writes made synchronously inside fn; do the async work first, then write inside fn.',
      );
      this.#abandon(tx, err);
      throw err;
    }
    this.commit(tx);
    return tx;
  }

  /** A transaction whose collecting function threw: roll back what it wrote; it never existed. */
  #abandon(tx: Transaction, error: Error): void {
    if (tx.optimistic && tx.records.length > 0) this.#d.store.removeOptimistic(tx.records, false);
    tx.setSnapshot(
      reduceTransaction(tx.snapshot, {
        type: 'fail',
        at: this.#d.scheduler.now(),
        error: { message: error.message, error },
      }),
    );
  }

  /** Add prepared writes to a transaction (visible at once unless pessimistic). */
  addMutations(tx: Transaction, records: readonly MutationRecord[], strategy?: 'ordered' | 'parallel'): void {
    if (tx.state !== 'pending' || tx.committed)
      throw new InvalidStateError(`Transaction ${tx.id} is already committed; write in a new transaction.`);
    if (strategy !== undefined && !tx.strategyExplicit && tx.records.length === 0) tx.strategy = strategy;
    // The first batch of writes becomes the transaction's list (the caller hands it over).
    if (tx.records.length === 0) tx.records = records as MutationRecord[];
    else for (const m of records) tx.records.push(m);
    if (tx.optimistic) this.#d.store.applyOptimistic(records, true);
  }

  /** Commit a transaction: order it, make it durable, send it. */
  commit(tx: Transaction): void {
    tx.committed = true;
    this.#active.add(tx);
    if (this.#d.precheck !== undefined) {
      const refused = this.#d.precheck(tx.id, tx.records);
      // Refused (NonRetriableError): failed and rolled back at once, before anything is queued or sent.
      if (refused !== undefined) return this.#attemptFailed(tx, refused);
    }
    this.#bump();
    if (this.#locking(tx)) {
      const blockers = this.locks.acquire(tx);
      if (blockers.size > 0) this.#block(tx, blockers);
    }
    const ev = this.#d.events;
    if (ev.wants('sync.op:action:captured'))
      ev.emit({ type: 'sync.op:action:captured', transaction: tx, mutations: tx.records });
    if (tx.schemaVersion === undefined) tx.schemaVersion = this.#schemaVersionOf(tx);
    if (this.#d.writer.enabled && !this.#allLocal(tx)) {
      const p = this.#d.writer.write({ put: [tx] });
      p.catch((e) => this.#reportError(e, tx));
      this.#durable.set(tx, p);
    }
    if (tx.state !== 'queued') this.#schedule(tx);
  }

  /**
   * Does this transaction take part in locking? Ordered ones that reach a backend do. A
   * local-only transaction is confirmed by the next grouped local commit, in commit order, so
   * nothing can overtake it, and no backend sync can arrive for it to hold.
   */
  #locking(tx: Transaction): boolean {
    if (tx.strategy !== 'ordered' || tx.records.length === 0) return false;
    if (tx.locking === undefined) tx.locking = !this.#allLocal(tx);
    return tx.locking;
  }

  #block(tx: Transaction, blockers: Set<Transaction>): void {
    tx.blockers = blockers;
    let latest: Transaction | undefined;
    for (const b of blockers) {
      (b.dependents ??= new Set()).add(tx);
      if (!latest || b.seq > latest.seq) latest = b;
    }
    this.#dispatch(tx, { type: 'queue', at: this.#d.scheduler.now(), behind: latest!.id });
  }

  /** Persistence is loaded: start what waited. */
  setReady(): void {
    this.#ready = true;
    this.resume();
  }

  /** Retry scheduling of parked transactions (a collection registered, or the client got ready). */
  resume(): void {
    const parked = this.#parked;
    this.#parked = [];
    for (const tx of parked) if (!tx.finished) this.#schedule(tx);
  }

  #schedule(tx: Transaction): void {
    const route = this.#route(tx);
    if (!this.#ready || route === 'unrouted') {
      this.#parked.push(tx);
      return;
    }
    if (route === 'local') {
      this.#localBatch.push(tx);
      if (!this.#localScheduled) {
        this.#localScheduled = true;
        queueMicrotask(() => this.#flushLocal());
      }
    } else {
      // Never inside the app's write call: persist runs from a microtask, after the write returned.
      queueMicrotask(() => void this.#attempt(tx));
    }
  }

  /** Where a transaction's writes go: all to local sources, some to a backend, or not known yet. */
  #route(tx: Transaction): 'local' | 'remote' | 'unrouted' {
    if (tx.route !== undefined) return tx.route;
    let route: 'local' | 'remote' = 'local';
    if (tx.mutator && tx.records.length === 0 && this.#d.mutatorSource?.() !== undefined) route = 'remote';
    let last: string | undefined;
    const records = tx.records;
    for (let i = 0; i < records.length; i++) {
      const m = records[i]!;
      if (m.collection === last) continue;
      last = m.collection;
      const s = this.#d.sourceOf(m.collection);
      if (s === undefined) return 'unrouted';
      if (s.kind !== 'local') route = 'remote';
    }
    return (tx.route = route);
  }

  /** The schema version of the first source this transaction writes to that has one. */
  #schemaVersionOf(tx: Transaction): number | undefined {
    for (const m of tx.records) {
      const v = this.#d.sourceOf(m.collection)?.schemaVersion;
      if (v !== undefined) return v;
    }
    return tx.mutator ? this.#d.mutatorSource?.()?.schemaVersion : undefined;
  }

  /**
   * The backend writes its own cells for this transaction instead of confirming ours: a named
   * mutation (re-run there), or writes in an older schema version than its source's (upcast
   * there, e.g. a renamed field, after an app update).
   */
  #rewritten(tx: Transaction): boolean {
    if (tx.mutator) return true;
    return tx.schemaVersion !== undefined && tx.schemaVersion !== this.#schemaVersionOf(tx);
  }

  #allLocal(tx: Transaction): boolean {
    return this.#route(tx) === 'local';
  }

  #startAttempt(tx: Transaction): void {
    this.#dispatch(tx, {
      type: 'attempt:start',
      at: this.#d.scheduler.now(),
      attemptId: `${tx.id}#${tx.current_attempt + 1}`,
    });
    if (tx.locking && !this.#holding.has(tx)) {
      this.#holding.add(tx);
      this.locks.hold(tx);
    }
  }

  /** Local-only transactions of this microtask: one grouped commit confirms them all. */
  #flushLocal(): void {
    this.#localScheduled = false;
    const txs = this.#localBatch.filter((t) => !t.finished);
    this.#localBatch = [];
    if (txs.length === 0) return;
    const writer = this.#d.writer;
    // Nothing to write and nobody watching each state: #complete commits each in one step.
    if (!writer.enabled && !this.#d.events.wants('transaction:stateChange')) {
      this.#complete(txs);
      return;
    }
    for (const tx of txs) this.#startAttempt(tx);
    if (!writer.enabled) {
      this.#complete(txs);
      return;
    }
    const cells: Cell[] = [];
    for (const tx of txs) for (const m of tx.records) m.pushCells(cells);
    writer.write({ cells: this.#d.storable(cells) }).then(
      () => this.#complete(txs.filter((t) => !t.finished)),
      (e) => {
        for (const tx of txs) if (!tx.finished) this.#attemptFailed(tx, e);
      },
    );
  }

  async #attempt(tx: Transaction): Promise<void> {
    if (tx.finished) return;
    const durable = this.#durable.get(tx);
    if (durable) {
      this.#durable.delete(tx);
      await durable.catch(() => {}); // reported at commit; the write goes on in memory
      if (tx.finished) return;
    }
    this.#startAttempt(tx);
    // The outbox says `persisting` from here: a restart retries it (seed 001).
    if (this.#d.writer.enabled) this.#d.writer.write({ put: [tx] }).catch((e) => this.#reportError(e, tx));
    const attempt = tx.current_attempt;
    const groups = this.#groups(tx);
    try {
      for (const [source, records] of groups) {
        if (source.kind === 'local' || tx.persistedSources?.has(source)) continue;
        const result = await source.persist(this.#request(tx, records, attempt));
        if (tx.finished) return;
        (tx.persistedSources ??= new Set()).add(source);
        if (result && Array.isArray(result.cells) && result.cells.length > 0) {
          result.cells.forEach((c, i) => validateCell(c, i));
          (tx.confirmedCells ??= []).push(...result.cells);
        }
        if (this.#d.events.wants('sync.push:action:after'))
          this.#d.events.emit({
            type: 'sync.push:action:after',
            transaction: tx,
            source: source.id,
            attempt,
          });
      }
    } catch (e) {
      if (!tx.finished) this.#attemptFailed(tx, e);
      return;
    }
    this.#dispatch(tx, { type: 'persisted', at: this.#d.scheduler.now() });
    if (this.#d.writer.enabled) this.#d.writer.write({ put: [tx] }).catch((e) => this.#reportError(e, tx));
    const waits: Promise<void>[] = [];
    for (const [source, records] of groups)
      if (source.kind === 'remote' && source.awaitSync)
        waits.push(source.awaitSync(this.#request(tx, records, attempt)));
    if (waits.length > 0) {
      try {
        await Promise.all(waits);
      } catch (e) {
        // The backend has the writes; rolling them back would misstate it. Report and complete:
        // the next sync brings the backend's truth.
        this.#reportError(e, tx, false);
      }
    }
    if (!tx.finished) this.#complete([tx]);
  }

  #groups(tx: Transaction): Map<Source, MutationRecord[]> {
    const groups = new Map<Source, MutationRecord[]>();
    const named = tx.mutator && tx.records.length === 0 ? this.#d.mutatorSource?.() : undefined;
    if (named) groups.set(named, []);
    for (const m of tx.records) {
      const s = this.#d.sourceOf(m.collection)!;
      let list = groups.get(s);
      if (!list) groups.set(s, (list = []));
      list.push(m);
    }
    return groups;
  }

  #request(tx: Transaction, records: readonly MutationRecord[], attempt: number): PersistRequest {
    const oneCollection = records.every((m) => m.collection === records[0]?.collection);
    const changes: Record<string, Record<string, unknown>> = {};
    const cells: Cell[] = [];
    for (const m of records) {
      const k = oneCollection ? m.key : `${m.collection}/${m.key}`;
      const entry = (changes[k] ??= {});
      if (m.type === 'delete') entry._deleted = true;
      else Object.assign(entry, m.changes);
      m.pushCells(cells);
    }
    return { transaction: tx, mutations: records, cells, changes, attempt };
  }

  #attemptFailed(tx: Transaction, e: unknown): void {
    const error = toError(e);
    // Refused for a clock running ahead: the clock starts again once the system clock is right.
    if (isClockDrift(error)) this.#d.hlc.refused?.();
    const retryable = !isNonRetriable(error) && tx.current_attempt <= this.#d.retry.retries;
    const now = this.#d.scheduler.now();
    const delay = retryable ? retryDelay(this.#d.retry, tx.current_attempt) : 0;
    if (this.#d.events.wants('sync.error:action'))
      this.#d.events.emit({
        type: 'sync.error:action',
        error,
        retryable,
        transaction: tx,
        attempt: tx.current_attempt,
        ...(retryable ? { retry_scheduled_for: new Date(now + delay) } : {}),
      });
    if (!retryable) {
      this.#d.store.batch(() => this.#fail(tx, { message: error.message, error }));
      return;
    }
    this.#dispatch(tx, { type: 'attempt:failed', at: now, error, retryAt: now + delay });
    if (this.#d.writer.enabled)
      this.#d.writer.write({ put: [tx] }).catch((err) => this.#reportError(err, tx));
    this.#d.scheduler.setTimeout(() => {
      if (tx.finished) return;
      if (this.#allLocal(tx)) {
        this.#localBatch.push(tx);
        if (!this.#localScheduled) {
          this.#localScheduled = true;
          queueMicrotask(() => this.#flushLocal());
        }
      } else void this.#attempt(tx);
    }, delay);
  }

  /** Confirm finished transactions: their cells go into the base, their overlay comes off. */
  #complete(txs: readonly Transaction[]): void {
    let optimistic: MutationRecord[] = [];
    const extra: Cell[] = [];
    const toPersist: Cell[] = [];
    const writer = this.#d.writer;
    let dropped: MutationRecord[] | undefined;
    for (const tx of txs) {
      const local = this.#allLocal(tx);
      if (this.#rewritten(tx)) {
        // The backend re-ran it (or upcast it): its own cells (already synced) are the truth, ours only a guess.
        if (tx.optimistic) for (const m of tx.records) (dropped ??= []).push(m);
        if (tx.confirmedCells) for (const c of tx.confirmedCells) extra.push(c);
        continue;
      }
      if (tx.optimistic) {
        const records = tx.records;
        if (optimistic.length === 0) optimistic = records.slice();
        else for (let i = 0; i < records.length; i++) optimistic.push(records[i]!);
        if (tx.confirmedCells) for (const c of tx.confirmedCells) extra.push(c);
      } else {
        // Pessimistic: nothing was visible; now the confirmed value is.
        const cells = tx.confirmedCells ?? tx.records.flatMap((m) => m.cells);
        for (const c of cells) extra.push(c);
      }
      if (!local) for (const m of tx.records) this.#d.hlc.acknowledged?.(m.hlc);
      if (!local && writer.enabled) {
        for (const m of tx.records) m.pushCells(toPersist);
        if (tx.confirmedCells) for (const c of tx.confirmedCells) toPersist.push(c);
      }
    }
    this.#d.store.batch(() => {
      this.#d.store.removeOptimistic(optimistic, true, extra.length > 0 ? extra : undefined);
      if (dropped) this.#d.store.removeOptimistic(dropped, false);
      const at = this.#d.scheduler.now();
      const observed = this.#d.events.wants('transaction:stateChange');
      for (const tx of txs) {
        if (observed) {
          // Listeners see every state of seed 001 on the way.
          if (tx.state === 'persisting') this.#dispatch(tx, { type: 'persisted', at });
          this.#dispatch(tx, { type: 'synced', at });
        } else if (tx.state === 'pending')
          this.#dispatch(tx, {
            type: 'committed',
            at,
            attemptId: tx.current_attempt === 0 ? tx.id + '#1' : `${tx.id}#${tx.current_attempt + 1}`,
          });
        else this.#dispatch(tx, { type: 'settled', at });
        this.#finish(tx, toPersist.length > 0 ? toPersist : undefined);
        toPersist.length = 0;
      }
    });
  }

  #fail(tx: Transaction, error: TransactionError): void {
    if (tx.finished) return;
    this.#dispatch(tx, { type: 'fail', at: this.#d.scheduler.now(), error });
    if (tx.optimistic) this.#d.store.removeOptimistic(tx.records, false);
    this.#finish(tx, undefined);
  }

  /** Release locks, keep history, wake or fail the transactions queued behind. */
  #finish(tx: Transaction, cells: Cell[] | undefined): void {
    this.#active.delete(tx);
    // A finished transaction is kept for inspection only: its cells (the bulk of it) can go.
    const records = tx.records;
    for (let i = 0; i < records.length; i++) records[i]!.release();
    this.#durable.delete(tx);
    if (tx.locking) {
      this.locks.release(tx);
      if (this.#holding.has(tx)) {
        this.#holding.delete(tx);
        this.#releaseHeld(this.locks.unhold(tx));
      }
    }
    const writer = this.#d.writer;
    const evicted = this.#history.add(tx, writer.enabled);
    if (writer.enabled) {
      const kept = evicted.length === 0 || evicted[evicted.length - 1] !== tx.id;
      writer
        .write({ ...(cells ? { cells: this.#d.storable(cells) } : {}), put: kept ? [tx] : [], del: evicted })
        .catch((e) => this.#reportError(e, tx));
    }
    if (tx.dependents) {
      const failed = tx.state === 'failed';
      for (const d of tx.dependents) {
        d.blockers?.delete(tx);
        if (d.finished) continue;
        if (failed) {
          const error = new DependencyFailedError(
            `Transaction ${d.id} was rolled back because transaction ${tx.id}, which it was queued behind, failed: ${tx.error?.message ?? 'unknown error'}.`,
            { cause: tx.error?.error, details: { transaction_id: tx.id } },
          );
          this.#fail(d, { transaction_id: tx.id, message: error.message, error });
        } else if (!d.blockers || d.blockers.size === 0) {
          this.#dispatch(d, { type: 'unqueue', at: this.#d.scheduler.now() });
          this.#schedule(d);
        } else {
          let latest: Transaction | undefined;
          for (const b of d.blockers) if (!latest || b.seq > latest.seq) latest = b;
          if (latest!.id !== d.queued_behind)
            this.#dispatch(d, { type: 'queue', at: this.#d.scheduler.now(), behind: latest!.id });
        }
      }
      tx.dependents = undefined;
    }
    this.#bump();
  }

  // ── sync updates held behind locks ──────────────────────────────────────────────

  /** Is this document locked by an ordered write (sync updates to it must wait)? */
  isHeld(collection: string, id: string): boolean {
    return this.locks.isHeld(collection, id);
  }

  /** Hold sync cells for a locked document until its lock is released (then applied in arrival order). */
  hold(collection: string, id: string, cells: readonly Cell[]): void {
    const k = collection + '/' + id;
    const list = this.#held.get(k);
    if (list) for (const c of cells) list.push(c);
    else this.#held.set(k, [...cells]);
  }

  /** Is there a held sync cell for this cell's field that beats it (so it must not be stored over it)? */
  heldBeats(c: Cell): boolean {
    if (this.#held.size === 0) return false;
    const list = this.#held.get(c.collection + '/' + c.id);
    if (!list) return false;
    for (const h of list) {
      if (h.field === DELETED_FIELD) return true; // a held delete beats every field write
      if (h.field === c.field && cellWins(h.hlc, h.value, c)) return true;
    }
    return false;
  }

  #releaseHeld(freed: readonly { collection: string; id: string }[]): void {
    if (this.#held.size === 0) return;
    for (const { collection, id } of freed) {
      const k = collection + '/' + id;
      const cells = this.#held.get(k);
      if (!cells) continue;
      this.#held.delete(k);
      try {
        this.#d.store.applyBase(cells, true);
      } catch (e) {
        this.#reportError(e, undefined, false);
      }
    }
  }

  // ── recovery ────────────────────────────────────────────────────────────────────

  /**
   * Re-install transactions read from persistence (oldest first): finished ones are kept for
   * inspection; `persisted_awaiting_sync` is taken as synced (seed 001: its cells go into the
   * base); the others go back on the overlay and are sent again.
   */
  recover(txs: readonly Transaction[]): void {
    this.#d.store.batch(() => {
      const resend: Transaction[] = [];
      const dropped: string[] = [];
      for (const tx of txs) {
        tx.seq = ++this.#seq;
        if (tx.finished) {
          dropped.push(...this.#history.add(tx));
        } else if (tx.state === 'persisted_awaiting_sync') {
          // A named mutation's truth is the backend's own cells (brought by its sync), not ours.
          const cells = this.#rewritten(tx) ? [] : tx.records.flatMap((m) => m.cells);
          this.#d.store.applyBase(cells, true);
          this.#dispatch(tx, { type: 'synced', at: this.#d.scheduler.now() });
          const evicted = this.#history.add(tx);
          const kept = !evicted.includes(tx.id);
          dropped.push(...evicted.filter((id) => id !== tx.id));
          if (this.#d.writer.enabled)
            this.#d.writer
              .write({ cells: this.#d.storable(cells), put: kept ? [tx] : [], del: kept ? [] : [tx.id] })
              .catch((e) => this.#reportError(e, tx));
        } else {
          if (tx.optimistic) {
            this.#d.store.applyOptimistic(tx.records);
            this.#d.store.markRecovered(tx.records);
          }
          resend.push(tx);
        }
      }
      if (dropped.length > 0 && this.#d.writer.enabled)
        this.#d.writer.write({ del: dropped }).catch((e) => this.#reportError(e));
      for (const tx of resend) {
        tx.committed = true;
        this.#active.add(tx);
        if (this.#locking(tx)) {
          const blockers = this.locks.acquire(tx);
          if (blockers.size > 0 && tx.state !== 'persisting') {
            this.#block(tx, blockers);
            continue;
          }
        }
        if (tx.state === 'queued') this.#dispatch(tx, { type: 'unqueue', at: this.#d.scheduler.now() });
        this.#schedule(tx);
      }
      this.#bump();
    });
  }

  // ── plumbing ────────────────────────────────────────────────────────────────────

  #dispatch(tx: Transaction, action: TransactionAction): void {
    const from = tx.state;
    tx.setSnapshot(reduceTransaction(tx.snapshot, action));
    this.#bump();
    const ev = this.#d.events;
    if (from !== tx.state && ev.wants('transaction:stateChange'))
      ev.emit({ type: 'transaction:stateChange', transaction: tx, from, to: tx.state });
  }

  /** Bump the transactions signal once per microtask (a loop of writes is one change). */
  #bump(): void {
    if (this.#bumped) return;
    this.#bumped = true;
    queueMicrotask(this.#bumpNow);
  }

  readonly #bumpNow = (): void => {
    this.#bumped = false;
    this.#version.set(this.#version.peek() + 1);
  };

  #reportError(e: unknown, tx?: Transaction, retryable = true): void {
    const error = toError(e);
    const ev = this.#d.events;
    if (ev.wants('sync.error:action'))
      ev.emit({ type: 'sync.error:action', error, retryable, ...(tx ? { transaction: tx } : {}) });
    else this.#d.onError(error);
  }
}
