/**
 * Columnar snapshots of file persistence: documents grouped by collection and field list
 * ("shape"), one column per field, every distinct HLC once. Two encodings:
 *
 * - record kind 4 (format v2, still read): JSON text
 *
 *       { "h": [hlc…],                                   distinct HLCs
 *         "g": [[collection, [field…], [id…], [[stamp…]…], [[value…]…]]…],
 *         "t": [transaction…], "m": [[key, value]…] }
 *
 *   Per group, `stamps[f][i]` and `values[f][i]` are document `i`'s cell of field `f`. A
 *   stamp `s >= 0` is the HLC `h[s]` with the value beside it; `s < 0` is the HLC
 *   `h[-s - 1]` with the value unset (the value slot holds 0).
 *
 * - record kind 5 (format v3, written by compaction): the same groups in binary columns, so
 *   a cold start decodes a column in one step instead of parsing a JSON value per cell:
 *
 *       payload := kind u8 (5) | headerLength u32 LE | header (UTF-8 JSON) | pad to 8 | sections
 *       header  := { "h": [hlc…], "t": [transaction…], "m": [[key, value]…],
 *                    "g": [[collection, [field…], count, idColumn, [stampColumn…], [valueColumn…]]…] }
 *
 *   Sections are byte ranges after the header (offsets relative to the first section, each
 *   8-aligned); numbers are little-endian. A column is one of
 *       ["s", width, lengthsAt, "l" | "u", bytesAt, byteLength, count]  strings: lengths in UTF-16 units
 *                         (u8/u16/u32 by `width`), then all strings concatenated as latin1 ("l",
 *                         when every character fits) or UTF-8 ("u")
 *       ["d", width, indexesAt, strings]  strings from a dictionary (few distinct ones, e.g. an
 *                         owner or status): u8/u16/u32 indexes into `strings`, which is itself a
 *                         string column of the distinct values; each string is made once
 *       ["i", at]  int32 values     ["f", at]  float64 values     ["b", at]  booleans (u8)
 *       ["j", at, byteLength]  a JSON array of the values (any other mix)
 *       number k   stamps only: every document's stamp is k
 *       ["i", at]  stamps: int32 per document (the stamp rule above)
 *   Unset values hold 0, "" or false in their slot.
 *
 * Loading keeps the columns as they are decoded ({@link ColumnarDocs}): the client builds
 * its documents from them directly (see `ClientStore.loadBase`); cells are made only when
 * something asks for them (compaction, `PersistedState.cells`).
 */
import type { Cell, CellValue, JsonValue } from '@omnisync/core';
import { type ColumnarDocs, type ColumnGroup, stampAt } from './loaded-base.js';
import type { StateModel } from './state.js';

/** A decoded columnar snapshot record. */
export interface ColumnarSnapshot {
  readonly docs: ColumnarDocs;
  readonly transactions: unknown;
  readonly meta: unknown;
}

const LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

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

/** The cells of document `i` of a group, in field order. */
export function groupCells(docs: ColumnarDocs, g: ColumnGroup, i: number): Cell[] {
  const out: Cell[] = new Array(g.fields.length);
  const id = g.ids[i]!;
  for (let f = 0; f < g.fields.length; f++) {
    const s = stampAt(g.stamps[f]!, i);
    out[f] = new StoredCell(
      g.collection,
      id,
      g.fields[f]!,
      docs.hlcs[s >= 0 ? s : -s - 1]!,
      s >= 0 ? (g.values[f]![i] as JsonValue) : undefined,
    );
  }
  return out;
}

/** Put every document of `docs` into `model` (snapshot load, in group order). */
export function putColumnarDocs(model: StateModel, docs: ColumnarDocs): void {
  for (const g of docs.groups)
    for (let i = 0; i < g.ids.length; i++) model.putDocument(g.collection, g.ids[i]!, groupCells(docs, g, i));
}

interface Group {
  readonly collection: string;
  readonly fields: readonly string[];
  readonly ids: string[];
  readonly stamps: number[][];
  readonly values: CellValue[][];
}

/** The documents of `model` grouped by shape, with the HLC table. */
function groupModel(model: StateModel): { hlcs: string[]; groups: Group[] } {
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
  return { hlcs, groups: [...groups.values()] };
}

