/**
 * Field-level last-write-wins of remote cells into one stored row, by the per-field HLCs of
 * the metadata store; delete wins. Pure: the bridge reads and writes the rows.
 */
import { type CellValue, cellWins, DELETED_FIELD, type FieldEntry, unflattenDocument } from '@omnisync/core';
import { rowFields } from './capture.js';
import type { MetaRecord, OutboxCell } from './stores.js';

/** What to store after merging remote cells into one document. */
export interface MergeResult {
  /** `put`: store `row`; `delete`: remove the row; `none`: leave it. */
  readonly action: 'put' | 'delete' | 'none';
  readonly row?: Record<string, unknown>;
  /** The new metadata (undefined: unchanged). */
  readonly meta?: MetaRecord;
}

/** Merge `cells` (all of document `table/id`) into the stored `row` and `meta`. */
export function mergeRemote(
  table: string,
  id: string,
  row: unknown,
  meta: MetaRecord | undefined,
  cells: readonly OutboxCell[],
): MergeResult {
  let deleted = meta?.deleted;
  for (const c of cells)
    if (c.field === DELETED_FIELD && c.value === true && (deleted === undefined || c.hlc > deleted))
      deleted = c.hlc;
  if (deleted !== undefined) {
    if (deleted === meta?.deleted) return { action: 'none' };
    return { action: row === undefined ? 'none' : 'delete', meta: { table, id, hlcs: {}, deleted } };
  }
  const fields = rowFields(row);
  const hlcs: Record<string, string> = { ...meta?.hlcs };
  let changed = false;
  for (const c of cells) {
    if (c.field === DELETED_FIELD) continue;
    const known = hlcs[c.field];
    // A field the app wrote before the bridge was installed has no HLC: any remote write beats it.
    const current = known === undefined ? undefined : { value: fields.get(c.field), hlc: known };
    const value = c.value as CellValue;
    if (!cellWins(c.hlc, value, current)) continue;
    hlcs[c.field] = c.hlc;
    if (value === undefined) fields.delete(c.field);
    else fields.set(c.field, value);
    changed = true;
  }
  if (!changed) return { action: 'none' };
  const newMeta: MetaRecord = { table, id, hlcs };
  if (fields.size === 0) return { action: row === undefined ? 'none' : 'delete', meta: newMeta };
  const entries: FieldEntry[] = [...fields].map(([field, value]) => ({
    field,
    value,
    hlc: hlcs[field] ?? '',
  }));
  return { action: 'put', row: unflattenDocument(id, entries), meta: newMeta };
}

/**
 * Undo the cells of a rejected mutation on one document, then merge the server's cells of
 * it: fields still holding the rejected write (same HLC) are dropped and take the server's
 * value; a rejected delete is lifted. Later local writes of other fields are kept.
 */
export function revertRejected(
  table: string,
  id: string,
  row: unknown,
  meta: MetaRecord | undefined,
  rejected: readonly OutboxCell[],
  server: readonly OutboxCell[],
): MergeResult {
  const fields = rowFields(row);
  const hlcs: Record<string, string> = { ...meta?.hlcs };
  let deleted = meta?.deleted;
  let touched = false;
  for (const c of rejected) {
    if (c.field === DELETED_FIELD) {
      if (deleted === c.hlc) {
        deleted = undefined;
        touched = true;
      }
    } else if (hlcs[c.field] === c.hlc) {
      delete hlcs[c.field];
      fields.delete(c.field);
      touched = true;
    }
  }
  if (!touched) return { action: 'none' };
  const base: MetaRecord = deleted === undefined ? { table, id, hlcs } : { table, id, hlcs, deleted };
  const entries: FieldEntry[] = [...fields].map(([field, value]) => ({
    field,
    value,
    hlc: hlcs[field] ?? '',
  }));
  const undone = entries.length > 0 ? unflattenDocument(id, entries) : undefined;
  const merged = mergeRemote(table, id, undone, base, server);
  if (merged.action !== 'none') return merged;
  if (deleted !== undefined) return { action: 'none', meta: base };
  return undone ? { action: 'put', row: undone, meta: base } : { action: 'delete', meta: base };
}
