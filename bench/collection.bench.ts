/**
 * Collection writes: 100,000 inserts then 100,000 updates through a collection, written as
 * one transaction and as one transaction per row, plus heap for 100,000 documents — OmniSync
 * (local-only collection: overlay, HLC stamping, reactivity and the transaction engine all
 * on) side by side with @tanstack/db (local-only collection, its idiomatic API), same run.
 */
import { createCollection as tanstackCollection, localOnlyCollectionOptions } from '@tanstack/db';
import { createClient } from '../packages/client/src/index.ts';
import { effect } from '../packages/core/src/index.ts';
import { type BenchSection, fmtRate, gc, median, performance } from './lib.ts';

const N = 100_000;
type Todo = {
  id: string;
  title: string;
  completed: boolean;
  priority: number;
  createdAt: number;
  ownerId: string;
};
const todo = (i: number): Todo => ({
  id: `t${i}`,
  title: `Todo number ${i}`,
  completed: i % 2 === 0,
  priority: i % 5,
  createdAt: 1_700_000_000_000 + i,
  ownerId: `owner${i % 1000}`,
});

interface Rates {
  insertBatch: number;
  updateBatch: number;
  insertRow: number;
  updateRow: number;
  heapMB: number;
}

let seq = 0;

async function omnisyncBatch(): Promise<{ insert: number; update: number }> {
  const client = createClient();
  const c = client.collection<Todo>({ id: `todos${seq++}` });
  // Reactivity on: an effect subscribed to the collection, as a UI would be.
  let seen = 0;
  const stop = effect(() => {
    seen = c.count();
  });
  let t0 = performance.now();
  await client.transaction(() => {
    for (let i = 0; i < N; i++) c.insert(todo(i));
  }).promise;
  const insert = performance.now() - t0;
  t0 = performance.now();
  await client.transaction(() => {
    for (let i = 0; i < N; i++) c.update(`t${i}`, { priority: i % 7 });
  }).promise;
  const update = performance.now() - t0;
  stop.stop();
  if (seen !== N || c.get('t5')?.priority !== 5) throw new Error('omnisync batch: wrong result');
  return { insert, update };
}

async function omnisyncRows(): Promise<{ insert: number; update: number }> {
  const client = createClient();
  const c = client.collection<Todo>({ id: `todos${seq++}` });
  let seen = 0;
  const stop = effect(() => {
    seen = c.count();
  });
  const ps: Promise<unknown>[] = new Array(N);
  let t0 = performance.now();
  for (let i = 0; i < N; i++) ps[i] = c.insert(todo(i)).promise;
  await Promise.all(ps);
  const insert = performance.now() - t0;
  t0 = performance.now();
  for (let i = 0; i < N; i++) ps[i] = c.update(`t${i}`, { priority: i % 7 }).promise;
  await Promise.all(ps);
  const update = performance.now() - t0;
  stop.stop();
  if (seen !== N || c.get('t5')?.priority !== 5) throw new Error('omnisync rows: wrong result');
  return { insert, update };
}

async function omnisyncHeap(): Promise<number> {
  gc();
  const before = process.memoryUsage().heapUsed;
  const client = createClient(); // default settings (a 100k-row transaction exceeds the history budget)
  const c = client.collection<Todo>({ id: `todos${seq++}` });
  const docs: Todo[] = [];
  for (let i = 0; i < N; i++) docs.push(todo(i));
  // In a function of its own: a transaction left in this frame's registers would be counted.
  await (async () => void (await c.insert(docs).promise))();
  docs.length = 0;
  gc();
  const after = process.memoryUsage().heapUsed;
  if (c.count() !== N) throw new Error('omnisync heap: wrong count');
  return (after - before) / 2 ** 20;
}

async function tanstackBatch(): Promise<{ insert: number; update: number }> {
  const c = tanstackCollection(localOnlyCollectionOptions<Todo>({ id: `ts${seq++}`, getKey: (t) => t.id }));
  const docs: Todo[] = [];
  for (let i = 0; i < N; i++) docs.push(todo(i));
  let t0 = performance.now();
  await c.insert(docs).isPersisted.promise;
  const insert = performance.now() - t0;
  const keys = docs.map((d) => d.id);
  t0 = performance.now();
  await c.update(keys, (drafts) => {
    for (let i = 0; i < drafts.length; i++) drafts[i]!.priority = i % 7;
  }).isPersisted.promise;
  const update = performance.now() - t0;
  if (c.size !== N || c.get('t5')?.priority !== 5) throw new Error('tanstack batch: wrong result');
  return { insert, update };
}

