/**
 * A replica: the merged cell state of any number of collections, as every OmniSync node
 * (client synced base, server, simulation peer) holds it.
 *
 * Merge rules (DESIGN.md decision 4), which make `apply` commutative, associative and
 * idempotent over sets of cells:
 * - per cell, last-write-wins by HLC (string order); an exact HLC tie is broken by the
 *   canonical JSON of the value, so even a malformed duplicate converges;
 * - delete wins: once a `_deleted` cell arrives the document is a tombstone forever; its
 *   field cells are dropped and later field writes to it are ignored. Tombstones keep the
 *   greatest HLC of the deletes seen. Tombstones never appear in documents.
 *
 * `apply` validates the whole batch before touching anything: a bad cell throws and
 * nothing of the batch is applied. It returns exactly the documents and fields whose
 * visible value changed, which is what reactivity and live queries consume.
 */
import {
  type Cell,
  type CellValue,
  DELETED_FIELD,
  ID_FIELD,
  unflattenColumns,
  validateCell,
} from './cells.js';
import { InvalidCellError } from './errors.js';

/** What one apply did to one document, as app code sees it. */
export interface DocChange {
  readonly collection: string;
  readonly id: string;
  /** insert: became visible; update: stayed visible, fields changed; delete: stopped being visible. */
  readonly kind: 'insert' | 'update' | 'delete';
  /** Field paths whose stored cell changed (refMany members as `field[member]`). Empty for delete. */
  readonly fields: readonly string[];
}

/** The stored winner of one cell. */
export interface Slot {
  readonly value: CellValue;
  readonly hlc: string;
  readonly seq: number;
}

/**
 * The field names of a document, shared by every document with the same fields in the same
 * order (hidden-class style: a tree of transitions from the empty shape). 100,000 todos share
 * one shape, so a document costs one entry object and one value array, not an object per field.
 * A shape with too many transitions or fields stops sharing: documents past it own theirs.
 */
class Shape {
  readonly names: string[];
  readonly shared: boolean;
  /**
   * Every name is a plain top-level field (no path, no refMany member, not `id`,
   * `_deleted` or `__proto__`): the document is built by plain assignment. Known for
   * shared shapes only (owned ones change).
   */
  readonly flat: boolean;
  #children: Map<string, Shape> | undefined;
  #index: Map<string, number> | undefined;
  #lastName: string | undefined;
  #lastChild: Shape | undefined;

  constructor(names: string[], shared: boolean) {
    this.names = names;
    this.shared = shared;
    this.flat = shared && names.every(isPlainName);
  }

  indexOf(name: string): number {
    const names = this.names;
    if (names.length <= SHAPE_SCAN) {
      for (let i = 0; i < names.length; i++) if (names[i] === name) return i;
      return -1;
    }
    let ix = this.#index;
    if (ix === undefined || ix.size !== names.length) {
      ix = this.#index = new Map();
      for (let i = 0; i < names.length; i++) ix.set(names[i]!, i);
    }
    return ix.get(name) ?? -1;
  }

