/**
 * Shared pieces of the `backend-*.bench.ts` files (issue 12: 10k rows through each backend,
 * next to that backend's own client doing the same reads and writes directly). Each backend
 * bench measures three steps the same way: the initial push of 10k rows (10 transactions of
 * 1,000 inserts), a fresh client's initial load of the 10k rows, and 1,000 updates in one
 * transaction until they are acknowledged (or visible on a second client where the backend
 * delivers changes).
 */
import { type BenchSection, fmtMs, fmtRate, median } from './lib.ts';

export const ROWS = 10_000;
export const UPDATES = 1_000;
export const BATCH = 1_000;

export interface Row {
  id: string;
  title: string;
  n: number;
}

/** One run's durations, in ms. */
export interface StepTimes {
  push: number;
  load: number;
  updates: number;
}

/** Poll `cond` (1 ms apart) until it holds; throws after `timeoutMs`. */
export async function until(cond: () => boolean | Promise<boolean>, timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('bench: condition not reached in time');
    await new Promise((r) => setTimeout(r, 1));
  }
}

/** A suspending read (throws a promise until the binding answered): wait for it, then read. */
export async function settle<T>(read: () => T): Promise<T> {
  for (;;) {
    try {
      return read();
    } catch (p) {
      if (p instanceof Promise) await p;
      else throw p;
    }
  }
}

/** The three table rows of one backend: OmniSync next to the direct client, medians and ratios. */
export function stepRows(
  label: string,
  ours: StepTimes[],
  direct: StepTimes[],
  size: { rows: number; batch: number; updates: number } = { rows: ROWS, batch: BATCH, updates: UPDATES },
): (string | number)[][] {
  const fmt = (n: number) => n.toLocaleString('en');
  const row = (what: string, key: keyof StepTimes, n: number) => {
    const o = median(ours.map((x) => x[key]));
    const d = median(direct.map((x) => x[key]));
    return [
      label,
      what,
      fmtMs(o),
      fmtRate((n / o) * 1000),
      fmtMs(d),
      fmtRate((n / d) * 1000),
      `${(o / d).toFixed(1)}×`,
    ];
  };
  return [
    row(
      `push ${fmt(size.rows)} inserts (${size.rows / size.batch} tx × ${fmt(size.batch)})`,
      'push',
      size.rows,
    ),
    row(`initial load of ${fmt(size.rows)} rows (fresh client)`, 'load', size.rows),
    row(`${fmt(size.updates)} updates in one transaction`, 'updates', size.updates),
  ];
}

export const STEP_COLUMNS: BenchSection['columns'] = [
  'backend',
  'step',
  'OmniSync (ms)',
  'rows/s',
  'direct client (ms)',
  'rows/s',
  'ratio (time)',
];
