/**
 * Generators and helpers for the replication property tests: random operation histories
 * written by several nodes with their own hybrid logical clocks under one manual scheduler,
 * a naive oracle of the merge rules, and ways to deliver cells in any order and batching.
 */
import fc from 'fast-check';
import {
  type Cell,
  type CellValue,
  createHlc,
  createManualScheduler,
  DELETED_FIELD,
  type HlcClock,
  ID_FIELD,
  type Replica,
  unflattenDocument,
} from '../src/index.js';

export const COLLECTIONS = ['todos', 'notes'] as const;
/** Plain field paths: top-level, nested, and paths that are both a leaf and a parent. */
export const FIELDS = ['title', 'done', 'meta', 'meta.n', 'meta.tag', 'a.b', 'a.b.c', 'list'] as const;
export const MEMBERS = ['m1', 'm2', 'm3'] as const;
export const REF_MANY = 'tags';

/** Values a field write may carry; `undefined` unsets. No -0: JSON, the wire form, has none. */
export const fieldValue: fc.Arbitrary<CellValue> = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom('x', 'y', ''),
  fc.boolean(),
  fc.constant(null),
  fc.constant(undefined),
  fc.constant<CellValue>({}),
  fc.constant<CellValue>({ k: 1 }),
  fc.constant<CellValue>([1, 'x']),
);

/** One step of a history. `w` is the writer index. */
export type Op =
  | { k: 'insert'; w: number; c: number; d: number; fields: [number, CellValue][]; tags: number[] }
  | { k: 'set'; w: number; c: number; d: number; f: number; v: CellValue }
  | { k: 'member'; w: number; c: number; d: number; m: number; add: boolean }
  | { k: 'delete'; w: number; c: number; d: number }
  | { k: 'tick'; ms: number }
  | { k: 'skew'; w: number; ms: number }
  | { k: 'sync'; from: number; to: number };

export interface HistoryShape {
  writers: number;
  docs: number;
  /** Relative weight of delete operations. */
  deletes: number;
  maxOps: number;
}

/** A random history of operations for `shape.writers` writers over `shape.docs` ids per collection. */
export function history(shape: HistoryShape): fc.Arbitrary<Op[]> {
  const w = fc.integer({ min: 0, max: shape.writers - 1 });
  const c = fc.integer({ min: 0, max: COLLECTIONS.length - 1 });
  const d = fc.integer({ min: 0, max: shape.docs - 1 });
  const f = fc.integer({ min: 0, max: FIELDS.length - 1 });
  const m = fc.integer({ min: 0, max: MEMBERS.length - 1 });
  const op: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.record({
        k: fc.constant('insert' as const),
        w,
        c,
        d,
        fields: fc.uniqueArray(fc.tuple(f, fieldValue), { selector: ([i]) => i, maxLength: 3 }),
        tags: fc.uniqueArray(m, { maxLength: 2 }),
      }),
    },
    { weight: 5, arbitrary: fc.record({ k: fc.constant('set' as const), w, c, d, f, v: fieldValue }) },
    { weight: 2, arbitrary: fc.record({ k: fc.constant('member' as const), w, c, d, m, add: fc.boolean() }) },
    { weight: shape.deletes, arbitrary: fc.record({ k: fc.constant('delete' as const), w, c, d }) },
    {
      weight: 2,
      arbitrary: fc.record({ k: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 50 }) }),
    },
    {
      weight: 1,
      arbitrary: fc.record({
        k: fc.constant('skew' as const),
        w,
        ms: fc.integer({ min: -120_000, max: 120_000 }),
      }),
    },
    { weight: 1, arbitrary: fc.record({ k: fc.constant('sync' as const), from: w, to: w }) },
  );
  return fc.array(op, { minLength: 1, maxLength: shape.maxOps, size: 'medium' });
}

/**
 * Play a history: each writer stamps its writes with its own HLC, whose physical clock is
 * the shared manual scheduler plus a skew that jumps (also backwards). Returns every cell
 * written, in the order written.
 */
