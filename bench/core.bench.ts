/**
 * Core replication model: merge throughput of cells into a Replica (trusted and validated
 * paths, first write and overwrite), HLC stamps per second, and the heap a 1M-cell replica
 * holds. No peer library has this exact operation (TanStack DB and the others are compared
 * at the collection level in their own bench files), so the rows compare OmniSync's paths.
 */
import {
  type Cell,
  createHlc,
  createManualScheduler,
  Replica,
  systemClock,
} from '../packages/core/src/index.ts';
import { type BenchSection, fmtRate, gc, heapMB, median, performance } from './lib.ts';

const DOCS = 100_000;
const FIELDS = 10; // id + 9 fields
const CELLS = DOCS * FIELDS;
const BATCH = 10_000;
const RUNS = 5;

/** One document per id, all fields stamped with the same HLC as an insert would be. */
function makeCells(nodeId: string, startMs: number, round: number): Cell[] {
  const clock = createManualScheduler(startMs);
  const hlc = createHlc({ nodeId, clock });
  const cells: Cell[] = new Array(CELLS);
  let k = 0;
  for (let d = 0; d < DOCS; d++) {
    if (d % 100 === 0) clock.advance(1);
    const stamp = hlc.now();
    const id = `doc${d}`;
    cells[k++] = { collection: 'items', id, field: 'id', value: id, hlc: stamp };
    cells[k++] = { collection: 'items', id, field: 'title', value: `title ${d} r${round}`, hlc: stamp };
    cells[k++] = { collection: 'items', id, field: 'done', value: (d + round) % 2 === 0, hlc: stamp };
    cells[k++] = { collection: 'items', id, field: 'rank', value: d * 1.5 + round, hlc: stamp };
    cells[k++] = { collection: 'items', id, field: 'owner', value: `user${d % 97}`, hlc: stamp };
    cells[k++] = {
      collection: 'items',
      id,
      field: 'meta.color',
      value: ['red', 'green', 'blue'][d % 3]!,
      hlc: stamp,
    };
    cells[k++] = { collection: 'items', id, field: 'meta.size', value: d % 7, hlc: stamp };
    cells[k++] = { collection: 'items', id, field: 'tags', value: ['a', `t${d % 5}`], hlc: stamp };
    cells[k++] = { collection: 'items', id, field: `refs[r${d % 11}]`, value: true, hlc: stamp };
    cells[k++] = { collection: 'items', id, field: 'note', value: null, hlc: stamp };
  }
  return cells;
}

function applyAll(r: Replica, cells: readonly Cell[], validated: boolean): number {
  const t0 = performance.now();
  for (let i = 0; i < cells.length; i += BATCH) {
    const batch = cells.slice(i, i + BATCH);
    if (validated) r.apply(batch);
    else r.applyTrusted(batch);
  }
  return performance.now() - t0;
}

export default async function coreBench(): Promise<BenchSection> {
  const first = makeCells('writer_a', 1_700_000_000_000, 0);
  const newer = makeCells('writer_b', 1_700_000_100_000, 1);

  const rows: (string | number)[][] = [];
  const rate = (ms: number[]) => fmtRate(CELLS / (median(ms) / 1000));
  const row = (what: string, ms: number[]) =>
    rows.push([
      what,
      `${rate(ms)} cells/s`,
      `${median(ms).toFixed(0)} ms`,
      `${Math.min(...ms).toFixed(0)}–${Math.max(...ms).toFixed(0)} ms`,
    ]);

  // Warm up both paths on a slice so the JIT has seen them.
  applyAll(new Replica(), first.slice(0, 200_000), false);
  applyAll(new Replica(), first.slice(0, 200_000), true);

  const insertTrusted: number[] = [];
  const insertValidated: number[] = [];
  const updateTrusted: number[] = [];
  const updateValidated: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    gc();
    let r = new Replica();
    insertTrusted.push(applyAll(r, first, false));
    updateTrusted.push(applyAll(r, newer, false));
    r = new Replica();
    gc();
    insertValidated.push(applyAll(r, first, true));
    updateValidated.push(applyAll(r, newer, true));
  }
  row('insert 1M cells, applyTrusted', insertTrusted);
  row('insert 1M cells, apply (validated)', insertValidated);
  row('overwrite 1M cells with newer, applyTrusted', updateTrusted);
  row('overwrite 1M cells with newer, apply (validated)', updateValidated);

  // A stale pass (every cell older than what is stored): the common "already have it" case of sync.
  const stale: number[] = [];
  {
    const r = new Replica();
    applyAll(r, newer, false);
    for (let run = 0; run < RUNS; run++) stale.push(applyAll(r, first, false));
  }
  row('re-deliver 1M older cells (all lose), applyTrusted', stale);

  // Reading it back: full state out (sync), and materialising every document.
  const full = new Replica();
  applyAll(full, first, false);
  const since: number[] = [];
  const docs: number[] = [];
  for (let run = 0; run < RUNS; run++) {
    let t0 = performance.now();
    full.cellsSince(0);
    since.push(performance.now() - t0);
    const r = new Replica();
    applyAll(r, first.slice(0, 200_000), false);
    t0 = performance.now();
    let n = 0;
    for (const _ of r.documents('items')) n++;
    docs.push((performance.now() - t0) * (CELLS / 200_000));
    if (n !== 20_000) throw new Error(`expected 20000 documents, got ${n}`);
  }
  row('cellsSince(0) of the 1M-cell replica', since);
  row('materialise documents (cells/s of their fields)', docs);

  // Memory: heap with the replica minus heap without it (the cell arrays stay alive in both).
  const heapBefore = heapMB();
  const held = new Replica();
  applyAll(held, first, false);
  const heapAfter = heapMB();
  rows.push([
    'heap of a replica holding 1M cells (100k docs × 10)',
    `${(heapAfter - heapBefore).toFixed(0)} MB`,
    '',
    '',
  ]);
  if (held.count('items') !== DOCS) throw new Error('replica lost documents');

  // HLC stamps per second on the system clock.
  const STAMPS = 1_000_000;
  const hlcRuns: number[] = [];
  for (let run = 0; run < RUNS + 1; run++) {
    const hlc = createHlc({ nodeId: `bench${run}`, clock: systemClock });
    let last = '';
    const t0 = performance.now();
    for (let i = 0; i < STAMPS; i++) last = hlc.now();
    const ms = performance.now() - t0;
    if (last.length === 0) throw new Error('no stamp');
    if (run > 0) hlcRuns.push(ms); // the first run is a warm-up
  }
  rows.push([
    'HLC now() on the system clock',
    `${fmtRate(STAMPS / (median(hlcRuns) / 1000))} stamps/s`,
    `${median(hlcRuns).toFixed(0)} ms per 1M`,
    `${Math.min(...hlcRuns).toFixed(0)}–${Math.max(...hlcRuns).toFixed(0)} ms`,
  ]);

  return {
    title: 'Core: merge throughput and HLC',
    notes: `${DOCS.toLocaleString('en')} documents × ${FIELDS} fields = 1,000,000 cells (nested paths, arrays, a refMany member) applied to a fresh Replica in batches of ${BATCH.toLocaleString('en')}; "overwrite" applies a second 1M cells with newer HLCs from another writer onto the filled replica. Medians of ${RUNS} runs (range shown); heap measured after forced GC`,
    columns: ['what', 'median rate', 'median time', 'range'],
    rows,
  };
}
