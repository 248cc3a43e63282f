/**
 * Cells between their wire form (`value` absent = unset) and core's `Cell` (`value`
 * undefined = unset). JSON drops `undefined`, so encoding needs no work; decoding puts the
 * key back so every cell has the same shape.
 */
import type { Cell, WireCell } from '@omnisync/core';

/** Wire cells (validated by the protocol schema) as core cells. */
export function fromWireCells(cells: readonly WireCell[]): Cell[] {
  const out = new Array<Cell>(cells.length);
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i]!;
    out[i] = { collection: c.collection, id: c.id, field: c.field, value: c.value, hlc: c.hlc };
  }
  return out;
}

/** Core cells as wire cells (an unset cell loses its `value` key). */
export function toWireCells(cells: readonly Cell[]): WireCell[] {
  const out = new Array<WireCell>(cells.length);
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i]!;
    out[i] =
      c.value === undefined
        ? { collection: c.collection, id: c.id, field: c.field, hlc: c.hlc }
        : { collection: c.collection, id: c.id, field: c.field, value: c.value, hlc: c.hlc };
  }
  return out;
}
