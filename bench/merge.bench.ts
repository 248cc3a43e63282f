/**
 * Merging offline work: two replicas share 10,000 documents, each makes 50,000 field updates
 * offline, then they exchange what the other lacks and converge. Measured: the time of the
 * exchange (encode the difference on each side, decode and merge it on the other) and the
 * bytes it puts on the wire (raw and gzipped), next to Yjs (state-vector diff) and Automerge
 * (one document for all rows, and one document per row), each checked equal on both sides.
 */
import { gzipSync } from 'node:zlib';
import * as Automerge from '@automerge/automerge';
import * as Y from 'yjs';
import {
  type Cell,
  createHlc,
  createManualScheduler,
  decodeMessage,
  encodeMessage,
  pullChangesSchema,
  Replica,
} from '../packages/core/src/index.ts';
import { type BenchSection, fmtMs, median, performance } from './lib.ts';

const DOCS = 10_000;
const UPDATES = 50_000;
const BATCH = 1_000; // updates per local transaction
const RUNS = 3;
const FIELDS = ['title', 'done', 'rank', 'owner'] as const;
type Field = (typeof FIELDS)[number];
type Row = { id: string; title: string; done: boolean; rank: number; owner: string };

/** Seeded PRNG (mulberry32): both sides' edits are the same in every library. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Edit {
  doc: number;
  field: Field;
  value: string | boolean | number;
}

function makeEdits(seed: number, side: string): Edit[] {
  const r = rng(seed);
  const out: Edit[] = new Array(UPDATES);
  for (let i = 0; i < UPDATES; i++) {
    const doc = Math.floor(r() * DOCS);
    const field = FIELDS[Math.floor(r() * FIELDS.length)]!;
    const value =
      field === 'title'
        ? `${side} title ${i}`
        : field === 'done'
          ? r() < 0.5
          : field === 'rank'
            ? Math.floor(r() * 1e6) / 8
            : `user${Math.floor(r() * 500)}`;
    out[i] = { doc, field, value };
  }
  return out;
}

const initialRow = (d: number): Row => ({
  id: `doc${d}`,
  title: `title ${d}`,
  done: d % 2 === 0,
  rank: d,
  owner: `user${d % 97}`,
});

/** Key-order-independent comparison of two plain JSON-able values. */
function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
    .join(',')}}`;
}

interface Result {
  exchangeMs: number;
  editMs: number;
  bytes: number;
  gzBytes: number;
}

// ---- OmniSync: core Replica, the wire form of a pull answer (JSON cells), validated decode.
function omnisyncRun(editsA: Edit[], editsB: Edit[]): Result {
  const clockA = createManualScheduler(1_700_000_000_000);
  const clockB = createManualScheduler(1_700_000_000_000);
  const hlcA = createHlc({ nodeId: 'replica_a', clock: clockA });
  const hlcB = createHlc({ nodeId: 'replica_b', clock: clockB });
  const a = new Replica();
  const b = new Replica();
  const init: Cell[] = [];
  const stamp = hlcA.now();
  for (let d = 0; d < DOCS; d++) {
    const row = initialRow(d);
    for (const [field, value] of Object.entries(row))
      init.push({ collection: 'items', id: row.id, field, value, hlc: stamp });
  }
  a.apply(init);
  b.apply(init);
  const baseA = a.seq;
  const baseB = b.seq;

  const edit = (r: Replica, hlc: ReturnType<typeof createHlc>, clock: typeof clockA, edits: Edit[]) => {
    for (let i = 0; i < edits.length; i += BATCH) {
      clock.advance(1);
      r.beginWrite(false);
      try {
        for (let j = i; j < Math.min(i + BATCH, edits.length); j++) {
          const e = edits[j]!;
          r.write('items', `doc${e.doc}`, e.field, e.value, hlc.now());
        }
      } finally {
        r.endWrite();
      }
    }
  };
  const t0 = performance.now();
  edit(a, hlcA, clockA, editsA);
  edit(b, hlcB, clockB, editsB);
  const editMs = performance.now() - t0;

  const t1 = performance.now();
  // Each side sends what changed since the last exchange, as a pull answer would carry it.
  const wireA = encodeMessage({ changes: a.cellsSince(baseA), cursor: 1, hasMore: false });
  const wireB = encodeMessage({ changes: b.cellsSince(baseB), cursor: 1, hasMore: false });
  const inB = decodeMessage(pullChangesSchema, JSON.parse(wireA), 'pull response');
  const inA = decodeMessage(pullChangesSchema, JSON.parse(wireB), 'pull response');
  b.apply(inB.changes as Cell[]);
  a.apply(inA.changes as Cell[]);
  const exchangeMs = performance.now() - t1;

  for (let d = 0; d < DOCS; d++)
    if (canonical(a.get('items', `doc${d}`)) !== canonical(b.get('items', `doc${d}`)))
      throw new Error(`OmniSync replicas differ at doc${d}`);
  const bytes = Buffer.byteLength(wireA) + Buffer.byteLength(wireB);
  const gzBytes = gzipSync(wireA).length + gzipSync(wireB).length;
  return { exchangeMs, editMs, bytes, gzBytes };
}

// ---- Yjs: one Y.Doc, a Y.Map of Y.Maps; exchange by state vector.
function yjsRun(editsA: Edit[], editsB: Edit[]): Result {
  const a = new Y.Doc();
  const items = a.getMap<Y.Map<unknown>>('items');
  a.transact(() => {
    for (let d = 0; d < DOCS; d++) {
      const m = new Y.Map<unknown>();
      for (const [k, v] of Object.entries(initialRow(d))) m.set(k, v);
      items.set(`doc${d}`, m);
    }
  });
  const b = new Y.Doc();
  Y.applyUpdate(b, Y.encodeStateAsUpdate(a));
  const edit = (doc: Y.Doc, edits: Edit[]) => {
    const map = doc.getMap<Y.Map<unknown>>('items');
    for (let i = 0; i < edits.length; i += BATCH)
      doc.transact(() => {
        for (let j = i; j < Math.min(i + BATCH, edits.length); j++) {
          const e = edits[j]!;
          map.get(`doc${e.doc}`)!.set(e.field, e.value);
        }
      });
  };
  const t0 = performance.now();
  edit(a, editsA);
  edit(b, editsB);
  const editMs = performance.now() - t0;

  const t1 = performance.now();
  const svA = Y.encodeStateVector(a);
  const svB = Y.encodeStateVector(b);
  const updA = Y.encodeStateAsUpdate(a, svB);
  const updB = Y.encodeStateAsUpdate(b, svA);
  Y.applyUpdate(b, updA);
  Y.applyUpdate(a, updB);
  const exchangeMs = performance.now() - t1;

  if (canonical(a.getMap('items').toJSON()) !== canonical(b.getMap('items').toJSON()))
    throw new Error('Yjs replicas differ');
  const bytes = svA.length + svB.length + updA.length + updB.length;
  const gzBytes = gzipSync(svA).length + gzipSync(svB).length + gzipSync(updA).length + gzipSync(updB).length;
  a.destroy();
  b.destroy();
  return { exchangeMs, editMs, bytes, gzBytes };
}

// ---- Automerge, one document holding every row; exchange by heads (saveSince / loadIncremental).
function automergeOneRun(editsA: Edit[], editsB: Edit[]): Result {
  const rows: Record<string, Row> = {};
  for (let d = 0; d < DOCS; d++) rows[`doc${d}`] = initialRow(d);
  let a = Automerge.from<{ items: Record<string, Row> }>({ items: rows }, { actor: 'aa' });
  let b = Automerge.load<{ items: Record<string, Row> }>(Automerge.save(a), { actor: 'bb' });
  const heads = Automerge.getHeads(a);
  const edit = (doc: typeof a, edits: Edit[]) => {
    for (let i = 0; i < edits.length; i += BATCH)
      doc = Automerge.change(doc, (d) => {
        for (let j = i; j < Math.min(i + BATCH, edits.length); j++) {
          const e = edits[j]!;
          (d.items[`doc${e.doc}`] as unknown as Record<string, unknown>)[e.field] = e.value;
        }
      });
    return doc;
  };
  const t0 = performance.now();
  a = edit(a, editsA);
  b = edit(b, editsB);
  const editMs = performance.now() - t0;

  const t1 = performance.now();
  const fromA = Automerge.saveSince(a, heads);
  const fromB = Automerge.saveSince(b, heads);
  b = Automerge.loadIncremental(b, fromA);
  a = Automerge.loadIncremental(a, fromB);
  const exchangeMs = performance.now() - t1;

  if (canonical(Automerge.toJS(a)) !== canonical(Automerge.toJS(b)))
    throw new Error('Automerge replicas differ');
  return {
    exchangeMs,
    editMs,
    bytes: fromA.length + fromB.length,
    gzBytes: gzipSync(fromA).length + gzipSync(fromB).length,
  };
}

// ---- Automerge, one document per row; exchange every row document that changed.
function automergePerRowRun(editsA: Edit[], editsB: Edit[]): Result {
  type D = Automerge.Doc<Row>;
  const a: D[] = [];
  const b: D[] = [];
  const heads: Automerge.Heads[] = [];
  for (let d = 0; d < DOCS; d++) {
    const doc = Automerge.from<Row>(initialRow(d), { actor: 'aa' });
    a.push(doc);
    b.push(Automerge.load<Row>(Automerge.save(doc), { actor: 'bb' }));
    heads.push(Automerge.getHeads(doc));
  }
  const edit = (docs: D[], edits: Edit[]) => {
    // One change per row per batch: the edits of one local transaction, grouped by row.
    for (let i = 0; i < edits.length; i += BATCH) {
      const byDoc = new Map<number, Edit[]>();
      for (let j = i; j < Math.min(i + BATCH, edits.length); j++) {
        const e = edits[j]!;
        const list = byDoc.get(e.doc);
        if (list) list.push(e);
        else byDoc.set(e.doc, [e]);
      }
      for (const [d, list] of byDoc)
        docs[d] = Automerge.change(docs[d]!, (row) => {
          for (const e of list) (row as unknown as Record<string, unknown>)[e.field] = e.value;
        });
    }
  };
  const t0 = performance.now();
  edit(a, editsA);
  edit(b, editsB);
  const editMs = performance.now() - t0;

  const t1 = performance.now();
  let bytes = 0;
  const chunksA: Uint8Array[] = [];
  const chunksB: Uint8Array[] = [];
  for (let d = 0; d < DOCS; d++) {
    const h = heads[d]!;
    // A row neither side touched sends nothing (both know the other's heads from the last sync).
    const fromA = Automerge.equals(Automerge.getHeads(a[d]!), h) ? undefined : Automerge.saveSince(a[d]!, h);
    const fromB = Automerge.equals(Automerge.getHeads(b[d]!), h) ? undefined : Automerge.saveSince(b[d]!, h);
    if (fromA) {
      b[d] = Automerge.loadIncremental(b[d]!, fromA);
      bytes += fromA.length;
      chunksA.push(fromA);
    }
    if (fromB) {
      a[d] = Automerge.loadIncremental(a[d]!, fromB);
      bytes += fromB.length;
      chunksB.push(fromB);
    }
  }
  const exchangeMs = performance.now() - t1;
  for (let d = 0; d < DOCS; d++)
    if (canonical(Automerge.toJS(a[d]!)) !== canonical(Automerge.toJS(b[d]!)))
      throw new Error(`Automerge per-row replicas differ at ${d}`);
  const gz = (cs: Uint8Array[]) => gzipSync(Buffer.concat(cs)).length;
  return { exchangeMs, editMs, bytes, gzBytes: gz(chunksA) + gz(chunksB) };
}

function measure(run: (a: Edit[], b: Edit[]) => Result, runs: number): Result & { all: number[] } {
  const results: Result[] = [];
  for (let i = 0; i < runs; i++) results.push(run(makeEdits(1000 + i, 'a'), makeEdits(2000 + i, 'b')));
  const ex = results.map((r) => r.exchangeMs);
  return {
    exchangeMs: median(ex),
    editMs: median(results.map((r) => r.editMs)),
    bytes: median(results.map((r) => r.bytes)),
    gzBytes: median(results.map((r) => r.gzBytes)),
    all: ex,
  };
}

export default async function mergeBench(): Promise<BenchSection> {
  omnisyncRun(makeEdits(1, 'a'), makeEdits(2, 'b')); // warm-up
  yjsRun(makeEdits(1, 'a'), makeEdits(2, 'b'));
  const omni = measure(omnisyncRun, RUNS);
  const yjs = measure(yjsRun, RUNS);
  const amOne = measure(automergeOneRun, RUNS);
  const amRow = measure(automergePerRowRun, 1);
  const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
  /** What travels by default: OmniSync's pull answers gzip-compressed, the others raw. */
  const sent = (r: Result) => (r === omni ? r.gzBytes : r.bytes);
  const row = (name: string, r: Result) => [
    name,
    `${fmtMs(r.exchangeMs)} ms`,
    mb(r.bytes),
    mb(r.gzBytes),
    mb(sent(r)),
    `${fmtMs(r.editMs)} ms`,
    `${(r.exchangeMs / omni.exchangeMs).toFixed(2)}×`,
    `${(r.bytes / omni.bytes).toFixed(2)}×`,
    `${(sent(r) / sent(omni)).toFixed(2)}×`,
  ];
  return {
    title: 'Merge: two replicas, 10,000 shared documents, 50,000 offline field updates on each',
    notes:
      `Each side edits 4 fields of random documents (seeded, the same edits for every library) in local transactions of ${BATCH}, ` +
      'then both exchange what the other lacks and merge; every run checks both sides equal. "exchange" = encode the difference on each side + decode and merge on the other ' +
      '(OmniSync: Replica.cellsSince → the JSON of a pull answer → zod-validated decode → Replica.apply, i.e. what a client does with a pull page; ' +
      'Yjs ' +
      `${'13.6'}: encodeStateVector + encodeStateAsUpdate(doc, sv) + applyUpdate; Automerge 3: saveSince(heads) + loadIncremental). ` +
      '"wire" = bytes both ways (Yjs includes both state vectors). "as sent by default": OmniSync\'s server gzips pull/snapshot answers of 1 kB and more when the request accepts it (browsers and Node\'s fetch do), so a pull answer travels as its gzip size; Yjs (y-protocols over y-websocket) and Automerge (automerge-repo) send their binary updates as they are (ws per-message deflate is off by default). A device\'s own changes go up to OmniSync\'s server as an uncompressed push. "edits" = the 100k local updates. ' +
      `Medians of ${RUNS} runs (Automerge per row: 1 run); ratios are to OmniSync (above 1 = OmniSync is ahead).`,
    columns: [
      'library',
      'exchange + merge',
      'wire',
      'wire gzip',
      'as sent by default',
      'edits (both sides)',
      'time ÷ OmniSync',
      'bytes ÷ OmniSync',
      'sent ÷ OmniSync',
    ],
    charts: [
      {
        file: 'merge.svg',
        title: 'Merge: 10,000 documents, 50,000 offline field updates on each of two replicas',
        unit: 'ms or MB',
        log: true,
        lowerIsBetter: true,
        groups: [
          { label: 'exchange + merge (ms)', unit: 'ms', pick: (r: Result) => r.exchangeMs },
          { label: 'bytes on the wire, raw (MB)', unit: 'MB', pick: (r: Result) => r.bytes / 1e6 },
          { label: 'bytes as sent by default (MB)', unit: 'MB', pick: (r: Result) => sent(r) / 1e6 },
        ].map(({ label, unit, pick }) => ({
          label,
          unit,
          bars: (
            [
              ['OmniSync', omni],
              ['Yjs', yjs],
              ['Automerge (one doc)', amOne],
              ['Automerge (doc per row)', amRow],
            ] as const
          ).map(([name, r]) => ({ name, value: pick(r) })),
        })),
      },
    ],
    rows: [
      row('OmniSync', omni),
      row('Yjs', yjs),
      row('Automerge (one doc)', amOne),
      row('Automerge (doc per row)', amRow),
    ],
  };
}
