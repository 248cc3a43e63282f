/**
 * Benchmark harness shared by every `bench/*.bench.ts`. Each bench file default-exports
 * `async () => BenchSection`; `bench/run.ts` runs them in one process (so OmniSync and its
 * peers are measured side by side in the same run) and writes bench/RESULTS.md.
 * Machines are shared and noisy: report medians (and p95 where latency matters) and ratios.
 */
import type { ChartSpec } from './chart.ts';
import { performance } from 'node:perf_hooks';

export interface BenchSection {
  title: string;
  /** One paragraph: what is measured and how. */
  notes?: string;
  columns: string[];
  rows: (string | number)[][];
  /** Charts written as SVG to bench/charts/ and shown under the table. */
  charts?: ChartSpec[];
}

export type BenchFn = () => Promise<BenchSection>;

/** Median of numbers. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The p-th percentile (0..100), nearest-rank. */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}

/** Run `fn` `runs` times (after `warmup` runs) and return each duration in ms. */
export async function timeRuns(
  fn: () => unknown | Promise<unknown>,
  runs = 5,
  warmup = 1,
): Promise<number[]> {
  for (let i = 0; i < warmup; i++) await fn();
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    out.push(performance.now() - t0);
  }
  return out;
}

/** Force a GC when node runs with --expose-gc (npm run bench does). */
export function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

/** Heap used in MB after a GC. */
export function heapMB(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 1024 / 1024;
}

/** Format a rate: 1234567 → "1.23M". */
export function fmtRate(perSec: number): string {
  if (perSec >= 1e6) return `${(perSec / 1e6).toFixed(2)}M`;
  if (perSec >= 1e3) return `${(perSec / 1e3).toFixed(1)}k`;
  return perSec.toFixed(0);
}

/** Format milliseconds with 3 significant digits. */
export function fmtMs(ms: number): string {
  return ms >= 100 ? ms.toFixed(0) : ms >= 1 ? ms.toFixed(2) : ms.toFixed(4);
}

export { performance };