function stateParts(model: StateModel, body: Record<string, unknown>): void {
  const state = model.toState(false);
  if (state.transactions.length) body.t = state.transactions;
  const meta = Object.entries(state.meta);
  if (meta.length) body.m = meta;
}

/** The JSON text of a v2 columnar snapshot of `model` (record kind 4; kept for tests of old files). */
export function encodeColumnarSnapshot(model: StateModel): string {
  const { hlcs, groups } = groupModel(model);
  const body: Record<string, unknown> = {
    h: hlcs,
    g: groups.map((g) => [g.collection, g.fields, g.ids, g.stamps, g.values]),
  };
  stateParts(model, body);
  return JSON.stringify(body);
}

// ── binary (record kind 5) ──────────────────────────────────────────────────────────

type Column = number | (string | number | Column)[];

/** Collects the binary sections of a snapshot, each 8-aligned. */
class Sections {
  readonly parts: Buffer[] = [];
  size = 0;
  add(b: Buffer): number {
    const at = this.size;
    this.parts.push(b);
    this.size += b.length;
    const pad = (8 - (this.size % 8)) % 8;
    if (pad) {
      this.parts.push(Buffer.alloc(pad));
      this.size += pad;
    }
    return at;
  }
}

const typed = (a: Int32Array | Float64Array | Uint8Array | Uint16Array | Uint32Array): Buffer => {
  if (!LE && a.BYTES_PER_ELEMENT > 1) {
    const b = Buffer.alloc(a.byteLength);
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    for (let i = 0; i < a.length; i++) {
      const v = a[i]!;
      if (a instanceof Float64Array) view.setFloat64(i * 8, v, true);
      else if (a instanceof Int32Array) view.setInt32(i * 4, v, true);
      else if (a instanceof Uint32Array) view.setUint32(i * 4, v, true);
      else view.setUint16(i * 2, v, true);
    }
    return b;
  }
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
};

const LONE_SURROGATE = /[\uD800-\uDFFF]/;
/** A surrogate without its pair (UTF-8 cannot hold it; JSON escapes it). */
const UNPAIRED = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Encode a value column (`stamps` says which slots are unset: those hold a placeholder). */
function encodeValues(values: readonly unknown[], sections: Sections): Column {
  let kind: 's' | 'i' | 'f' | 'b' | 'j' | undefined;
  for (const v of values) {
    const k =
      typeof v === 'string'
        ? 's'
        : typeof v === 'boolean'
          ? 'b'
          : typeof v === 'number'
            ? (v | 0) === v
              ? 'i'
              : 'f'
            : 'j';
    if (kind === undefined || kind === k) kind = k;
    else if ((kind === 'i' && k === 'f') || (kind === 'f' && k === 'i')) kind = 'f';
    else kind = 'j';
    if (kind === 'j') break;
  }
  kind ??= 'j';
  if (kind === 's' && values.length >= 16) {
    // Few distinct strings: a dictionary, so a load makes each string once.
    const dict = new Map<string, number>();
    const limit = values.length >> 2;
    for (const v of values as string[]) {
      if (!dict.has(v)) dict.set(v, dict.size);
      if (dict.size > limit) break;
    }
    if (dict.size <= limit) {
      const width = dict.size < 256 ? 1 : dict.size < 65536 ? 2 : 4;
      const indexes =
        width === 1
          ? new Uint8Array(values.length)
          : width === 2
            ? new Uint16Array(values.length)
            : new Uint32Array(values.length);
      for (let i = 0; i < values.length; i++) indexes[i] = dict.get(values[i] as string)!;
      const indexesAt = sections.add(typed(indexes));
      return ['d', width, indexesAt, encodeValues([...dict.keys()], sections)];
    }
  }
  if (kind === 's') {
    const strings = values as string[];
    const joined = strings.join('');
    if (LONE_SURROGATE.test(joined) && strings.some((s) => UNPAIRED.test(s))) kind = 'j';
    else {
      let max = 0;
      for (const s of strings) if (s.length > max) max = s.length;
      const width = max < 256 ? 1 : max < 65536 ? 2 : 4;
      const lengths =
        width === 1
          ? new Uint8Array(strings.length)
          : width === 2
            ? new Uint16Array(strings.length)
            : new Uint32Array(strings.length);
      for (let i = 0; i < strings.length; i++) lengths[i] = strings[i]!.length;
      // eslint-disable-next-line no-control-regex
      const latin1 = !/[^\u0000-\u00ff]/.test(joined);
      const bytes = Buffer.from(joined, latin1 ? 'latin1' : 'utf8');
      const lengthsAt = sections.add(typed(lengths));
      return ['s', width, lengthsAt, latin1 ? 'l' : 'u', sections.add(bytes), bytes.length, strings.length];
    }
  }
  if (kind === 'i') return ['i', sections.add(typed(Int32Array.from(values as number[])))];
  if (kind === 'f') return ['f', sections.add(typed(Float64Array.from(values as number[])))];
  if (kind === 'b') return ['b', sections.add(Buffer.from(Uint8Array.from(values as boolean[], Number)))];
  const json = Buffer.from(JSON.stringify(values));
  return ['j', sections.add(json), json.length];
}

