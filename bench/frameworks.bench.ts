/**
 * Framework bindings (issue 14): toggle one row of a 10,000-row list in React, Vue, Svelte and
 * Solid, and count how many row components render per toggle. Each framework runs the
 * adapter conformance list (the same drivers as the conformance tests: a live query of the
 * rows, one row component per row) in its own child process under jsdom, with the 'browser'
 * export condition (Solid and Svelte are reactive only in their client builds) and
 * NODE_ENV=production.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { type BenchSection, fmtMs, median, percentile } from './lib.ts';

const ROWS = 10_000;
const TOGGLES = 200;
const root = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

type ChildResult = { fw: string; mountMs: number; results: { rows: number; ids: string[]; ms: number }[] };

const version = (pkg: string) =>
  (JSON.parse(readFileSync(`${root}/node_modules/${pkg}/package.json`, 'utf8')) as { version: string })
    .version;

const frameworks = [
  { id: 'react', label: `React ${version('react')} (useLiveQuery + memo rows)` },
  { id: 'vue', label: `Vue ${version('vue')} (useLiveQuery, keyed v-for)` },
  { id: 'svelte', label: `Svelte ${version('svelte')} (queryStore .current, keyed each)` },
  { id: 'solid', label: `Solid ${version('solid-js')} (useLiveQuery, For)` },
] as const;

async function measure(fw: string): Promise<ChildResult> {
  const { stdout } = await run(
    process.execPath,
    [
      '--conditions=browser',
      '--import',
      'tsx',
      'bench/frameworks-child.ts',
      fw,
      String(ROWS),
      String(TOGGLES),
    ],
    { cwd: root, env: { ...process.env, NODE_ENV: 'production' }, maxBuffer: 64 * 1024 * 1024 },
  );
  return JSON.parse(stdout.trim().split('\n').pop()!) as ChildResult;
}

export default async function frameworksBench(): Promise<BenchSection> {
  const rows: (string | number)[][] = [];
  let reactP50 = 0;
  for (const f of frameworks) {
    const r = await measure(f.id);
    const wrong = r.results.filter((x) => x.rows !== 1);
    if (wrong.length > 0)
      throw new Error(
        `${f.id}: ${wrong.length} toggles rendered other rows, e.g. ${JSON.stringify(wrong[0])}`,
      );
    const ms = r.results.map((x) => x.ms);
    const p50 = median(ms);
    if (f.id === 'react') reactP50 = p50;
    rows.push([
      f.label,
      fmtMs(r.mountMs),
      (r.results.reduce((s, x) => s + x.rows, 0) / r.results.length).toFixed(2),
      fmtMs(p50),
      fmtMs(percentile(ms, 95)),
      reactP50 > 0 ? `${(p50 / reactP50).toFixed(2)}×` : '—',
    ]);
  }
  return {
    title: `Framework bindings: toggle one row of ${ROWS.toLocaleString('en')} (React, Vue, Svelte, Solid) in jsdom`,
    notes: `jsdom in Node (not a browser: DOM costs are jsdom's; render counts are the frameworks' own), one child process per framework with the 'browser' export condition and NODE_ENV=production; the adapter conformance list of each package (packages/<fw>/test/conformance-driver.*). ${TOGGLES} toggles of random rows (seeded) after 10 warm-ups; every toggle is checked to render exactly the toggled row. "row renders" counts row component renders (Svelte: updates of the row's template; Solid: <For> re-creating the row, whose document is a new object). toggle = collection.update → the row's DOM shows it (MutationObserver). Chromium figures for React are in the React section.`,
    columns: [
      'binding',
      'mount 10k (ms)',
      'row renders / toggle',
      'toggle p50 (ms)',
      'toggle p95 (ms)',
      'p50 vs React',
    ],
    rows,
  };
}
