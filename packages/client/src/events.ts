/**
 * The client's typed event stream: seed 004's lifecycle hook names, plus transaction state
 * changes. Events are a tagged union on `type`; handlers run synchronously, and a handler
 * that throws is reported to the client's `onError` without disturbing the others.
 */
import type { Transaction } from './transactions/transaction.js';
import type { PendingMutation, TransactionState } from './types.js';
import type { SubscriptionStatus } from './sources/types.js';

/** Every event the client emits. */
export type ClientEvent =
  /** A local write was captured and queued (seed 004): one per transaction committed. */
  | {
      readonly type: 'sync.op:action:captured';
      readonly transaction: Transaction;
      readonly mutations: readonly PendingMutation[];
    }
  /** A transaction's writes were accepted by a source (seed 004's "batch pushed"). */
  | {
      readonly type: 'sync.push:action:after';
      readonly transaction: Transaction;
      readonly source: string;
      readonly attempt: number;
    }
  /** A source delivered authoritative data. */
  | {
      readonly type: 'sync.pull:action:received';
      readonly source: string;
      readonly collection?: string;
      /** Documents (document sources) or cells (cell sources) received. */
      readonly count: number;
    }
  /** Remote data reached a document with pending local writes. */
  | {
      readonly type: 'sync.conflict:action:detected';
      readonly collection: string;
      readonly id: string;
      readonly pending: readonly PendingMutation[];
    }
  /** A sync operation failed: a persist attempt (retryable or not) or a source's background work. */
  | {
      readonly type: 'sync.error:action';
      readonly error: Error;
      readonly retryable: boolean;
      readonly source?: string;
      readonly transaction?: Transaction;
      readonly attempt?: number;
      readonly retry_scheduled_for?: Date;
    }
  /** A source's connection status changed. */
  | {
      readonly type: 'sync.subscription:action:statusChange';
      readonly source: string;
      readonly status: SubscriptionStatus;
      readonly previous: SubscriptionStatus;
    }
  /** A transaction moved from one state to another. */
  | {
      readonly type: 'transaction:stateChange';
      readonly transaction: Transaction;
      readonly from: TransactionState;
      readonly to: TransactionState;
    };

/** The names of {@link ClientEvent}s. */
export type ClientEventType = ClientEvent['type'];

/** The event of one type. */
export type ClientEventOf<K extends ClientEventType> = Extract<ClientEvent, { type: K }>;

/** Subscribe to client events. */
export interface EventStream {
  /** Listen to one kind of event. Returns unsubscribe. */
  on<K extends ClientEventType>(type: K, handler: (event: ClientEventOf<K>) => void): () => void;
  /** Listen to every event. Returns unsubscribe. */
  onAny(handler: (event: ClientEvent) => void): () => void;
}

/** @internal The emitting side. */
export class EventHub implements EventStream {
  readonly #byType = new Map<ClientEventType, Set<(e: any) => void>>();
  readonly #any = new Set<(e: ClientEvent) => void>();
  readonly #onError: (error: unknown) => void;

  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  on<K extends ClientEventType>(type: K, handler: (event: ClientEventOf<K>) => void): () => void {
    let set = this.#byType.get(type);
    if (!set) this.#byType.set(type, (set = new Set()));
    set.add(handler);
    return () => void set.delete(handler);
  }

  onAny(handler: (event: ClientEvent) => void): () => void {
    this.#any.add(handler);
    return () => void this.#any.delete(handler);
  }

  /** Whether anyone listens to `type` (lets hot paths skip building events). */
  wants(type: ClientEventType): boolean {
    return this.#any.size > 0 || (this.#byType.get(type)?.size ?? 0) > 0;
  }

  emit(event: ClientEvent): void {
    const set = this.#byType.get(event.type);
    if (set) for (const h of [...set]) this.#call(h, event);
    if (this.#any.size > 0) for (const h of [...this.#any]) this.#call(h, event);
  }

  #call(h: (e: ClientEvent) => void, e: ClientEvent): void {
    try {
      h(e);
    } catch (err) {
      this.#onError(err);
    }
  }
}
