/**
 * Framework bindings (issue 14): toggle one row of a 10,000-row list in React, Vue, Svelte and
 * Solid, and count how many row components render per toggle. Each framework runs the
 * adapter conformance list (the same drivers as the conformance tests: a live query of the
 * rows, one row component per row) twice: in Debian's Chromium (an esbuild production bundle,
 * bench/frameworks-chromium.ts) and under jsdom in its own child process with the 'browser'
 * export condition (Solid and Svelte are reactive only in their client builds) and
 * NODE_ENV=production (bench/frameworks-child.ts). The loop is bench/frameworks-harness.ts.
 */
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runInChromium } from './frameworks-chromium.ts';
import type { ToggleRun } from './frameworks-harness.ts';
import { type BenchSection, fmtMs, median, percentile } from './lib.ts';

const ROWS = 10_000;
const TOGGLES = 200;
const root = fileURLToPath(new URL('..', import.meta.url));
const run = promisify(execFile);

const version = (pkg: string) =>
  (JSON.parse(readFileSync(`${root}/node_modules/${pkg}/package.json`, 'utf8')) as { version: string })
    .version;

const frameworks = [
  { id: 'react', label: `React ${version('react')} (useLiveQuery + memo rows)` },
  { id: 'vue', label: `Vue ${version('vue')} (useLiveQuery, keyed v-for)` },
  { id: 'svelte', label: `Svelte ${version('svelte')} (queryStore .current, keyed each)` },
  { id: 'solid', label: `Solid ${version('solid-js')} (useLiveQuery, For)` },
] as const;

async function inJsdom(fw: string): Promise<ToggleRun> {
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
  return JSON.parse(stdout.trim().split('\n').pop()!) as ToggleRun;
}

export default async function frameworksBench(): Promise<BenchSection> {
  const chromium = await runInChromium(
    frameworks.map((f) => f.id),
    ROWS,
    TOGGLES,
  );
  const jsdom: ToggleRun[] = [];
  for (const f of frameworks) jsdom.push(await inJsdom(f.id));
  const rows: (string | number)[][] = [];
  for (const [dom, runs] of [
    ['Chromium', chromium],
    ['jsdom', jsdom],
  ] as const) {
    let reactP50 = 0;
    for (const f of frameworks) {
      const r = runs.find((x) => x.fw === f.id)!;
      const wrong = r.results.filter((x) => x.rows !== 1);
      if (wrong.length > 0)
        throw new Error(
          `${f.id} (${dom}): ${wrong.length} toggles rendered other rows, e.g. ${JSON.stringify(wrong[0])}`,
        );
      const ms = r.results.map((x) => x.ms);
      const p50 = median(ms);
      if (f.id === 'react') reactP50 = p50;
      rows.push([
        f.label,
        dom,
        fmtMs(r.mountMs),
        (r.results.reduce((s, x) => s + x.rows, 0) / r.results.length).toFixed(2),
        fmtMs(p50),
        fmtMs(percentile(ms, 95)),
        `${(p50 / reactP50).toFixed(2)}×`,
      ]);
    }
  }
  return {
    title: `Framework bindings: toggle one row of ${ROWS.toLocaleString('en')} (React, Vue, Svelte, Solid)`,
    notes: `The adapter conformance list of each package (packages/<fw>/test/conformance-driver.*: a live query of the rows, one row component per row). Chromium: Debian Chromium (headless) via playwright-core, one esbuild production bundle with all four (Svelte compiled by svelte/compiler), a fresh page per framework. jsdom: Node, one child process per framework with the 'browser' export condition and NODE_ENV=production (DOM costs are jsdom's; render counts are the frameworks' own). ${TOGGLES} toggles of random rows (seeded) after 10 warm-ups; every toggle is checked to render exactly the toggled row. "row renders" counts row component renders (Svelte: updates of the row's template; Solid: <For> re-creating the row, whose document is a new object). toggle = collection.update → the row's DOM shows it (MutationObserver), not paint. Ratios are to React in the same DOM.`,
    columns: [
      'binding',
      'DOM',
      'mount 10k (ms)',
      'row renders / toggle',
      'toggle p50 (ms)',
      'toggle p95 (ms)',
      'p50 vs React',
    ],
    rows,
  };
}