function encodeStamps(stamps: readonly number[], sections: Sections): Column {
  const first = stamps[0]!;
  if (stamps.every((s) => s === first)) return first;
  return ['i', sections.add(typed(Int32Array.from(stamps)))];
}

/** The payload (kind byte included) of a binary columnar snapshot of `model` (record kind 5). */
export function encodeBinarySnapshot(model: StateModel, kind: number): Buffer {
  const { hlcs, groups } = groupModel(model);
  const sections = new Sections();
  const header: Record<string, unknown> = {
    h: hlcs,
    g: groups.map((g) => {
      // Unset values: a placeholder of the column's kind, so it does not force a JSON column.
      const values = g.values.map((col, f) => {
        const stamps = g.stamps[f]!;
        let sample: unknown;
        for (let i = 0; i < col.length; i++) if (stamps[i]! >= 0) sample = col[i];
        const hole = typeof sample === 'string' ? '' : typeof sample === 'boolean' ? false : 0;
        return col.map((v, i) => (stamps[i]! >= 0 ? v : hole));
      });
      return [
        g.collection,
        g.fields,
        g.ids.length,
        encodeValues(g.ids, sections),
        g.stamps.map((s) => encodeStamps(s, sections)),
        values.map((v) => encodeValues(v, sections)),
      ];
    }),
  };
  stateParts(model, header);
  const headerBytes = Buffer.from(JSON.stringify(header));
  const start = 5 + headerBytes.length;
  const pad = (8 - (start % 8)) % 8;
  const lead = Buffer.alloc(5);
  lead.writeUInt8(kind, 0);
  lead.writeUInt32LE(headerBytes.length, 1);
  return Buffer.concat(
    [lead, headerBytes, Buffer.alloc(pad), ...sections.parts],
    start + pad + sections.size,
  );
}

const isStringArray = (v: unknown): v is string[] =>
  Array.isArray(v) && v.every((x) => typeof x === 'string');

/** Reads the sections of one binary snapshot; every read is bounds-checked. */
class SectionReader {
  constructor(
    readonly buf: Buffer,
    readonly base: number,
  ) {}
  range(at: unknown, bytes: number): [number, number] {
    if (typeof at !== 'number' || !Number.isInteger(at) || at < 0 || bytes < 0)
      throw new Error('a snapshot column has a bad section offset');
    const from = this.base + at;
    const to = from + bytes;
    if (to > this.buf.length) throw new Error('a snapshot column runs past the end of its record');
    return [from, to];
  }
  /** `n` elements of `size` bytes at `at`, as an aligned copy read little-endian. */
  numbers(at: unknown, n: number, size: 1 | 2 | 4 | 8, kind: 'u' | 'i' | 'f'): ArrayLike<number> {
    const [from, to] = this.range(at, n * size);
    if (size === 1) return this.buf.subarray(from, to);
    const copy = new Uint8Array(n * size);
    copy.set(this.buf.subarray(from, to));
    if (LE) {
      if (size === 8) return new Float64Array(copy.buffer);
      if (size === 4) return kind === 'i' ? new Int32Array(copy.buffer) : new Uint32Array(copy.buffer);
      return new Uint16Array(copy.buffer);
    }
    const view = new DataView(copy.buffer);
    const out = new Array<number>(n);
    for (let i = 0; i < n; i++)
      out[i] =
        size === 8
          ? view.getFloat64(i * 8, true)
          : size === 4
            ? kind === 'i'
              ? view.getInt32(i * 4, true)
              : view.getUint32(i * 4, true)
            : view.getUint16(i * 2, true);
    return out;
  }
}

