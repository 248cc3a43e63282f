/**
 * One write to one document, as the engine keeps it: seed 001's PendingMutation fields plus
 * the cells it writes (already validated, flattened and stamped).
 */
import type { Cell } from '@omnisync/core';
import type { Doc, MutationState, MutationType, PendingMutation } from '../types.js';
import type { Transaction } from './transaction.js';

/** The `original` of an insert: frozen so one shared object can serve them all. */
export const EMPTY_DOC: Readonly<Record<string, any>> = Object.freeze({});

/** @internal A mutation with its cells and its transaction. */
export class MutationRecord implements PendingMutation {
  readonly mutationId: string;
  readonly type: MutationType;
  readonly collection: string;
  readonly key: string;
  readonly hlc: string;
  readonly original: Record<string, any>;
  readonly modified: Doc;
  readonly changes: Record<string, any>;
  readonly metadata: unknown;
  readonly created_at: Date;
  /** The cells this write sets (a delete: the one tombstone cell). */
  readonly cells: Cell[];
  readonly tx: Transaction;
  /** @internal Set by the store while this write is being confirmed. */
  confirmMark = 0;

  constructor(
    tx: Transaction,
    mutationId: string,
    type: MutationType,
    collection: string,
    key: string,
    hlc: string,
    original: Record<string, any>,
    modified: Doc,
    changes: Record<string, any>,
    cells: Cell[],
    metadata: unknown,
    createdAt: Date,
  ) {
    this.tx = tx;
    this.mutationId = mutationId;
    this.type = type;
    this.collection = collection;
    this.key = key;
    this.hlc = hlc;
    this.original = original;
    this.modified = modified;
    this.changes = changes;
    this.cells = cells;
    this.metadata = metadata;
    this.created_at = createdAt;
  }

  get state(): MutationState {
    return this.tx.mutationState;
  }
  get updated_at(): Date {
    return this.tx.updated_at;
  }

  /** A plain view (seed 001 fields), for logs, devtools and persist callbacks that serialise. */
  toJSON(): PendingMutation {
    return {
      mutationId: this.mutationId,
      original: this.original,
      modified: this.modified,
      changes: this.changes,
      metadata: this.metadata,
      created_at: this.created_at,
      updated_at: this.updated_at,
      state: this.state,
      type: this.type,
      collection: this.collection,
      key: this.key,
      hlc: this.hlc,
    };
  }
}
