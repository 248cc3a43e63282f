/**
 * Validation and normalisation of a {@link PersistenceBatch}, shared by every backend so
 * they accept and refuse exactly the same input and store exactly the same values.
 *
 * A batch is checked completely before anything is written: one bad cell, transaction or
 * meta value refuses the whole batch with a typed error, so nothing is half-applied.
 * Everything kept is a deep copy in JSON form (keys whose value is `undefined` inside
 * objects are dropped, `-0` becomes `0`), so the caller may mutate its objects afterwards
 * and all backends read back identical values. A cell's own `value: undefined` ("field
 * unset") is kept.
 */
import {
  type Cell,
  type CellValue,
  type JsonValue,
  assertStorableValue,
  InvalidValueError,
  isValidCollectionName,
  isValidId,
  validateCell,
  ValidationError,
} from '@omnisync/core';
import type { DocumentRef, PersistedTransaction, PersistenceBatch } from './types.js';

/** A validated batch in the form the backends apply, in this order. */
export interface NormalizedBatch {
  /** Applied first: every cell of these documents is dropped. */
  readonly forgetDocuments: readonly DocumentRef[];
  /** Applied in order: upsert by (collection, id, field); a `_deleted` cell first drops the document's other cells. */
  readonly cells: readonly Cell[];
  /** Ids to remove. */
  readonly deleteTransactions: readonly string[];
  /**
   * Upserts, one per id (a repeated id keeps its first position and its last value), with
   * the ids deleted in the same batch left out: within one batch a delete wins.
   */
  readonly putTransactions: readonly PersistedTransaction[];
  /** `[key, value]`; `null` removes the key. */
  readonly meta: readonly (readonly [string, JsonValue | null])[];
}

const BATCH_KEYS = new Set(['forgetDocuments', 'cells', 'putTransactions', 'deleteTransactions', 'meta']);

/** A deep copy of a JSON value in its JSON form (what every backend stores). */
export function copyJson<T extends CellValue>(value: T): T {
  if (value === null || value === undefined) return value;
  if (typeof value === 'object') return JSON.parse(JSON.stringify(value)) as T;
  if (Object.is(value, -0)) return 0 as T;
  return value;
}

/** A copy of a cell with its value deep-copied. */
export function copyCell(c: Cell): Cell {
  return { collection: c.collection, id: c.id, field: c.field, value: copyJson(c.value), hlc: c.hlc };
}

/**
 * Check a batch and return its normalised copy, or `undefined` when it writes nothing.
 * Throws {@link ValidationError}, {@link InvalidCellError} or {@link InvalidValueError}
 * naming the first problem.
 */
export function normalizeBatch(batch: PersistenceBatch): NormalizedBatch | undefined {
  if (typeof batch !== 'object' || batch === null || Array.isArray(batch))
    throw new ValidationError(
      `A persistence batch must be an object { cells?, putTransactions?, deleteTransactions?, meta? }; got ${describe(batch)}.`,
    );
  for (const key of Object.keys(batch)) {
    if (!BATCH_KEYS.has(key))
      throw new ValidationError(
        `A persistence batch has an unknown key ${JSON.stringify(key)}; the keys are forgetDocuments, cells, putTransactions, deleteTransactions and meta.`,
        { details: { key } },
      );
  }
  const forgetDocuments = normalizeForgets(batch.forgetDocuments);
  const cells = normalizeCells(batch.cells);
  const deleteTransactions = normalizeDeletes(batch.deleteTransactions);
  const putTransactions = normalizePuts(batch.putTransactions, new Set(deleteTransactions));
  const meta = normalizeMeta(batch.meta);
  if (
    forgetDocuments.length +
      cells.length +
      deleteTransactions.length +
      putTransactions.length +
      meta.length ===
    0
  )
    return undefined;
  return { forgetDocuments, cells, deleteTransactions, putTransactions, meta };
}