function decodeValues(col: unknown, n: number, r: SectionReader): CellValue[] {
  if (!Array.isArray(col)) throw new Error('a snapshot column is not described by an array');
  const kind = col[0];
  const out = new Array<CellValue>(n);
  if (kind === 's') {
    const width = col[1];
    if (width !== 1 && width !== 2 && width !== 4) throw new Error('a string column has a bad length width');
    const lengths = r.numbers(col[2], n, width, 'u');
    const bytes = col[5];
    if (typeof bytes !== 'number') throw new Error('a string column has no byte length');
    const [from, to] = r.range(col[4], bytes);
    const text =
      col[3] === 'l'
        ? r.buf.toString('latin1', from, to)
        : col[3] === 'u'
          ? r.buf.toString('utf8', from, to)
          : undefined;
    if (text === undefined) throw new Error('a string column has an unknown encoding');
    let pos = 0;
    for (let i = 0; i < n; i++) {
      const end = pos + lengths[i]!;
      out[i] = text.substring(pos, end);
      pos = end;
    }
    if (pos !== text.length) throw new Error('a string column does not add up to its text');
    return out;
  }
  if (kind === 'd') {
    const width = col[1];
    if (width !== 1 && width !== 2 && width !== 4)
      throw new Error('a dictionary column has a bad index width');
    const indexes = r.numbers(col[2], n, width, 'u');
    const dict = col[3];
    if (!Array.isArray(dict) || (dict[0] !== 's' && dict[0] !== 'j'))
      throw new Error('a dictionary column has no string column of its values');
    const strings = decodeDictionary(dict, r);
    for (let i = 0; i < n; i++) {
      const v = strings[indexes[i]!];
      if (v === undefined) throw new Error('a dictionary column has an index past its strings');
      out[i] = v;
    }
    return out;
  }
  if (kind === 'i' || kind === 'f') {
    const nums = r.numbers(col[1], n, kind === 'i' ? 4 : 8, kind);
    for (let i = 0; i < n; i++) out[i] = nums[i]!;
    return out;
  }
  if (kind === 'b') {
    const bytes = r.numbers(col[1], n, 1, 'u');
    for (let i = 0; i < n; i++) out[i] = bytes[i] !== 0;
    return out;
  }
  if (kind === 'j') {
    if (typeof col[2] !== 'number') throw new Error('a JSON column has no byte length');
    const [from, to] = r.range(col[1], col[2]);
    const arr: unknown = JSON.parse(r.buf.toString('utf8', from, to));
    if (!Array.isArray(arr) || arr.length !== n)
      throw new Error('a JSON column does not hold one value per document');
    return arr as CellValue[];
  }
  throw new Error(`a snapshot column has an unknown kind ${JSON.stringify(kind)}`);
}

/** The strings of a dictionary column (a string or JSON column whose count is its own). */
function decodeDictionary(col: unknown[], r: SectionReader): CellValue[] {
  if (col[0] === 'j') {
    const [from, to] = r.range(col[1], col[2] as number);
    const arr: unknown = JSON.parse(r.buf.toString('utf8', from, to));
    if (!Array.isArray(arr) || !arr.every((x) => typeof x === 'string'))
      throw new Error('a dictionary column holds a value that is not a string');
    return arr as string[];
  }
  const count = col[6];
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 0)
    throw new Error('a dictionary column has a bad string count');
  return decodeValues(col, count, r);
}

function decodeStamps(col: unknown, n: number, r: SectionReader): number | ArrayLike<number> {
  if (typeof col === 'number') return col;
  if (!Array.isArray(col) || col[0] !== 'i') throw new Error('a stamp column is neither a number nor int32');
  return r.numbers(col[1], n, 4, 'i');
}

