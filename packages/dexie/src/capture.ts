/**
 * What one local write means as cells: the fields that changed between the stored row and
 * the new one, each stamped with the write's HLC, and the document's new sync metadata. Pure:
 * the middleware reads the rows and the metadata in the app's transaction and hands them here.
 */
import {
  type CellValue,
  DELETED_FIELD,
  flattenDocument,
  ID_FIELD,
  OmniSyncError,
  isValidId,
  ValidationError,
} from '@omnisync/core';
import type { MetaRecord, OutboxCell } from './stores.js';

/** The cells and new metadata of one document's write (no cells: nothing changed). */
export interface CapturedWrite {
  readonly cells: OutboxCell[];
  readonly meta: MetaRecord;
}

/** Check a primary key is an OmniSync document id; throws {@link ValidationError} saying what to do. */
export function documentId(table: string, key: unknown): string {
  if (!isValidId(key))
    throw new ValidationError(
      `${table}: primary key ${JSON.stringify(key)} is not a document id. Synced tables need string ids (1-512 characters), e.g. crypto.randomUUID().`,
      { details: { collection: table } },
    );
  return key;
}

/** Fields of a row as `[path, value]` pairs (the `id` key left out; Dates become ISO strings). */
export function rowFields(row: unknown): Map<string, CellValue> {
  if (row === undefined || row === null) return new Map();
  if (typeof row !== 'object' || Array.isArray(row))
    throw new ValidationError(`A synced row must be an object, got ${JSON.stringify(row)}.`);
  return new Map(flattenDocument(row as Record<string, unknown>));
}

const same = (a: CellValue, b: CellValue): boolean =>
  a === b || (a !== undefined && b !== undefined && JSON.stringify(a) === JSON.stringify(b));

/**
 * A plain OmniSyncError (code `conflict`): Dexie rewraps errors named like DOM errors
 * (InvalidStateError, …), which would hide the code from the app.
 */
function deletedError(table: string, id: string): OmniSyncError {
  return new OmniSyncError(
    'conflict',
    `${table}/${id} was deleted, and a delete wins over every later write: give the new document a new id.`,
    { details: { collection: table, id } },
  );
}

/**
 * The cells of a put/add of `next` over `prev` (undefined: a new row). Fields equal to the
 * stored ones produce no cell; fields the new row no longer has are unset (a cell without
 * `value`). Throws for a tombstoned document and for values cells cannot hold.
 */
export function captureWrite(
  table: string,
  id: string,
  prev: unknown,
  next: unknown,
  meta: MetaRecord | undefined,
  hlc: string,
): CapturedWrite {
  if (meta?.deleted !== undefined) throw deletedError(table, id);
  const before = rowFields(prev);
  const after = rowFields(next);
  const cells: OutboxCell[] = [];
  const hlcs: Record<string, string> = { ...meta?.hlcs };
  for (const [field, value] of after) {
    if (before.has(field) && same(before.get(field), value)) continue;
    cells.push(
      value === undefined
        ? { collection: table, id, field, hlc }
        : { collection: table, id, field, value, hlc },
    );
    hlcs[field] = hlc;
  }
  for (const field of before.keys()) {
    if (after.has(field)) continue;
    cells.push({ collection: table, id, field, hlc });
    hlcs[field] = hlc;
  }
  return { cells, meta: { table, id, hlcs } };
}

/** The tombstone of a delete; undefined when the document is already deleted. */
export function captureDelete(
  table: string,
  id: string,
  meta: MetaRecord | undefined,
  hlc: string,
): CapturedWrite | undefined {
  if (meta?.deleted !== undefined) return undefined;
  return {
    cells: [{ collection: table, id, field: DELETED_FIELD, value: true, hlc }],
    meta: { table, id, hlcs: {}, deleted: hlc },
  };
}

/** The primary key field of every synced row. */
export const KEY_FIELD = ID_FIELD;
