/**
 * Row-level pieces both storages share (SQLite, Postgres): decoding a stored cell, rebuilding
 * a document's priors from the logged changes, and grouping scanned rows into documents.
 */
import type { CellValue, JsonValue } from '@omnisync/core';
import type { PriorCell, Priors, StoredCell, StoredDoc } from './storage.js';

/** A stored cell row: the value as JSON text (`null` = unset). */
export interface CellRow {
  field: string;
  value: string | null;
  hlc: string;
  version: number;
}

/** One logged prior cell: `[field, version, value?]` (version 0 = absent, no value = unset). */
export type StoredPrior = [field: string, version: number, value?: unknown];

export const decodeValue = (v: string | null): CellValue =>
  v === null ? undefined : (JSON.parse(v) as JsonValue);

export const toStoredCell = (r: CellRow): StoredCell => ({
  field: r.field,
  value: decodeValue(r.value),
  hlc: r.hlc,
  version: r.version,
});

/**
 * A document's priors after `cursor`, newest first, from its logged prior rows (JSON of
 * {@link StoredPrior}s, newest first) and its cells' current versions: undoing the logged
 * changes on the versions, a document whose every remaining cell was written after the cursor
 * was inserted after it (inserts log no priors), which ends the list with `null`.
 */
export function undoPriors(
  priorRowsNewestFirst: readonly string[],
  cellVersions: readonly { field: string; version: number }[],
  cursor: number,
): Priors[] {
  const versions = new Map<string, number>();
  for (const c of cellVersions) versions.set(c.field, c.version);
  const out: Priors[] = [];
  for (const row of priorRowsNewestFirst) {
    const prior: PriorCell[] = [];
    for (const [field, version, ...value] of JSON.parse(row) as StoredPrior[]) {
      if (version === 0) versions.delete(field);
      else versions.set(field, version);
      prior.push(value.length === 0 ? [field] : [field, value[0] as JsonValue]);
    }
    out.push(prior);
  }
  let inserted = versions.size > 0;
  for (const v of versions.values()) if (v <= cursor) inserted = false;
  if (inserted) out.push(null);
  return out;
}

/** Groups scanned rows (ordered by collection, id) into documents, across pages. */
export class DocGrouper {
  #pending: { collection: string; id: string; cells: StoredCell[] } | undefined;

  /** Add a row; returns the previous document when this row starts another. */
  add(r: CellRow & { collection: string; id: string }): StoredDoc | undefined {
    let done: StoredDoc | undefined;
    const p = this.#pending;
    if (p && (p.collection !== r.collection || p.id !== r.id)) {
      done = p;
      this.#pending = undefined;
    }
    (this.#pending ??= { collection: r.collection, id: r.id, cells: [] }).cells.push(toStoredCell(r));
    return done;
  }

  /** The last document, once the rows ended. */
  end(): StoredDoc | undefined {
    const p = this.#pending;
    this.#pending = undefined;
    return p;
  }
}
