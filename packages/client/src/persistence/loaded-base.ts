/**
 * A persisted base handed over in columns: a persistence that reads documents column by
 * column (the file store's columnar snapshots) attaches them to the state `load` returns,
 * so the client builds its documents straight from the columns (`ClientStore.loadBase`)
 * instead of from one cell object per field. The state's `cells` still hold every cell
 * (made when read); both describe the same base.
 */
import type { Cell, CellValue } from '@omnisync/core';
import type { PersistedState } from './types.js';

/** Documents of one collection with one field list, column by column. */
export interface ColumnGroup {
  readonly collection: string;
  readonly fields: readonly string[];
  readonly ids: readonly string[];
  /**
   * Per field, every document's stamp, or one number for all of them: `s >= 0` is the HLC
   * `hlcs[s]` with the value beside it; `s < 0` is `hlcs[-s - 1]` with the value unset.
   */
  readonly stamps: readonly (number | ArrayLike<number>)[];
  /** Per field: every document's value (the slot of an unset value holds a placeholder). */
  readonly values: readonly (readonly CellValue[])[];
}

/** The documents of a columnar snapshot. */
export interface ColumnarDocs {
  readonly hlcs: readonly string[];
  readonly groups: readonly ColumnGroup[];
}

/** A group of a loaded base: rows changed after the snapshot carry their whole cells instead. */
export interface LoadedGroup extends ColumnGroup {
  /** Row → that document's cells (in field order), for documents the journal changed. */
  readonly replaced: ReadonlyMap<number, readonly Cell[]> | undefined;
}

/** The base of a loaded state: the groups' documents, in order, then `extra`'s cells. */
export interface LoadedBase {
  readonly hlcs: readonly string[];
  readonly groups: readonly LoadedGroup[];
  /** Cells of documents that are not in the groups, in order. */
  readonly extra: readonly Cell[];
}

const bases = new WeakMap<PersistedState, LoadedBase>();

/** Attach the columnar form of `state`'s base. */
export function attachLoadedBase(state: PersistedState, base: LoadedBase): void {
  bases.set(state, base);
}

/** The columnar form of `state`'s base, when its persistence gave one. */
export function loadedBaseOf(state: PersistedState): LoadedBase | undefined {
  return bases.get(state);
}

/** The stamp of document `i` in a stamp column. */
export const stampAt = (col: number | ArrayLike<number>, i: number): number =>
  typeof col === 'number' ? col : col[i]!;