function normalizeCells(cells: unknown): Cell[] {
  if (cells === undefined) return [];
  if (!Array.isArray(cells))
    throw new ValidationError(`batch.cells must be an array of cells; got ${describe(cells)}.`);
  const out: Cell[] = new Array<Cell>(cells.length);
  for (let i = 0; i < cells.length; i++) {
    const c: unknown = cells[i];
    validateCell(c, i);
    out[i] = copyCell(c);
  }
  return out;
}

function normalizeForgets(docs: unknown): DocumentRef[] {
  if (docs === undefined) return [];
  if (!Array.isArray(docs))
    throw new ValidationError(
      `batch.forgetDocuments must be an array of {collection, id}; got ${describe(docs)}.`,
    );
  const out: DocumentRef[] = new Array<DocumentRef>(docs.length);
  for (let i = 0; i < docs.length; i++) {
    const d: unknown = docs[i];
    const { collection, id } = (typeof d === 'object' && d !== null ? d : {}) as Record<string, unknown>;
    if (!isValidCollectionName(collection) || !isValidId(id))
      throw new ValidationError(
        `batch.forgetDocuments[${i}] is ${describe(d)}; give {collection, id} with a valid collection name and document id.`,
        { details: { index: i } },
      );
    out[i] = { collection, id };
  }
  return out;
}

function normalizeDeletes(ids: unknown): string[] {
  if (ids === undefined) return [];
  if (!Array.isArray(ids))
    throw new ValidationError(
      `batch.deleteTransactions must be an array of transaction ids; got ${describe(ids)}.`,
    );
  for (let i = 0; i < ids.length; i++) {
    if (typeof ids[i] !== 'string')
      throw new ValidationError(
        `batch.deleteTransactions[${i}] is ${describe(ids[i])}; transaction ids are strings.`,
        { details: { index: i } },
      );
  }
  return ids.slice() as string[];
}

function normalizePuts(txs: unknown, deleted: ReadonlySet<string>): PersistedTransaction[] {
  if (txs === undefined) return [];
  if (!Array.isArray(txs))
    throw new ValidationError(
      `batch.putTransactions must be an array of transactions; got ${describe(txs)}.`,
    );
  const byId = new Map<string, PersistedTransaction>();
  for (let i = 0; i < txs.length; i++) {
    const tx: unknown = txs[i];
    if (typeof tx !== 'object' || tx === null || Array.isArray(tx))
      throw new ValidationError(
        `batch.putTransactions[${i}] is ${describe(tx)}; a transaction is a plain object with a string id.`,
        {
          details: { index: i },
        },
      );
    const id = (tx as { id?: unknown }).id;
    if (!isValidId(id))
      throw new ValidationError(
        `batch.putTransactions[${i}] has id ${describe(id)}; a transaction needs a non-empty string id of at most 512 characters.`,
        { details: { index: i } },
      );
    assertStorableValue(tx, `batch.putTransactions[${i}] (${id})`);
    if (!deleted.has(id)) byId.set(id, copyJson(tx as JsonValue) as unknown as PersistedTransaction);
  }
  return [...byId.values()];
}

function normalizeMeta(meta: unknown): [string, JsonValue | null][] {
  if (meta === undefined) return [];
  if (typeof meta !== 'object' || meta === null || Array.isArray(meta))
    throw new ValidationError(`batch.meta must be a plain object of named values; got ${describe(meta)}.`);
  const out: [string, JsonValue | null][] = [];
  for (const key of Object.keys(meta)) {
    const value: unknown = (meta as Record<string, unknown>)[key];
    if (key.length === 0)
      throw new ValidationError('batch.meta has an empty key; meta keys are non-empty strings.');
    if (value === undefined)
      throw new InvalidValueError(
        `batch.meta.${key} is undefined; set a JSON value, or null to remove the key.`,
        { details: { key } },
      );
    assertStorableValue(value, `batch.meta.${key}`);
    out.push([key, copyJson(value)]);
  }
  return out;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return JSON.stringify(v.length > 60 ? `${v.slice(0, 60)}…` : v);
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}
