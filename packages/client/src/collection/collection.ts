/**
 * A collection: reactive reads of the visible documents and writes that return their
 * Transaction (seed 001/002). Reads inside a core `computed`/`effect` subscribe to exactly
 * what they read: `get(id)` to that document, `all()`/`count()`/`find()` to the collection.
 */
import {
  type CollectionDef,
  coerceFromStorage,
  type DocChange,
  type HlcClock,
  type ReadonlySignal,
  type Signal,
  signal,
  ValidationError,
} from '@omnisync/core';
import type { Source } from '../sources/types.js';
import type { ClientStore } from '../store/client-store.js';
import type { TransactionEngine } from '../transactions/engine.js';
import type { MutationRecord } from '../transactions/mutation.js';
import type { Transaction } from '../transactions/transaction.js';
import type { Doc, MutationStrategy } from '../types.js';
import { type PrepareContext, prepareBatch, prepareDelete, prepareInsert, prepareUpdate } from './prepare.js';

/** Loading state of a collection's source. */
export type CollectionStatus = 'loading' | 'ready' | 'error';

/** Options of one write. */
export interface WriteOptions {
  /** `false`: nothing is visible until the backend confirms (seed 000's pessimistic write). */
  readonly optimistic?: boolean;
  /** Carried on the mutation (seed 001 `metadata`). */
  readonly metadata?: unknown;
}

/** An update: a patch of fields (merged deeply, like cells), or a function changing a draft. */
export type UpdateChange<T> = Partial<T> | ((draft: T) => void | T);

/** @internal What a collection needs from its client. */
export interface CollectionHost {
  readonly store: ClientStore;
  readonly engine: TransactionEngine;
  readonly hlc: HlcClock;
  now(): number;
  transaction(
    fn: (tx: Transaction) => unknown,
    options?: { strategy?: 'ordered' | 'parallel'; optimistic?: boolean; metadata?: unknown },
  ): Transaction;
}

/** @internal Everything a collection is built from. */
export interface CollectionSetup {
  readonly id: string;
  readonly source: Source;
  readonly def: CollectionDef<string, any, any> | undefined;
  readonly strategy: MutationStrategy;
}

/** A collection of documents of type `T`. */
export class Collection<T extends { id: string } = Doc> {
  /** The collection's name (its id in the client's registry). */
  readonly id: string;
  /** Where its data comes from and goes to. */
  readonly source: Source;
  /** Ordered (default) or parallel, with the optional merge. */
  readonly strategy: MutationStrategy;
  /** The schema definition, when one was given. */
  readonly def: CollectionDef<string, any, any> | undefined;
  readonly #host: CollectionHost;
  readonly #status: Signal<CollectionStatus> = signal<CollectionStatus>('loading');
  #allCache: readonly T[] | undefined;
  readonly #ctx: { -readonly [K in keyof PrepareContext]: PrepareContext[K] };
  readonly #txOptions: { strategy: 'ordered' | 'parallel' };
  #dateAt = -1;
  #date = new Date(0);
  #allRev = -1;
  /** Resolves once the source delivered its initial data. */
  readonly ready: Promise<void>;
  #markReady!: () => void;
  #markError!: (e: Error) => void;

