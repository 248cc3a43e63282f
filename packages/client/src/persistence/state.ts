/**
 * The persisted state held in memory, with the batch semantics of the contract. The memory
 * backend stores into it; the file backend replays its journal into it on load.
 */
import { type Cell, type JsonValue, DELETED_FIELD } from '@omnisync/core';
import { copyCell, copyJson, type NormalizedBatch } from './batch.js';
import type { PersistedState, PersistedTransaction } from './types.js';

/** Collection names cannot contain NUL, so this key is unambiguous. */
const docKey = (collection: string, id: string) => `${collection}\u0000${id}`;

/**
 * A document's cells: a small array while the document has few fields (most have a handful:
 * far cheaper than a Map per document), a Map by field once it grows.
 */
type DocCells = Cell[] | Map<string, Cell>;
const SMALL_DOC = 16;

/** Cells, transactions and meta in memory; values are owned (copied in and out by callers). */
export class StateModel {
  readonly #docs = new Map<string, DocCells>();
  readonly #transactions = new Map<string, PersistedTransaction>();
  readonly #meta = new Map<string, JsonValue>();

  /** Apply a batch; its objects become owned by the model (pass copies). */
  apply(batch: NormalizedBatch): void {
    for (const d of batch.forgetDocuments) this.#docs.delete(docKey(d.collection, d.id));
    this.applyCells(batch.cells);
    for (const id of batch.deleteTransactions) this.#transactions.delete(id);
    // Map.set on an existing key keeps its position: the first put decides the order.
    for (const tx of batch.putTransactions) this.#transactions.set(tx.id, tx);
    for (const [key, value] of batch.meta) {
      if (value === null) this.#meta.delete(key);
      else this.#meta.set(key, value);
    }
  }

  /** Upsert cells in order; a tombstone first drops its document's other cells. */
  applyCells(cells: readonly Cell[]): void {
    const docs = this.#docs;
    for (const cell of cells) {
      const key = docKey(cell.collection, cell.id);
      const doc = docs.get(key);
      if (doc === undefined || cell.field === DELETED_FIELD) {
        docs.set(key, [cell]);
      } else if (Array.isArray(doc)) {
        const i = doc.findIndex((c) => c.field === cell.field);
        if (i >= 0) doc[i] = cell;
        else if (doc.length < SMALL_DOC) doc.push(cell);
        else docs.set(key, new Map([...doc, cell].map((c) => [c.field, c])));
      } else {
        doc.set(cell.field, cell);
      }
    }
  }

  /**
   * Set one document's cells whole (snapshot load: each document appears once, its cells
   * distinct by field and, for a tombstone, only the `_deleted` cell). Owns `cells`.
   */
  putDocument(collection: string, id: string, cells: Cell[]): void {
    this.#docs.set(
      docKey(collection, id),
      cells.length <= SMALL_DOC ? cells : new Map(cells.map((c) => [c.field, c])),
    );
  }

  /** Each document's cells (the model's own objects; do not modify). */
  *documents(): IterableIterator<readonly Cell[]> {
    for (const doc of this.#docs.values()) yield Array.isArray(doc) ? doc : [...doc.values()];
  }

  /** Replace the transaction list (snapshot load), keeping the given order. */
  setTransactions(transactions: readonly PersistedTransaction[]): void {
    this.#transactions.clear();
    for (const tx of transactions) this.#transactions.set(tx.id, tx);
  }

  /** Set one meta value (snapshot load). */
  setMeta(key: string, value: JsonValue): void {
    this.#meta.set(key, value);
  }

  /** Number of cells held. */
  get cellCount(): number {
    let n = 0;
    for (const doc of this.#docs.values()) n += Array.isArray(doc) ? doc.length : doc.size;
    return n;
  }

  /**
   * The state as `load` returns it. With `copy`, every value is a fresh deep copy so the
   * caller cannot reach the model's objects; without, the model's own objects (for a
   * snapshot that is encoded at once).
   */
  toState(copy: boolean): PersistedState {
    const cells: Cell[] = [];
    for (const fields of this.#docs.values())
      for (const c of fields.values()) cells.push(copy ? copyCell(c) : c);
    const transactions: PersistedTransaction[] = [];
    for (const tx of this.#transactions.values())
      transactions.push(
        copy ? (copyJson(tx as unknown as JsonValue) as unknown as PersistedTransaction) : tx,
      );
    const meta: Record<string, JsonValue> = {};
    for (const [key, value] of this.#meta) defineOwn(meta, key, copy ? copyJson(value) : value);
    return { cells, transactions, meta };
  }
}

/** Set an own property even for keys like `__proto__`, which plain assignment would not. */
export function defineOwn(obj: Record<string, JsonValue>, key: string, value: JsonValue): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}