  /** The shape with `name` appended: shared when this one is and the tree is not too wide; else owned. */
  with(name: string): Shape {
    if (!this.shared) {
      this.names.push(name);
      return this;
    }
    // Documents of a collection mostly take the same next field: one comparison, no lookup.
    if (name === this.#lastName) return this.#lastChild!;
    const hit = this.#children?.get(name);
    if (hit !== undefined) {
      this.#lastName = name;
      this.#lastChild = hit;
      return hit;
    }
    const names = this.names.concat(name);
    const children = (this.#children ??= new Map());
    if (children.size >= SHAPE_FANOUT || names.length > SHAPE_FIELDS) return new Shape(names, false);
    const child = new Shape(names, true);
    children.set(name, child);
    this.#lastName = name;
    this.#lastChild = child;
    return child;
  }
}

const isPlainName = (f: string): boolean =>
  f !== ID_FIELD &&
  f !== DELETED_FIELD &&
  f !== '__proto__' &&
  f.indexOf('.') < 0 &&
  f.charCodeAt(f.length - 1) !== 93; /* ] */

/** Shapes up to this many fields are searched linearly (interned strings compare by pointer). */
const SHAPE_SCAN = 16;
/** A shape with this many distinct next fields stops sharing (e.g. refMany members as fields). */
const SHAPE_FANOUT = 64;
/** Documents with more fields than this own their shape. */
const SHAPE_FIELDS = 256;

const EMPTY_VALUES: CellValue[] = [];
/** The shape of an entry before its replica sets its own root (never extended). */
const NO_SHAPE = new Shape([], false);

/**
 * One document. Fields live in `values`, parallel to `shape.names`. `hlc` and `seq` are one
 * value for all fields while they agree, with room for one field that differs (`xi`, `xh`,
 * `xs`: the usual single-field update), then arrays parallel to `values`: a document written
 * once, or then updated in one field, stores a few primitives instead of a stamp per field.
 *
 * @internal An owner that keeps its own per-document state (the client store's visible
 * document and pending writes) extends this class and passes a factory to the replica
 * (see {@link ReplicaOptions.entry}): one object and one map entry per document serve both.
 * Owners read and write only their own fields.
 */
export class ReplicaEntry {
  shape: Shape = NO_SHAPE;
  values: CellValue[] = EMPTY_VALUES;
  hlc: string | string[] = '';
  /** Local sequence number of the last change of each field (see `hlc`); for a tombstone, of the delete. */
  seq: number | number[] = 0;
  /** While `hlc` and `seq` are scalars: the index of the one field whose stamp differs, else -1. */
  xi = -1;
  /** That field's HLC. */
  xh = '';
  /** That field's sequence number. */
  xs = 0;
  /** HLC of the winning tombstone, if deleted. */
  deleted: string | undefined = undefined;
  /** Number of fields with a defined value: visible iff > 0 and not deleted. */
  live = 0;
  /** Materialised document, rebuilt lazily after a change. */
  doc: Record<string, unknown> | undefined = undefined;
  /** Index into the replica's scratch arrays while an apply touches this document, else -1 (GONE: not held). */
  mark = -1;
}
type DocEntry = ReplicaEntry;

/** `mark` of an entry the replica no longer holds (forgotten or cleared): a stale {@link DocRef}. */
const GONE = -2;

/** An opaque reference to one document of a replica (see {@link Replica.at}). */
export type DocRef = object;

/** Options of a {@link Replica}. */
export interface ReplicaOptions<E extends ReplicaEntry> {
  /** @internal Makes the entry of each new document (a subclass carrying the owner's state). */
  readonly entry?: () => E;
}

/** Reset an entry to "never seen" (no fields, no tombstone), keeping the object. */
function resetEntry(e: DocEntry, root: Shape): void {
  e.shape = root;
  e.values = EMPTY_VALUES;
  e.hlc = '';
  e.seq = 0;
  e.xi = -1;
  e.deleted = undefined;
  e.live = 0;
  e.doc = undefined;
}

const hlcAt = (e: DocEntry, i: number): string =>
  typeof e.hlc === 'string' ? (i === e.xi ? e.xh : e.hlc) : e.hlc[i]!;
const seqAt = (e: DocEntry, i: number): number =>
  typeof e.seq === 'number' ? (i === e.xi ? e.xs : e.seq) : e.seq[i]!;
const maxSeq = (e: DocEntry): number => {
  if (typeof e.seq === 'number') return e.xi >= 0 && e.xs > e.seq ? e.xs : e.seq;
  let m = 0;
  for (const s of e.seq) if (s > m) m = s;
  return m;
};
const materialize = (id: string, e: DocEntry): Record<string, unknown> => {
  const shape = e.shape;
  if (shape.flat) {
    // Plain fields only: what unflattenColumns builds, without its bookkeeping.
    const doc: Record<string, unknown> = { id };
    const names = shape.names;
    const values = e.values;
    for (let i = 0; i < names.length; i++) {
      const v = values[i];
      if (v !== undefined) doc[names[i]!] = v;
    }
    return doc;
  }
  return unflattenColumns(
    id,
    shape.names,
    e.values,
    e.xi < 0 ? e.hlc : stampArrays(e, shape.names.length).hlc,
  );
};

/** Turn the scalar stamps (and the one differing field) of a document with `n` fields into arrays. */
function stampArrays(e: DocEntry, n: number): { hlc: string[]; seq: number[] } {
  if (typeof e.hlc !== 'string' || typeof e.seq !== 'number')
    throw new Error('Replica: stamps are arrays already.');
  const hlc = new Array<string>(n);
  const seq = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    hlc[i] = e.hlc;
    seq[i] = e.seq;
  }
  if (e.xi >= 0 && e.xi < n) {
    hlc[e.xi] = e.xh;
    seq[e.xi] = e.xs;
  }
  return { hlc, seq };
}
const visible = (e: DocEntry): boolean => e.deleted === undefined && e.live > 0;
/** Never written: no field and no tombstone (as if the replica had not seen the document). */
const isBlank = (e: DocEntry): boolean => e.shape.names.length === 0 && e.deleted === undefined;

const canonical = (v: CellValue): string => (v === undefined ? '' : JSON.stringify(v));

/** Does `incoming` beat `current` for the same cell? */
export function cellWins(
  incomingHlc: string,
  incomingValue: CellValue,
  current: { readonly value: CellValue; readonly hlc: string } | undefined,
): boolean {
  if (current === undefined) return true;
  return beats(incomingHlc, incomingValue, current.hlc, current.value);
}

function beats(hlc: string, value: CellValue, curHlc: string, curValue: CellValue): boolean {
  if (hlc !== curHlc) return hlc > curHlc;
  if (value === curValue) return false;
  return canonical(value) > canonical(curValue);
}

/**
 * Store field `i` of `e` (an existing index) or append it (`i` = the field count). A fresh
 * document's value array is allocated at `size` slots when known. Returns true when an array
 * grew by push (and so carries spare capacity to trim). `hlc` and `seq` are scalars (with at
 * most one differing field) or arrays, both alike.
 */
function writeField(
  e: DocEntry,
  i: number,
  name: string,
  value: CellValue,
  hlc: string,
  seq: number,
  size: number,
): boolean {
  const n = e.shape.names.length;
  if (i === n) {
    e.shape = e.shape.with(name);
    if (n === 0) {
      // First field of a fresh (or cleared) document: everything scalar.
      if (size > 1) {
        const values = new Array<CellValue>(size);
        values[0] = value;
        e.values = values;
      } else e.values = [value];
      e.hlc = hlc;
      e.seq = seq;
      e.xi = -1;
      return false;
    }
    let grew = false;
    const values = e.values;
    if (values.length > n) values[n] = value;
    else {
      values.push(value);
      grew = true;
    }
    if (typeof e.hlc === 'string') {
      if (e.hlc === hlc && e.seq === seq) return grew;
      if (e.xi < 0) {
        e.xi = n;
        e.xh = hlc;
        e.xs = seq;
        return grew;
      }
      const stamps = toArrays(e, n);
      stamps.hlc.push(hlc);
      stamps.seq.push(seq);
      return true;
    }
    e.hlc.push(hlc);
    (e.seq as number[]).push(seq);
    return true;
  }
  e.values[i] = value;
  if (typeof e.hlc === 'string') {
    if (n === 1) {
      e.hlc = hlc;
      e.seq = seq;
      e.xi = -1;
    } else if (e.hlc === hlc && e.seq === seq) {
      if (e.xi === i) e.xi = -1; // back in line with the others
    } else if (e.xi < 0 || e.xi === i) {
      e.xi = i;
      e.xh = hlc;
      e.xs = seq;
    } else {
      const stamps = toArrays(e, n);
      stamps.hlc[i] = hlc;
      stamps.seq[i] = seq;
    }
  } else {
    e.hlc[i] = hlc;
    (e.seq as number[])[i] = seq;
  }
  return false;
}

/** Switch a document of `n` fields from scalar stamps to arrays. */
function toArrays(e: DocEntry, n: number): { hlc: string[]; seq: number[] } {
  const stamps = stampArrays(e, n);
  e.hlc = stamps.hlc;
  e.seq = stamps.seq;
  e.xi = -1;
  return stamps;
}

/**
 * @internal Documents of one collection with one field list, given column by column (a
 * persisted snapshot): `stamps[f]` holds a stamp per document or one number for all of them
 * (`s >= 0`: the value `values[f][i]` at HLC `hlcs[s]`; `s < 0`: unset, at `hlcs[-s - 1]`).
 * Rows in `skip` are not loaded from the columns (their documents are written another way).
 */
export interface ColumnRows {
  readonly ids: readonly string[];
  readonly fields: readonly string[];
  readonly stamps: readonly (number | ArrayLike<number>)[];
  readonly values: readonly ArrayLike<CellValue>[];
  readonly skip?: { has(row: number): boolean } | undefined;
}

interface ColumnPart {
  readonly rows: ColumnRows;
  /** The documents' shape; undefined: the rows are tombstones (their fields include `_deleted`). */
  readonly shape: Shape | undefined;
  /** For tombstones: the field index of `_deleted`. */
  readonly deletedAt: number;
  /** Per row: the materialised document (undefined: not visible, or skipped). */
  readonly docs: (Record<string, unknown> | undefined)[];
}

const stampOf = (col: number | ArrayLike<number>, i: number): number =>
  typeof col === 'number' ? col : col[i]!;

/** (A method type, so a map of a subclass's entries is one of ReplicaEntry's.) */
interface Adopt<E> {
  call(e: E, part: number, row: number): void;
}

/** FNV-1a of a string's UTF-16 units (the id table's hash). */
function hashId(id: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < id.length; i++) h = Math.imul(h ^ id.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function partStarts(parts: readonly ColumnPart[]): number[] {
  const starts: number[] = [];
  let n = 0;
  for (const p of parts) {
    starts.push(n);
    n += p.rows.ids.length;
  }
  return starts;
}

/** An open-addressing table of every row's id (linear probing, at most half full). */
function buildIdTable(parts: readonly ColumnPart[]): Int32Array {
  let total = 0;
  for (const p of parts) total += p.rows.ids.length;
  let size = 16;
  while (size < total * 2) size *= 2;
  const table = new Int32Array(size);
  const mask = size - 1;
  let g = 0;
  for (const { rows } of parts) {
    const { ids, skip } = rows;
    for (let i = 0; i < ids.length; i++, g++) {
      if (skip !== undefined && skip.has(i)) continue;
      const id = ids[i]!;
      let h = hashId(id) & mask;
      for (;;) {
        const at = table[h]!;
        if (at === 0) {
          table[h] = g + 1;
          break;
        }
        if (idAt(parts, at - 1) === id) {
          table[h] = g + 1; // a repeated id: its last row wins
          break;
        }
        h = (h + 1) & mask;
      }
    }
  }
  return table;
}

function idAt(parts: readonly ColumnPart[], g: number): string {
  for (const { rows } of parts) {
    if (g < rows.ids.length) return rows.ids[g]!;
    g -= rows.ids.length;
  }
  return '';
}

const mapGet = Map.prototype.get;
const mapEntries = Map.prototype.entries;

/**
 * @internal The entries of a collection loaded from columns ({@link Replica.loadColumns}):
 * a Map whose documents are first only columns plus their materialised documents, and
 * become entries all at once on the first access that needs the map (a lookup, a write, a
 * merge, an iteration, `size`). Until then {@link parts} and {@link peek} serve reads of the
 * visible documents. After that it is an ordinary map, in the order a load of the same
 * cells one by one gives (the columns' rows in order, then the documents written beside them).
 */
export class ColumnEntries<E extends ReplicaEntry = ReplicaEntry> extends Map<string, E> {
  #parts: ColumnPart[] | undefined;
  /** {@link locate}'s hash table: global row + 1 per slot, 0 empty. */
  #table: Int32Array | undefined;
  /** The global row each part starts at. */
  readonly #starts: number[];
  readonly #hlcs: readonly string[];
  readonly #seq: number;
  readonly #make: () => E;
  /** Called for each entry built from the columns: (entry, part, row). */
  adopt: Adopt<E>['call'] | undefined;
  /** Called once the entries are built. */
  settled: (() => void) | undefined;
  /** While true, calls go straight to the map (the documents written beside the columns at load). */
  hold = false;

  constructor(make: () => E, hlcs: readonly string[], seq: number, parts: ColumnPart[]) {
    super();
    this.#make = make;
    this.#hlcs = hlcs;
    this.#seq = seq;
    this.#parts = parts;
    this.#starts = partStarts(parts);
  }

  /** The column parts while their entries are not built yet, else undefined. */
  get parts():
    | readonly {
        readonly rows: ColumnRows;
        readonly docs: readonly (Record<string, unknown> | undefined)[];
      }[]
    | undefined {
    return this.#parts;
  }

  /**
   * Where document `id` is among the columns' rows, without building the entries: its row
   * counted across the parts in order (see {@link partOf}), or -1 when it is in no row (or
   * in a skipped one), or the entries are built. The first call builds a hash table of the
   * ids in one typed array (no object per document); a repeated id finds its last row, as
   * the built map holds it.
   */
  locate(id: string): number {
    const parts = this.#parts;
    if (parts === undefined) return -1;
    const table = (this.#table ??= buildIdTable(parts));
    const mask = table.length - 1;
    for (let h = hashId(id) & mask; ; h = (h + 1) & mask) {
      const at = table[h]!;
      if (at === 0) return -1;
      if (idAt(parts, at - 1) === id) return at - 1;
    }
  }

  /** The part a row counted across the parts (as {@link locate} gives it) is in. */
  partOf(g: number): number {
    const starts = this.#starts;
    let p = starts.length - 1;
    while (p > 0 && starts[p]! > g) p--;
    return p;
  }

  /** The first row of part `p`, counted across the parts. */
  partStart(p: number): number {
    return this.#starts[p]!;
  }

  /** The entry of `id` among those already built (no build). */
  peek(id: string): E | undefined {
    return mapGet.call(this, id) as E | undefined;
  }

  /** The entries already built (no build). */
  built(): IterableIterator<[string, E]> {
    return mapEntries.call(this) as IterableIterator<[string, E]>;
  }

  /** Build the entries of the columns' rows, in row order (the ones written beside them keep their place). */
  settle(): void {
    const parts = this.#parts;
    if (parts === undefined || this.hold) return;
    this.#parts = undefined;
    this.#table = undefined;
    const early =
      super.size > 0 ? new Map(mapEntries.call(this) as IterableIterator<[string, E]>) : undefined;
    if (early !== undefined) super.clear();
    const hlcs = this.#hlcs;
    const seq = this.#seq;
    for (let p = 0; p < parts.length; p++) {
      const { rows, shape, docs, deletedAt } = parts[p]!;
      const { ids, stamps, values, skip } = rows;
      const n = ids.length;
      for (let i = 0; i < n; i++) {
        const id = ids[i]!;
        if (skip !== undefined && skip.has(i)) {
          const e = early?.get(id);
          if (e !== undefined) {
            early!.delete(id);
            super.set(id, e);
          }
          continue;
        }
        if (shape === undefined) {
          // A tombstone, as a `_deleted` cell (whatever its value, and delete wins over the
          // other fields, in either order) leaves a fresh entry.
          const s = stampOf(stamps[deletedAt]!, i);
          const e = this.#make();
          e.deleted = hlcs[s >= 0 ? s : -s - 1]!;
          e.seq = seq;
          super.set(id, e);
          this.adopt?.(e, p, i);
          continue;
        }
        const nf = shape.names.length;
        const vals = new Array<CellValue>(nf);
        let live = 0;
        let h0 = '';
        let xi = -1;
        let xh = '';
        let arr: string[] | undefined;
        for (let f = 0; f < nf; f++) {
          const s = stampOf(stamps[f]!, i);
          const h = hlcs[s >= 0 ? s : -s - 1]!;
          const v = s >= 0 ? values[f]![i] : undefined;
          vals[f] = v;
          if (v !== undefined) live++;
          if (f === 0) h0 = h;
          else if (arr !== undefined) arr[f] = h;
          else if (h !== h0) {
            if (xi < 0) {
              xi = f;
              xh = h;
            } else {
              arr = new Array<string>(nf).fill(h0, 0, f);
              arr[xi] = xh;
              arr[f] = h;
              xi = -1;
            }
          }
        }
        const e = this.#make();
        e.shape = shape;
        e.values = vals;
        e.live = live;
        e.doc = docs[i];
        if (arr !== undefined) {
          e.hlc = arr;
          e.seq = new Array<number>(nf).fill(seq);
        } else {
          e.hlc = h0;
          e.seq = seq;
          e.xi = xi;
          if (xi >= 0) {
            e.xh = xh;
            e.xs = seq;
          }
        }
        super.set(id, e);
        this.adopt?.(e, p, i);
      }
    }
    if (early !== undefined) for (const [id, e] of early) super.set(id, e);
    this.settled?.();
  }

  override get(id: string): E | undefined {
    if (this.#parts !== undefined) this.settle();
    return super.get(id);
  }
  override has(id: string): boolean {
    if (this.#parts !== undefined) this.settle();
    return super.has(id);
  }
  override set(id: string, e: E): this {
    if (this.#parts !== undefined) this.settle();
    return super.set(id, e);
  }
  override delete(id: string): boolean {
    if (this.#parts !== undefined) this.settle();
    return super.delete(id);
  }
  override clear(): void {
    if (this.#parts !== undefined) this.settle();
    super.clear();
  }
  override forEach(fn: (value: E, key: string, map: Map<string, E>) => void, thisArg?: unknown): void {
    if (this.#parts !== undefined) this.settle();
    super.forEach(fn, thisArg);
  }
  override keys(): MapIterator<string> {
    if (this.#parts !== undefined) this.settle();
    return super.keys();
  }
  override values(): MapIterator<E> {
    if (this.#parts !== undefined) this.settle();
    return super.values();
  }
  override entries(): MapIterator<[string, E]> {
    if (this.#parts !== undefined) this.settle();
    return super.entries();
  }
  override [Symbol.iterator](): MapIterator<[string, E]> {
    if (this.#parts !== undefined) this.settle();
    return super[Symbol.iterator]();
  }
}
// `size` is a getter on Map.prototype (TypeScript declares it a property, so it is defined here).
const mapSize = Object.getOwnPropertyDescriptor(Map.prototype, 'size')!.get!;
Object.defineProperty(ColumnEntries.prototype, 'size', {
  configurable: true,
  get(this: ColumnEntries) {
    if (this.parts !== undefined) this.settle();
    return mapSize.call(this) as number;
  },
});

/**
 * The merged state of a set of collections.
 * @example
 * const r = new Replica();
 * const changes = r.apply([{ collection: 'todos', id: 'a', field: 'id', value: 'a', hlc }]);
 * r.get('todos', 'a'); // { id: 'a' }
 */
export class Replica<E extends ReplicaEntry = ReplicaEntry> {
  readonly #collections = new Map<string, Map<string, E>>();
  readonly #root = new Shape([], true);
  readonly #newEntry: () => E;
  #seq = 0;
  // The open write batch (beginWrite … endWrite).
  #writing = false;
  #report = true;
  #batchSeq = 0;
  #lastCollection: string | undefined;
  #lastId: string | undefined;
  #coll: Map<string, E> | undefined;
  #entry: DocEntry | undefined;
  #mark = -1;
  /** In a batch without scratch: the current document's arrays grew by push. */
  #grew = false;
  #n = 0;
  #size = 0;
  // Scratch of the running apply, one slot per touched document (entry.mark indexes them).
  #tEntry: DocEntry[] = [];
  #tCollection: string[] = [];
  #tId: string[] = [];
  #tWasVisible: boolean[] = [];
  #tChanged: boolean[] = [];
  #tGrew: boolean[] = [];
  #tFields: (string[] | undefined)[] = [];

  constructor(options: ReplicaOptions<E> = {}) {
    this.#newEntry = options.entry ?? (() => new ReplicaEntry() as E);
  }

  /** The local sequence number of the last change: pass it to {@link cellsSince} later. */
  get seq(): number {
    return this.#seq;
  }

  /**
   * Validate then merge a batch of cells. Throws (and applies nothing) if any cell is bad.
   * Returns the visible changes, one entry per touched document.
   */
  apply(cells: readonly Cell[]): DocChange[] {
    if (!Array.isArray(cells)) throw new InvalidCellError('apply() takes an array of cells.');
    for (let i = 0; i < cells.length; i++) validateCell(cells[i], i);
    return this.applyTrusted(cells);
  }

  /**
   * Merge cells already validated (by {@link validateCell} or because this process made
   * them). Skips validation; everything else is as {@link apply}. With `report` false the
   * change list is not built (an empty array is returned): for callers that settle the
   * touched documents themselves.
   * @internal
   */
  applyTrusted(cells: readonly Cell[], report = true): DocChange[] {
    this.beginWrite(report);
    try {
      for (let i = 0; i < cells.length; i++) {
        const c = cells[i]!;
        this.write(c.collection, c.id, c.field, c.value, c.hlc);
      }
      return this.endWrite();
    } finally {
      this.#resetScratch();
    }
  }

  /**
   * Start a batch of trusted cell writes without cell objects: `beginWrite`, any number of
   * {@link write}, then {@link endWrite} for the changes (one batch = one `applyTrusted`).
   * The caller must call `endWrite` (in a `finally`).
   * @internal
   */
  beginWrite(report = true): void {
    if (this.#writing) throw new Error('Replica.beginWrite: a write batch is already open.');
    this.#writing = true;
    this.#report = report;
    this.#batchSeq = 0;
    this.#lastId = undefined;
    this.#coll = undefined;
    this.#entry = undefined;
  }

  /**
   * Merge one trusted cell into the open batch (see {@link beginWrite}).
   * @internal
   */
  write(collection: string, id: string, field: string, value: CellValue, hlc: string): void {
    let entry = this.#entry;
    if (id !== this.#lastId || collection !== this.#lastCollection || entry === undefined)
      entry = this.#enter(collection, id);
    const mark = this.#mark;

    if (field === DELETED_FIELD) {
      if (entry.deleted === undefined || hlc > entry.deleted) {
        if (entry.deleted === undefined) {
          entry.shape = this.#root;
          entry.values = EMPTY_VALUES;
          entry.hlc = '';
          entry.xi = -1;
          entry.live = 0;
          entry.doc = undefined;
        }
        entry.deleted = hlc;
        entry.seq = this.#batchSeq ||= ++this.#seq;
        if (mark >= 0) this.#tChanged[mark] = true;
      }
      return;
    }
    if (entry.deleted !== undefined) return; // delete wins: writes to a tombstone are dropped
    const count = entry.shape.names.length;
    const at = count === 0 ? -1 : entry.shape.indexOf(field);
    if (at >= 0) {
      const cur = entry.values[at];
      if (!beats(hlc, value, hlcAt(entry, at), cur)) return;
      const seq = (this.#batchSeq ||= ++this.#seq);
      if (cur === undefined) {
        if (value !== undefined) entry.live++;
      } else if (value === undefined) entry.live--;
      if (this.#report && seqAt(entry, at) !== seq) (this.#tFields[mark] ??= []).push(field);
      writeField(entry, at, field, value, hlc, seq, 0);
    } else {
      const seq = (this.#batchSeq ||= ++this.#seq);
      if (writeField(entry, count, field, value, hlc, seq, this.#size)) {
        if (mark >= 0) this.#tGrew[mark] = true;
        else this.#grew = true;
      }
      this.#size = 0; // the hint is for one document
      if (value !== undefined) entry.live++;
      if (this.#report) (this.#tFields[mark] ??= []).push(field);
    }
    entry.doc = undefined;
    if (mark >= 0) this.#tChanged[mark] = true;
  }

  /**
   * Direct the next writes of the open batch to document `id`, and return a reference to it.
   * `ref`, one returned earlier for the same document, saves the lookup (a reference to a
   * document since forgotten is ignored). Writes to the same document need no call.
   * @internal
   */
  at(collection: string, id: string, ref?: DocRef): DocRef {
    if (id !== this.#lastId || collection !== this.#lastCollection || this.#entry === undefined)
      return this.#enter(collection, id, ref);
    return this.#entry;
  }

  /**
   * Merge a whole flat document into the open batch: each own field of `doc` is a cell at
   * `hlc` (no nested objects, no `_deleted`, no undefined values: the caller checked). A
   * document this replica does not hold yet is built in one step; otherwise field by field.
   * @internal
   */
  writeDoc(collection: string, id: string, doc: Readonly<Record<string, CellValue>>, hlc: string): void {
    let entry = this.#entry;
    if (id !== this.#lastId || collection !== this.#lastCollection || entry === undefined)
      entry = this.#enter(collection, id);
    if (entry.deleted !== undefined) return;
    if (entry.shape.names.length > 0) {
      for (const field in doc) this.write(collection, id, field, doc[field], hlc);
      return;
    }
    let n = 0;
    for (const _ in doc) n++;
    const values = new Array<CellValue>(n);
    let shape = this.#root;
    let i = 0;
    let live = 0;
    for (const field in doc) {
      shape = shape.with(field);
      const value = doc[field];
      values[i++] = value;
      if (value !== undefined) live++;
    }
    this.#fillBlank(entry, shape, values, hlc, live);
  }

  /**
   * Make `id` the document the next writes go to. A batch that reports changes keeps scratch
   * per document (whether it was visible, what changed); one that does not keeps none, and
   * trims a document's arrays as it leaves it.
   */
  #enter(collection: string, id: string, ref?: DocRef): E {
    let coll = this.#coll;
    if (collection !== this.#lastCollection || coll === undefined) {
      coll = this.#collections.get(collection);
      if (!coll) this.#collections.set(collection, (coll = new Map()));
      this.#coll = coll;
      this.#lastCollection = collection;
    }
    if (!this.#report) {
      const left = this.#entry;
      if (left !== undefined) this.#trim(left);
    }
    let entry = ref as E | undefined;
    if (entry === undefined || entry.mark === GONE) {
      entry = coll.get(id);
      if (!entry) coll.set(id, (entry = this.newEntry()));
    }
    this.#entry = entry;
    this.#lastId = id;
    if (!this.#report) {
      this.#mark = -1;
      return entry;
    }
    let mark = entry.mark;
    if (mark < 0 || mark >= this.#n || this.#tEntry[mark] !== entry) {
      mark = entry.mark = this.#n++;
      this.#tEntry[mark] = entry;
      this.#tCollection[mark] = collection;
      this.#tId[mark] = id;
      this.#tWasVisible[mark] = visible(entry);
      this.#tChanged[mark] = false;
      this.#tGrew[mark] = false;
      this.#tFields[mark] = undefined;
    }
    this.#mark = mark;
    return entry;
  }

  /** Copy a document's arrays to size when they grew by push or were allocated generously. */
  #trim(e: DocEntry, grew = this.#grew): void {
    this.#grew = false;
    if (grew || e.values.length !== e.shape.names.length) {
      e.values = e.values.slice(0, e.shape.names.length);
      if (typeof e.hlc !== 'string') e.hlc = e.hlc.slice();
      if (typeof e.seq !== 'number') e.seq = e.seq.slice();
    }
  }

  /**
   * The number of cells the next document written will have (its fields are allocated at
   * that size if it is new), for the {@link write} calls that follow. Optional.
   * @internal
   */
  sizeHint(cells: number): void {
    this.#size = cells;
  }

  /**
   * @internal The shape of documents holding `fields` in this order, for {@link writeRow};
   * undefined when such documents cannot share one (too many fields, a wide tree).
   */
  shapeOf(fields: readonly string[]): object | undefined {
    let shape = this.#root;
    for (const f of fields) shape = shape.with(f);
    return shape.shared && shape.names.length === fields.length ? shape : undefined;
  }

  /**
   * @internal Merge one whole document into the open batch: field `i` of `shape` (from
   * {@link shapeOf}, no `_deleted` field) has `values[i]` (undefined: unset) stamped `hlc`,
   * or `hlc[i]`. A document this replica does not hold yet is built in one step and takes
   * `values` as its own; otherwise the cells are merged one by one, as {@link write} does.
   * `fresh` (in a batch that does not report): the caller knows the collection held nothing
   * before this batch, so the document is added without a lookup; a repeated id replaces
   * the entry (a later copy of a document in a snapshot replaces the earlier one).
   */
  writeRow(
    collection: string,
    id: string,
    shape: object,
    values: CellValue[],
    hlc: string | readonly string[],
    fresh = false,
  ): void {
    const s = shape as Shape;
    const names = s.names;
    let entry = this.#entry;
    if (fresh && !this.#report && typeof hlc === 'string' && values.length === names.length) {
      // A load into an empty collection: one map operation (a repeated id replaces the
      // earlier document, as a snapshot's later copy of a document does).
      let coll = this.#coll;
      if (collection !== this.#lastCollection || coll === undefined) {
        coll = this.entries(collection);
        this.#coll = coll;
        this.#lastCollection = collection;
      }
      if (entry !== undefined) this.#trim(entry);
      const fresh = this.newEntry();
      coll.set(id, fresh);
      this.#entry = entry = fresh;
      this.#lastId = id;
      this.#mark = -1;
    } else if (id !== this.#lastId || collection !== this.#lastCollection || entry === undefined)
      entry = this.#enter(collection, id);
    let one: string | undefined;
    if (typeof hlc === 'string') one = hlc;
    else {
      one = hlc[0];
      for (let i = 1; i < hlc.length; i++) if (hlc[i] !== one) one = undefined;
    }
    if (!isBlank(entry) || one === undefined || values.length !== names.length) {
      for (let i = 0; i < names.length; i++)
        this.write(collection, id, names[i]!, values[i], typeof hlc === 'string' ? hlc : hlc[i]!);
      return;
    }
    let live = 0;
    for (let i = 0; i < values.length; i++) if (values[i] !== undefined) live++;
    this.#fillBlank(entry, s, values, one, live);
  }

  /**
   * @internal Load documents given in columns into `collection`, which must hold nothing,
   * inside the open write batch (their cells take its sequence number): the collection's
   * entries become a {@link ColumnEntries} that builds them on the first access needing
   * them, with each visible document materialised now (the rows of a part whose fields
   * include `_deleted` are tombstones). Other cells of the collection may be
   * written in the same batch while the returned map's `hold` is set (rows in a part's
   * `skip`, or documents in no part). Undefined (nothing done) when a part's fields do not
   * make one flat shared shape (nested paths, refMany members, `id`): load
   * those cell by cell.
   */
  loadColumns(
    collection: string,
    hlcs: readonly string[],
    parts: readonly ColumnRows[],
  ): ColumnEntries<E> | undefined {
    if (!this.#writing) throw new Error('Replica.loadColumns: no write batch is open.');
    const existing = this.#collections.get(collection);
    if (existing !== undefined && (existing instanceof ColumnEntries || existing.size > 0))
      throw new Error(`Replica.loadColumns: ${collection} holds documents already.`);
    const shapes: (Shape | undefined)[] = [];
    for (const rows of parts) {
      if (rows.fields.includes(DELETED_FIELD)) {
        shapes.push(undefined); // tombstones
        continue;
      }
      const shape = this.shapeOf(rows.fields) as Shape | undefined;
      if (shape === undefined || !shape.flat) return undefined;
      shapes.push(shape);
    }
    const built: ColumnPart[] = parts.map((rows, p) => {
      const shape = shapes[p];
      const { ids, stamps, values, skip } = rows;
      const n = ids.length;
      const docs = new Array<Record<string, unknown> | undefined>(n);
      if (shape === undefined) return { rows, shape, docs, deletedAt: rows.fields.indexOf(DELETED_FIELD) };
      const names = shape.names;
      const nf = names.length;
      for (let i = 0; i < n; i++) {
        if (skip !== undefined && skip.has(i)) continue;
        let doc: Record<string, unknown> | undefined;
        for (let f = 0; f < nf; f++) {
          if (stampOf(stamps[f]!, i) < 0) continue;
          const v = values[f]![i];
          if (v === undefined) continue;
          // As materialize builds it: `id`, then the fields with a value, in shape order.
          doc ??= { id: ids[i] };
          doc[names[f]!] = v;
        }
        docs[i] = doc;
      }
      return { rows, shape, docs, deletedAt: -1 };
    });
    const seq = (this.#batchSeq ||= ++this.#seq);
    const entries = new ColumnEntries<E>(() => this.newEntry(), hlcs, seq, built);
    this.#collections.set(collection, entries);
    if (this.#lastCollection === collection) {
      this.#coll = undefined;
      this.#lastCollection = this.#lastId = undefined;
      this.#entry = undefined;
    }
    return entries;
  }

  /** Gives a blank entry all its cells at once, under one HLC (the bulk paths above). */
  #fillBlank(entry: DocEntry, shape: Shape, values: CellValue[], hlc: string, live: number): void {
    entry.shape = shape;
    entry.values = values;
    entry.hlc = hlc;
    entry.seq = this.#batchSeq ||= ++this.#seq;
    entry.xi = -1;
    entry.live = live;
    entry.doc = undefined;
    const mark = this.#mark;
    if (mark >= 0) {
      this.#tChanged[mark] = true;
      if (this.#report) this.#tFields[mark] = shape.names.slice();
    }
  }

  /**
   * Close the batch opened by {@link beginWrite}: the visible changes (empty when it was
   * opened with `report` false).
   * @internal
   */
  endWrite(): DocChange[] {
    try {
      const changes: DocChange[] = [];
      const n = this.#n;
      const report = this.#report;
      if (!report && this.#entry !== undefined) this.#trim(this.#entry);
      for (let t = 0; t < n; t++) {
        const e = this.#tEntry[t]!;
        e.mark = -1;
        if (!this.#tChanged[t]) continue;
        // Arrays grown by push carry spare capacity (16 slots or more), and a size hint may
        // have been generous: copy them to size.
        this.#trim(e, this.#tGrew[t]);
        const now = visible(e);
        const was = this.#tWasVisible[t]!;
        if (now) {
          changes.push({
            collection: this.#tCollection[t]!,
            id: this.#tId[t]!,
            kind: was ? 'update' : 'insert',
            fields: this.#tFields[t] ?? [],
          });
        } else if (was) {
          changes.push({ collection: this.#tCollection[t]!, id: this.#tId[t]!, kind: 'delete', fields: [] });
        }
      }
      return changes;
    } finally {
      this.#resetScratch();
    }
  }

  /** Forget the open batch's scratch: no references to documents or field lists stay behind. */
  #resetScratch(): void {
    this.#writing = false;
    this.#entry = undefined;
    this.#mark = -1;
    this.#grew = false;
    this.#coll = undefined;
    this.#lastId = this.#lastCollection = undefined;
    this.#size = 0;
    const n = this.#n;
    if (n === 0) return;
    this.#n = 0;
    for (let t = 0; t < n; t++) this.#tEntry[t]!.mark = -1;
    this.#tEntry.length = 0;
    this.#tCollection.length = 0;
    this.#tId.length = 0;
    this.#tWasVisible.length = 0;
    this.#tChanged.length = 0;
    this.#tGrew.length = 0;
    this.#tFields.length = 0;
  }

  /** The visible document, or undefined if missing or deleted. The same object until it changes. */
  get(collection: string, id: string): Readonly<Record<string, unknown>> | undefined {
    const entry = this.#collections.get(collection)?.get(id);
    if (!entry || entry.deleted !== undefined || entry.live === 0) return undefined;
    return (entry.doc ??= materialize(id, entry));
  }

  /** True when the document is visible. */
  has(collection: string, id: string): boolean {
    const entry = this.#collections.get(collection)?.get(id);
    return !!entry && entry.deleted === undefined && entry.live > 0;
  }

  /** True when the document has been deleted (a tombstone exists). */
  isDeleted(collection: string, id: string): boolean {
    return this.#collections.get(collection)?.get(id)?.deleted !== undefined;
  }

  /** The stored winner of one cell (tombstoned documents have only `_deleted`). */
  cell(collection: string, id: string, field: string): Readonly<Slot> | undefined {
    const entry = this.#collections.get(collection)?.get(id);
    if (!entry) return undefined;
    if (field === DELETED_FIELD)
      return entry.deleted === undefined
        ? undefined
        : { value: true, hlc: entry.deleted, seq: maxSeq(entry) };
    const at = entry.shape.names.length === 0 ? -1 : entry.shape.indexOf(field);
    return at < 0 ? undefined : { value: entry.values[at], hlc: hlcAt(entry, at), seq: seqAt(entry, at) };
  }

  /** The stored cells of one document (field → slot), built on each call; undefined when unknown. */
  fields(collection: string, id: string): ReadonlyMap<string, Readonly<Slot>> | undefined {
    const e = this.#collections.get(collection)?.get(id);
    if (!e || isBlank(e)) return undefined;
    const out = new Map<string, Slot>();
    const names = e.shape.names;
    for (let i = 0; i < names.length; i++)
      out.set(names[i]!, { value: e.values[i], hlc: hlcAt(e, i), seq: seqAt(e, i) });
    return out;
  }

  /** Ids of the visible documents of a collection. */
  *ids(collection: string): IterableIterator<string> {
    const coll = this.#collections.get(collection);
    if (!coll) return;
    for (const [id, e] of coll) if (e.deleted === undefined && e.live > 0) yield id;
  }

  /** The visible documents of a collection. */
  *documents(collection: string): IterableIterator<Readonly<Record<string, unknown>>> {
    const coll = this.#collections.get(collection);
    if (!coll) return;
    for (const [id, e] of coll)
      if (e.deleted === undefined && e.live > 0) yield (e.doc ??= materialize(id, e));
  }

  /** Number of visible documents in a collection. */
  count(collection: string): number {
    let n = 0;
    const coll = this.#collections.get(collection);
    if (coll) for (const e of coll.values()) if (e.deleted === undefined && e.live > 0) n++;
    return n;
  }

  /** Names of the collections this replica has seen. */
  collections(): string[] {
    return [...this.#collections.keys()];
  }

  /**
   * Every stored cell that changed after local sequence `since` (0 = all), tombstones
   * included. Cost: one pass over the documents, plus the cells of changed documents.
   */
  cellsSince(since = 0): Cell[] {
    const out: Cell[] = [];
    for (const [collection, coll] of this.#collections) {
      for (const [id, e] of coll) {
        if (maxSeq(e) <= since) continue;
        if (e.deleted !== undefined) {
          out.push({ collection, id, field: DELETED_FIELD, value: true, hlc: e.deleted });
          continue;
        }
        const names = e.shape.names;
        for (let i = 0; i < names.length; i++)
          if (seqAt(e, i) > since)
            out.push({ collection, id, field: names[i]!, value: e.values[i], hlc: hlcAt(e, i) });
      }
    }
    return out;
  }

  /**
   * Forget a document entirely (its cells and any tombstone), as if it had never been seen:
   * for a snapshot that replaces what a client holds (the server no longer has it, e.g. its
   * tombstone was compacted away, or it left the client's queries). Not a merge operation:
   * replicas that forget differently no longer converge. Returns the visible change: a
   * `delete` when the document was visible, else undefined.
   */
  forget(collection: string, id: string): DocChange | undefined {
    const coll = this.#collections.get(collection);
    const entry = coll?.get(id);
    if (!coll || !entry) return undefined;
    const wasVisible = entry.deleted === undefined && entry.live > 0;
    coll.delete(id);
    entry.mark = GONE;
    resetEntry(entry, this.#root);
    return wasVisible ? { collection, id, kind: 'delete', fields: [] } : undefined;
  }

  /** Drop everything (the maps of {@link entries} stay, emptied). */
  clear(): void {
    for (const coll of this.#collections.values()) {
      for (const e of coll.values()) {
        e.mark = GONE;
        resetEntry(e, this.#root);
      }
      coll.clear();
    }
  }

  // ── owner access (@internal: the client store keeps its per-document state in the entries) ──

  /**
   * @internal The live map of a collection's entries (created if missing; kept for the
   * replica's life). An owner may look entries up, add one made by {@link newEntry} under an
   * id it found absent, and remove one only through {@link release}.
   */
  entries(collection: string): Map<string, E> {
    let coll = this.#collections.get(collection);
    if (!coll) this.#collections.set(collection, (coll = new Map()));
    return coll;
  }

  /** @internal A blank entry (no fields, no tombstone) from this replica's factory. */
  newEntry(): E {
    const e = this.#newEntry();
    e.shape = this.#root;
    return e;
  }

  /**
   * @internal Remove an owner's entry from `entries` when the replica holds nothing of its
   * document (no cell, no tombstone); otherwise keep it. Returns whether it was removed.
   */
  release(entries: Map<string, E>, id: string, e: E): boolean {
    if (!isBlank(e) || this.#writing) return false;
    if (entries.get(id) === e) entries.delete(id);
    e.mark = GONE;
    return true;
  }

  /**
   * @internal Put back an entry {@link forget} removed (now blank) because its owner still
   * uses it: the same object serves the document again.
   */
  readopt(collection: string, id: string, e: E): void {
    const coll = this.entries(collection);
    if (coll.has(id)) throw new Error(`Replica.readopt: ${collection}/${id} has an entry already.`);
    e.mark = -1;
    coll.set(id, e);
  }

  /** @internal The materialised document of an entry (undefined when not visible): no lookup. */
  docOf(id: string, e: E): Readonly<Record<string, unknown>> | undefined {
    if (e.deleted !== undefined || e.live === 0) return undefined;
    return (e.doc ??= materialize(id, e));
  }
}