  /** @internal Use `client.collection()` or `createCollection()`. */
  constructor(host: CollectionHost, setup: CollectionSetup) {
    this.#host = host;
    this.id = setup.id;
    this.source = setup.source;
    this.def = setup.def;
    this.strategy = setup.strategy;
    this.ready = new Promise<void>((resolve, reject) => {
      this.#markReady = resolve;
      this.#markError = reject;
    });
    this.ready.catch(() => {});
    const def = setup.def;
    this.#txOptions = { strategy: setup.strategy.type };
    this.#ctx = {
      collection: setup.id,
      store: host.store,
      hlc: host.hlc,
      def,
      refMany: def && def.refMany.size > 0 ? def.refMany : undefined,
      metadata: undefined,
      createdAt: this.#date,
    };
    host.store.configure(setup.id, {
      ...(def && def.readPlan.length > 0 ? { decode: (d: Doc) => coerceFromStorage(def, d) as Doc } : {}),
      ...(setup.strategy.merge ? { merge: setup.strategy.merge } : {}),
      ...(def && def.refMany.size > 0 ? { refMany: def.refMany } : {}),
    });
  }

  /** Loading state of the source (reactive). */
  get status(): ReadonlySignal<CollectionStatus> {
    return this.#status;
  }

  /** @internal */
  setStatus(status: CollectionStatus, error?: Error): void {
    this.#status.set(status);
    if (status === 'ready') this.#markReady();
    else if (status === 'error' && error) this.#markError(error);
  }

  // ── reads ────────────────────────────────────────────────────────────────────────

  /** The visible document, or undefined. Reactive per document. */
  get(id: string): T | undefined {
    this.#host.store.trackDocument(this.id, id);
    return this.#host.store.get(this.id, id) as T | undefined;
  }

  /** True when the document is visible. Reactive per document. */
  has(id: string): boolean {
    this.#host.store.trackDocument(this.id, id);
    return this.#host.store.has(this.id, id);
  }

  /** Every visible document (the same array until the collection changes). Reactive. */
  all(): readonly T[] {
    this.#host.store.trackCollection(this.id);
    const rev = this.#host.store.revision(this.id);
    if (this.#allCache === undefined || this.#allRev !== rev) {
      this.#allCache = Object.freeze([...this.#host.store.documents(this.id)] as T[]);
      this.#allRev = rev;
    }
    return this.#allCache;
  }

  /** Number of visible documents. Reactive. */
  count(): number {
    this.#host.store.trackCollection(this.id);
    return this.#host.store.count(this.id);
  }

  /** The visible documents matching `predicate`. Reactive. */
  find(predicate: (doc: T) => boolean): T[] {
    return this.all().filter(predicate);
  }

  /** Listen to this collection's visible changes (one call per transaction or sync batch). */
  subscribe(listener: (changes: readonly DocChange[]) => void): () => void {
    return this.#host.store.subscribe((changes) => {
      const mine = changes.filter((c) => c.collection === this.id);
      if (mine.length > 0) listener(mine);
    });
  }

  // ── writes ───────────────────────────────────────────────────────────────────────

  /**
   * Insert one document or many (one transaction). Throws, changing nothing, on a schema
   * failure (SchemaError), a missing id (ValidationError), a value that cannot be stored
   * (InvalidValueError) or an id in use (DuplicateKeyError).
   */
  insert(docs: T | readonly T[], options?: WriteOptions): Transaction {
    const tx = this.#begin(options);
    const ctx = this.#ctx;
    let records: MutationRecord[];
    if (Array.isArray(docs)) {
      const list = docs as readonly T[];
      const seen = list.length > 1 ? new Set<string>() : undefined;
      records = prepareBatch(list, (doc, i) => prepareInsert(ctx, tx, doc, seen, i));
    } else records = [prepareInsert(ctx, tx, docs, undefined)];
    return this.#end(tx, records);
  }

  /**
   * Update one document by a patch (fields merged deeply; `undefined` unsets a field) or a
   * draft function. Throws NotFoundError when the document is not visible.
   */
  update(id: string, change: UpdateChange<T>, options?: WriteOptions): Transaction {
    const tx = this.#begin(options);
    const ctx = this.#ctx;
    return this.#end(tx, [prepareUpdate(ctx, tx, id, change)]);
  }

  /** Delete one document or many (one transaction). Throws NotFoundError when one is not visible. */
  delete(ids: string | readonly string[], options?: WriteOptions): Transaction {
    const list = typeof ids === 'string' ? [ids] : ids;
    const tx = this.#begin(options);
    const ctx = this.#ctx;
    const seen = new Set<string>();
    const records = prepareBatch(list, (id, i) => {
      if (seen.has(id))
        throw new ValidationError(
          `delete from "${this.id}": id ${JSON.stringify(id)} is listed twice; list each id once.`,
          {
            details: { collection: this.id, id },
          },
        );
      seen.add(id);
      return prepareDelete(ctx, tx, id, i);
    });
    return this.#end(tx, records);
  }

  /** Seed 001's `withMutation`: several writes (to any collections) as one transaction. */
  withMutation(
    fn: (tx: Transaction) => unknown,
    options?: { strategy?: 'ordered' | 'parallel'; optimistic?: boolean; metadata?: unknown },
  ): Transaction {
    return this.#host.transaction(fn, { strategy: this.strategy.type, ...options });
  }

  /** The transaction a write goes into (the ambient one, or a new one) and its prepare context. */
  #begin(options: WriteOptions | undefined): Transaction {
    const engine = this.#host.engine;
    const ambient = engine.ambient;
    const tx =
      ambient ??
      engine.create(
        options?.optimistic === false ? { strategy: this.strategy.type, optimistic: false } : this.#txOptions,
      );
    // One context per collection, refreshed per write: writes in a loop allocate nothing here.
    const ctx = this.#ctx;
    ctx.metadata = options?.metadata;
    const now = this.#host.now();
    if (now !== this.#dateAt) {
      this.#dateAt = now;
      this.#date = new Date(now);
    }
    ctx.createdAt = this.#date;
    return tx;
  }

  #end(tx: Transaction, records: MutationRecord[]): Transaction {
    const engine = this.#host.engine;
    engine.addMutations(tx, records, this.strategy.type);
    if (engine.ambient !== tx) engine.commit(tx);
    return tx;
  }
}
