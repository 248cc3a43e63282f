/**
 * The columnar snapshot record of file persistence (record kind 4, format v2), written by
 * compaction. A snapshot of cell tuples repeats the collection, id, field name and HLC in
 * every cell; this one groups documents by collection and field list ("shape") and stores
 * each field as a column, and every distinct HLC once:
 *
 *     { "h": [hlc…],                                   distinct HLCs
 *       "g": [[collection, [field…], [id…], [[stamp…]…], [[value…]…]]…],
 *       "t": [transaction…], "m": [[key, value]…] }
 *
 * Per group, `stamps[f][i]` and `values[f][i]` are document `i`'s cell of field `f`. A stamp
 * `s >= 0` is the HLC `h[s]` with the value beside it; `s < 0` is the HLC `h[-s - 1]` with the
 * value unset (the value slot holds 0). 100k documents of 5 fields take about a fifth of the
 * bytes of the tuple form, and loading them parses one small array per column instead of an
 * array per cell — the bulk of a cold start.
 */
import type { Cell, JsonValue } from '@omnisync/core';
import type { StateModel } from './state.js';

interface Group {
  readonly collection: string;
  readonly fields: readonly string[];
  readonly ids: string[];
  readonly stamps: number[][];
  readonly values: unknown[][];
}

/** The JSON text of a columnar snapshot of `model` (transactions and meta included). */
export function encodeColumnarSnapshot(model: StateModel): string {
  const hlcs: string[] = [];
  const hlcIndex = new Map<string, number>();
  const groups = new Map<string, Group>();
  for (const cells of model.documents()) {
    const first = cells[0];
    if (first === undefined) continue;
    let key = first.collection;
    for (const c of cells) key += `\u0000${c.field}`;
    let g = groups.get(key);
    if (g === undefined) {
      g = {
        collection: first.collection,
        fields: cells.map((c) => c.field),
        ids: [],
        stamps: cells.map(() => []),
        values: cells.map(() => []),
      };
      groups.set(key, g);
    }
    g.ids.push(first.id);
    for (let f = 0; f < cells.length; f++) {
      const c = cells[f]!;
      let h = hlcIndex.get(c.hlc);
      if (h === undefined) {
        h = hlcs.length;
        hlcs.push(c.hlc);
        hlcIndex.set(c.hlc, h);
      }
      g.stamps[f]!.push(c.value === undefined ? -h - 1 : h);
      g.values[f]!.push(c.value === undefined ? 0 : c.value);
    }
  }
  const state = model.toState(false);
  const body: Record<string, unknown> = {
    h: hlcs,
    g: [...groups.values()].map((g) => [g.collection, g.fields, g.ids, g.stamps, g.values]),
  };
  if (state.transactions.length) body.t = state.transactions;
  const meta = Object.entries(state.meta);
  if (meta.length) body.m = meta;
  return JSON.stringify(body);
}

/** A cell read from a snapshot: one class, so every cell has the same hidden class. */
class StoredCell implements Cell {
  constructor(
    readonly collection: string,
    readonly id: string,
    readonly field: string,
    readonly hlc: string,
    readonly value: JsonValue | undefined,
  ) {}
}

const isStringArray = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((x) => typeof x === 'string');

/**
 * Put the documents of a columnar snapshot body (`h` and `g`) into `model`. Throws a plain
 * Error naming what is malformed (the caller reports it as corruption at the record).
 */
export function applyColumnarDocuments(model: StateModel, body: Record<string, unknown>): void {
  const hlcs = body.h ?? [];
  if (!isStringArray(hlcs)) throw new Error('the snapshot HLC table is not an array of strings');
  const groups = body.g ?? [];
  if (!Array.isArray(groups)) throw new Error('the snapshot document groups are not an array');
  for (const group of groups) {
    if (!Array.isArray(group) || group.length !== 5)
      throw new Error('a snapshot document group is not [collection, fields, ids, stamps, values]');
    const [collection, fields, ids, stamps, values] = group as unknown[];
    if (
      typeof collection !== 'string' ||
      !isStringArray(fields) ||
      fields.length === 0 ||
      !isStringArray(ids)
    )
      throw new Error('a snapshot document group has a bad collection, field list or id list');
    if (new Set(fields).size !== fields.length)
      throw new Error('a snapshot document group names a field twice');
    if (
      !Array.isArray(stamps) ||
      !Array.isArray(values) ||
      stamps.length !== fields.length ||
      values.length !== fields.length
    )
      throw new Error('a snapshot document group has no column per field');
    const n = ids.length;
    for (let f = 0; f < fields.length; f++) {
      const s = stamps[f] as unknown;
      const v = values[f] as unknown;
      if (!Array.isArray(s) || !Array.isArray(v) || s.length !== n || v.length !== n)
        throw new Error(`the column ${JSON.stringify(fields[f])} does not hold one cell per document`);
    }
    // Column by column: each column array is read in order, and each document's cells are
    // built in place (one small array per document, filled field by field).
    const docs: Cell[][] = new Array(n);
    for (let i = 0; i < n; i++) docs[i] = [];
    const tableSize = hlcs.length;
    for (let f = 0; f < fields.length; f++) {
      const field = fields[f]!;
      const stampCol = stamps[f] as number[];
      const valueCol = values[f] as JsonValue[];
      for (let i = 0; i < n; i++) {
        const s = stampCol[i]!;
        const h = s >= 0 ? s : -s - 1;
        if (!(h < tableSize) || !Number.isInteger(s))
          throw new Error(`document ${JSON.stringify(ids[i])} has a stamp that is not in the HLC table`);
        docs[i]!.push(
          new StoredCell(collection, ids[i]!, field, hlcs[h]!, s >= 0 ? valueCol[i]! : undefined),
        );
      }
    }
    for (let i = 0; i < n; i++) model.putDocument(collection, ids[i]!, docs[i]!);
  }
}
