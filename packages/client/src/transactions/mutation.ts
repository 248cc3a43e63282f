/**
 * One write to one document, as the engine keeps it: seed 001's PendingMutation fields plus
 * what it writes (already validated, flattened and stamped).
 *
 * The written fields are kept compactly, as one array `[field, value, field, value, …]`
 * under the mutation's single HLC, rather than as one Cell object per field: a write lives
 * until it is confirmed, and a bulk insert of 100,000 documents would otherwise hold (and
 * make the garbage collector copy) 700,000 extra objects. Cells are built when needed.
 */
import type { Cell, CellValue, Replica } from '@omnisync/core';
import type { Slot } from '../store/client-store.js';
import type { Doc, MutationState, MutationType, PendingMutation } from '../types.js';
import type { Transaction } from './transaction.js';

/** The `original` of an insert: frozen so one shared object can serve them all. */
export const EMPTY_DOC: Readonly<Record<string, any>> = Object.freeze({});

const NO_DATA: unknown[] = [];

/**
 * Marks an insert of a flat document whose fields are exactly its `modified` document's (the
 * common case): no separate array is kept; the fields are read from the document when needed.
 */
export const FROM_DOC: unique symbol = Symbol('fromDoc');

/** @internal A mutation with its written fields and its transaction. */
export class MutationRecord implements PendingMutation {
  readonly #id: string | number;
  readonly type: MutationType;
  readonly collection: string;
  readonly key: string;
  /** The write's HLC. @internal Re-stamped once, before it is visible, when its transaction already wrote the document. */
  hlc: string;
  readonly original: Record<string, any>;
  readonly modified: Doc;
  readonly changes: Record<string, any>;
  readonly metadata: unknown;
  readonly created_at: Date;
  /**
   * Field paths and values written, interleaved (`[field0, value0, field1, value1, …]`); a
   * delete writes `['_deleted', true]`. Released once the transaction finished.
   */
  #data: unknown[] | typeof FROM_DOC;
  readonly tx: Transaction;
  /** @internal Set by the store while this write is being confirmed. */
  confirmMark = 0;
  /** @internal The store's slot of this write's document while the write is on the overlay. */
  slot: Slot | undefined = undefined;

  /** `id`: the mutation id, or its index in the transaction (the id is then `<tx id>:<index>`). */
  constructor(
    tx: Transaction,
    id: string | number,
    type: MutationType,
    collection: string,
    key: string,
    hlc: string,
    original: Record<string, any>,
    modified: Doc,
    changes: Record<string, any>,
    data: unknown[] | typeof FROM_DOC,
    metadata: unknown,
    createdAt: Date,
  ) {
    this.tx = tx;
    this.#id = id;
    this.type = type;
    this.collection = collection;
    this.key = key;
    this.hlc = hlc;
    this.original = original;
    this.modified = modified;
    this.changes = changes;
    this.#data = data;
    this.metadata = metadata;
    this.created_at = createdAt;
  }

  get mutationId(): string {
    const id = this.#id;
    return typeof id === 'string' ? id : `${this.tx.id}:${id}`;
  }
  get state(): MutationState {
    return this.tx.mutationState;
  }
  get updated_at(): Date {
    return this.tx.updated_at;
  }

  /**
   * Field paths and values written, interleaved (`[field0, value0, field1, value1, …]`); a
   * delete writes `['_deleted', true]`. Empty once the transaction finished.
   */
  get data(): unknown[] {
    const d = this.#data;
    if (d !== FROM_DOC) return d;
    const doc = this.modified as Record<string, unknown>;
    const out: unknown[] = [];
    for (const k in doc) out.push(k, doc[k]);
    return out;
  }

  /** The cells this write sets. */
  get cells(): Cell[] {
    const out: Cell[] = [];
    this.pushCells(out);
    return out;
  }

  /** Append this write's cells to `out`. */
  pushCells(out: Cell[]): void {
    const { collection, key: id, hlc } = this;
    const d = this.#data;
    if (d === FROM_DOC) {
      // `modified` holds `id` first, then the written fields: exactly the insert's cells.
      const doc = this.modified as Record<string, unknown>;
      for (const field in doc) out.push({ collection, id, field, value: doc[field] as CellValue, hlc });
      return;
    }
    for (let i = 0; i < d.length; i += 2)
      out.push({ collection, id, field: d[i] as string, value: d[i + 1] as CellValue, hlc });
  }

  /** Write this write's cells into an open replica batch ({@link Replica.beginWrite}): no cell objects. */
  writeTo(r: Replica): void {
    const { collection, key: id, hlc } = this;
    const d = this.#data;
    r.at(collection, id, this.slot); // the slot is the document's base entry: no lookup
    if (d === FROM_DOC) {
      r.writeDoc(collection, id, this.modified as Record<string, CellValue>, hlc);
      return;
    }
    if (this.type === 'insert') r.sizeHint(d.length >> 1);
    for (let i = 0; i < d.length; i += 2) r.write(collection, id, d[i] as string, d[i + 1] as CellValue, hlc);
  }

  /** The field paths this write sets. */
  fields(): string[] {
    const d = this.#data;
    if (d === FROM_DOC) return Object.keys(this.modified);
    const out: string[] = new Array(d.length >> 1);
    for (let i = 0; i < d.length; i += 2) out[i >> 1] = d[i] as string;
    return out;
  }

  /** @internal Drop the written fields (the transaction finished; only inspection remains). */
  release(): void {
    this.#data = NO_DATA;
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