/** Check one group's columns against the HLC table (shared by both encodings). */
function checkGroup(g: ColumnGroup, tableSize: number): void {
  if (new Set(g.fields).size !== g.fields.length)
    throw new Error('a snapshot document group names a field twice');
  const n = g.ids.length;
  for (let f = 0; f < g.fields.length; f++) {
    const s = g.stamps[f]!;
    const v = g.values[f]!;
    if (v.length !== n || (typeof s !== 'number' && s.length !== n))
      throw new Error(`the column ${JSON.stringify(g.fields[f])} does not hold one cell per document`);
    const bad = (x: number) => !Number.isInteger(x) || !((x >= 0 ? x : -x - 1) < tableSize);
    if (typeof s === 'number') {
      if (n > 0 && bad(s))
        throw new Error(`document ${JSON.stringify(g.ids[0])} has a stamp that is not in the HLC table`);
    } else
      for (let i = 0; i < n; i++)
        if (bad(s[i]!))
          throw new Error(`document ${JSON.stringify(g.ids[i])} has a stamp that is not in the HLC table`);
  }
}

/**
 * Decode a binary columnar snapshot (record kind 5; `payload` includes the kind byte).
 * Throws a plain Error naming what is malformed (reported as corruption at the record).
 */
export function decodeBinarySnapshot(payload: Buffer): ColumnarSnapshot {
  if (payload.length < 5) throw new Error('the snapshot record is too short');
  const headerLength = payload.readUInt32LE(1);
  if (5 + headerLength > payload.length)
    throw new Error('the snapshot header runs past the end of its record');
  let header: unknown;
  try {
    header = JSON.parse(payload.toString('utf8', 5, 5 + headerLength));
  } catch {
    throw new Error('the snapshot header is not valid JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header))
    throw new Error('the snapshot record is not an object');
  const h = header as Record<string, unknown>;
  const hlcs = h.h ?? [];
  if (!isStringArray(hlcs)) throw new Error('the snapshot HLC table is not an array of strings');
  if (!Array.isArray(h.g ?? [])) throw new Error('the snapshot document groups are not an array');
  const start = 5 + headerLength;
  const r = new SectionReader(payload, start + ((8 - (start % 8)) % 8));
  const groups: ColumnGroup[] = [];
  for (const group of (h.g ?? []) as unknown[]) {
    if (!Array.isArray(group) || group.length !== 6)
      throw new Error('a snapshot document group is not [collection, fields, count, ids, stamps, values]');
    const [collection, fields, n, idCol, stampCols, valueCols] = group as unknown[];
    if (typeof collection !== 'string' || !isStringArray(fields) || fields.length === 0)
      throw new Error('a snapshot document group has a bad collection or field list');
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
      throw new Error('a snapshot document group has a bad count');
    if (
      !Array.isArray(stampCols) ||
      !Array.isArray(valueCols) ||
      stampCols.length !== fields.length ||
      valueCols.length !== fields.length
    )
      throw new Error('a snapshot document group has no column per field');
    const ids = decodeValues(idCol, n, r);
    if (!ids.every((id) => typeof id === 'string'))
      throw new Error('a snapshot document group has an id that is not a string');
    const g: ColumnGroup = {
      collection,
      fields,
      ids: ids as string[],
      stamps: stampCols.map((c) => decodeStamps(c, n, r)),
      values: valueCols.map((c) => decodeValues(c, n, r)),
    };
    checkGroup(g, hlcs.length);
    groups.push(g);
  }
  return { docs: { hlcs, groups }, transactions: h.t, meta: h.m };
}

/**
 * The documents of a v2 columnar snapshot body (`h` and `g`). Throws a plain Error naming
 * what is malformed (the caller reports it as corruption at the record).
 */
export function decodeJsonColumns(body: Record<string, unknown>): ColumnarDocs {
  const hlcs = body.h ?? [];
  if (!isStringArray(hlcs)) throw new Error('the snapshot HLC table is not an array of strings');
  const raw = body.g ?? [];
  if (!Array.isArray(raw)) throw new Error('the snapshot document groups are not an array');
  const groups: ColumnGroup[] = [];
  for (const group of raw) {
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
    for (let f = 0; f < fields.length; f++)
      if (!Array.isArray(stamps[f]) || !Array.isArray(values[f]))
        throw new Error(`the column ${JSON.stringify(fields[f])} does not hold one cell per document`);
    const g: ColumnGroup = {
      collection,
      fields,
      ids,
      stamps: stamps as number[][],
      values: values as CellValue[][],
    };
    checkGroup(g, hlcs.length);
    groups.push(g);
  }
  return { hlcs, groups };
}