async function tanstackRows(): Promise<{ insert: number; update: number }> {
  const c = tanstackCollection(localOnlyCollectionOptions<Todo>({ id: `ts${seq++}`, getKey: (t) => t.id }));
  const ps: Promise<unknown>[] = new Array(N);
  let t0 = performance.now();
  for (let i = 0; i < N; i++) ps[i] = c.insert(todo(i)).isPersisted.promise;
  await Promise.all(ps);
  const insert = performance.now() - t0;
  t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const p = i % 7;
    ps[i] = c.update(`t${i}`, (d) => {
      d.priority = p;
    }).isPersisted.promise;
  }
  await Promise.all(ps);
  const update = performance.now() - t0;
  if (c.size !== N || c.get('t5')?.priority !== 5) throw new Error('tanstack rows: wrong result');
  return { insert, update };
}

async function tanstackHeap(): Promise<number> {
  gc();
  const before = process.memoryUsage().heapUsed;
  const c = tanstackCollection(localOnlyCollectionOptions<Todo>({ id: `ts${seq++}`, getKey: (t) => t.id }));
  const docs: Todo[] = [];
  for (let i = 0; i < N; i++) docs.push(todo(i));
  await (async () => void (await c.insert(docs).isPersisted.promise))();
  docs.length = 0;
  gc();
  const after = process.memoryUsage().heapUsed;
  if (c.size !== N) throw new Error('tanstack heap: wrong count');
  return (after - before) / 2 ** 20;
}

async function measure(
  batch: () => Promise<{ insert: number; update: number }>,
  rows: () => Promise<{ insert: number; update: number }>,
  heap: () => Promise<number>,
  runs: number,
): Promise<Rates> {
  const b: { insert: number; update: number }[] = [];
  const r: { insert: number; update: number }[] = [];
  const h: number[] = [];
  await batch(); // warm-up
  for (let i = 0; i < runs; i++) {
    gc();
    b.push(await batch());
    gc();
    r.push(await rows());
    h.push(await heap());
  }
  const rate = (ms: number[]) => (N / median(ms)) * 1000;
  return {
    insertBatch: rate(b.map((x) => x.insert)),
    updateBatch: rate(b.map((x) => x.update)),
    insertRow: rate(r.map((x) => x.insert)),
    updateRow: rate(r.map((x) => x.update)),
    heapMB: median(h),
  };
}

export default async function collectionBench(): Promise<BenchSection> {
  const runs = Number(process.env.OMNISYNC_BENCH_RUNS ?? 5);
  const omni = await measure(omnisyncBatch, omnisyncRows, omnisyncHeap, runs);
  const ts = await measure(tanstackBatch, tanstackRows, tanstackHeap, Math.max(1, runs - 1));
  const row = (name: string, r: Rates): (string | number)[] => [
    name,
    fmtRate(r.insertBatch),
    fmtRate(r.updateBatch),
    fmtRate(r.insertRow),
    fmtRate(r.updateRow),
    r.heapMB.toFixed(1),
  ];
  const ratio = (a: number, b: number) => `${(a / b).toFixed(1)}×`;
  return {
    title: 'Collection writes: 100k inserts then 100k updates, and heap for 100k documents',
    notes:
      'Rows/s to completion (every transaction completed). "1 tx": all 100k rows in one transaction; "tx/row": one transaction per row, issued in a loop, then all awaited. OmniSync: local-only collection with an effect subscribed to count(), HLC stamping, overlay and base (core Replica) on; TanStack DB 0.15.2: localOnlyCollectionOptions, insert(array) / update(keys, drafts) and one insert/update per row. Heap: MB after GC holding 100k documents `{id, title, completed, priority, createdAt, ownerId}`. Medians of ' +
      `${runs} runs (TanStack: ${Math.max(1, runs - 1)}).`,
    columns: [
      'library',
      'insert (1 tx)',
      'update (1 tx)',
      'insert (tx/row)',
      'update (tx/row)',
      'heap MB (100k docs)',
    ],
    rows: [
      row('OmniSync', omni),
      row('@tanstack/db 0.15.2', ts),
      [
        'OmniSync ÷ TanStack',
        ratio(omni.insertBatch, ts.insertBatch),
        ratio(omni.updateBatch, ts.updateBatch),
        ratio(omni.insertRow, ts.insertRow),
        ratio(omni.updateRow, ts.updateRow),
        ratio(omni.heapMB, ts.heapMB),
      ],
    ],
  };
}