export function playHistory(ops: readonly Op[], writers: number): Cell[] {
  const scheduler = createManualScheduler();
  const skew = Array.from({ length: writers }, () => 0);
  const clocks: HlcClock[] = skew.map((_, i) =>
    createHlc({ nodeId: `w${i}`, clock: { now: () => scheduler.now() + skew[i]! } }),
  );
  const cells: Cell[] = [];
  const id = (d: number) => `d${d}`;
  for (const op of ops) {
    switch (op.k) {
      case 'tick':
        scheduler.advance(op.ms);
        break;
      case 'skew':
        skew[op.w] = op.ms;
        break;
      case 'sync':
        // A writer that heard from another: its later stamps follow what it heard.
        if (op.from !== op.to) clocks[op.to]!.receive(clocks[op.from]!.last);
        break;
      case 'insert': {
        const hlc = clocks[op.w]!.now();
        const collection = COLLECTIONS[op.c]!;
        cells.push({ collection, id: id(op.d), field: ID_FIELD, value: id(op.d), hlc });
        for (const [f, value] of op.fields)
          cells.push({ collection, id: id(op.d), field: FIELDS[f]!, value, hlc });
        for (const m of op.tags)
          cells.push({ collection, id: id(op.d), field: `${REF_MANY}[${MEMBERS[m]}]`, value: true, hlc });
        break;
      }
      case 'set':
        cells.push({
          collection: COLLECTIONS[op.c]!,
          id: id(op.d),
          field: FIELDS[op.f]!,
          value: op.v,
          hlc: clocks[op.w]!.now(),
        });
        break;
      case 'member':
        cells.push({
          collection: COLLECTIONS[op.c]!,
          id: id(op.d),
          field: `${REF_MANY}[${MEMBERS[op.m]}]`,
          value: op.add,
          hlc: clocks[op.w]!.now(),
        });
        break;
      case 'delete':
        cells.push({
          collection: COLLECTIONS[op.c]!,
          id: id(op.d),
          field: DELETED_FIELD,
          value: true,
          hlc: clocks[op.w]!.now(),
        });
        break;
    }
  }
  return cells;
}

/** A permutation of `xs` (Fisher-Yates driven by the random `keys`, cycled). */
export function shuffleBy<T>(xs: readonly T[], keys: readonly number[]): T[] {
  const out = [...xs];
  if (keys.length === 0) return out;
  for (let i = out.length - 1; i > 0; i--) {
    const j = keys[i % keys.length]! % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Cut `xs` into consecutive batches whose sizes cycle through `sizes` (each ≥ 1). */
export function batches<T>(xs: readonly T[], sizes: readonly number[]): T[][] {
  const out: T[][] = [];
  let i = 0;
  let j = 0;
  while (i < xs.length) {
    const n = Math.max(1, sizes.length ? sizes[j++ % sizes.length]! : xs.length);
    out.push(xs.slice(i, i + n));
    i += n;
  }
  return out;
}

/** Freeze a value and everything inside it, so an accidental write throws. */
export function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

const canonical = (v: CellValue): string => (v === undefined ? '' : JSON.stringify(v));
const cellKey = (c: { collection: string; id: string; field: string }) =>
  `${c.collection}\u0000${c.id}\u0000${c.field}`;
const byKey = (a: Cell, b: Cell) => (cellKey(a) < cellKey(b) ? -1 : cellKey(a) > cellKey(b) ? 1 : 0);

/** A replica's whole state in a comparable form: its stored cells and visible documents, sorted. */
export function snapshot(r: Replica): { cells: Cell[]; docs: Record<string, Record<string, unknown>[]> } {
  const docs: Record<string, Record<string, unknown>[]> = {};
  for (const c of COLLECTIONS) {
    docs[c] = [...r.documents(c)]
      .map((d) => ({ ...d }))
      .sort((a, b) => ((a.id as string) < (b.id as string) ? -1 : 1));
  }
  return { cells: r.cellsSince(0).sort(byKey), docs };
}

/**
 * The merge rules restated naively, as the oracle the Replica must agree with: a document
 * with any tombstone keeps only its greatest tombstone; otherwise each cell keeps the write
 * with the greatest (HLC, canonical JSON of the value).
 */
export function oracle(cells: readonly Cell[]): ReturnType<typeof snapshot> {
  const tomb = new Map<string, Cell>();
  for (const c of cells) {
    if (c.field !== DELETED_FIELD) continue;
    const k = `${c.collection}\u0000${c.id}`;
    const t = tomb.get(k);
    if (!t || c.hlc > t.hlc) tomb.set(k, c);
  }
  const win = new Map<string, Cell>();
  for (const c of cells) {
    if (c.field === DELETED_FIELD || tomb.has(`${c.collection}\u0000${c.id}`)) continue;
    const k = cellKey(c);
    const w = win.get(k);
    if (!w || c.hlc > w.hlc || (c.hlc === w.hlc && canonical(c.value) > canonical(w.value))) win.set(k, c);
  }
  const stored = [...tomb.values(), ...win.values()].sort(byKey);
  const docs: Record<string, Record<string, unknown>[]> = {};
  for (const coll of COLLECTIONS) {
    const byId = new Map<string, Cell[]>();
    for (const c of win.values()) if (c.collection === coll) byId.set(c.id, [...(byId.get(c.id) ?? []), c]);
    docs[coll] = [...byId]
      .filter(([, cs]) => cs.some((c) => c.value !== undefined))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([id, cs]) => unflattenDocument(id, cs));
  }
  return { cells: stored.map((c) => ({ ...c })), docs };
}
