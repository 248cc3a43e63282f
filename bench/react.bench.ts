/**
 * React in Chromium (issue 6): a 10,000-row list; toggling one row re-renders only that
 * row. The page (bench/react-page) is built with Vite in production mode with React's
 * profiling build (so the Profiler counts renders at production speed), served on
 * loopback and driven by playwright-core in Debian's Chromium. Timings are taken in the
 * page: write → DOM committed (MutationObserver) and write → the next animation frame
 * (the frame that paints it).
 *
 * Two ways to render the same list: `useOmni` (the list observes the ids it shows, each
 * row its own document) and `useLiveQuery` + memoised rows (the usual React pattern: the
 * list re-renders and React skips the unchanged rows).
 */
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { seededRandom } from '@omnisync/core';
import { chromium } from 'playwright-core';
import { type BenchSection, fmtMs, median, percentile } from './lib.ts';

const ROWS = 10_000;
const TOGGLES = 200;
const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..');

type ToggleResult = {
  rowRenders: number;
  rowIds: string[];
  listRenders: number;
  writeMs: number;
  commitMs: number;
  frameMs: number;
};

async function buildPage(): Promise<string> {
  const { build } = await import('vite');
  const react = (await import('@vitejs/plugin-react')).default;
  const out = await mkdtemp(join(tmpdir(), 'omnisync-react-bench-'));
  const pkg = (p: string) => join(root, 'packages', p);
  const prevEnv = process.env.NODE_ENV;
  process.env.NODE_ENV = 'production';
  try {
    await build({
      configFile: false,
      root: join(here, 'react-page'),
      logLevel: 'warn',
      mode: 'production',
      plugins: [react()],
      resolve: {
        alias: [
          { find: /^@omnisync\/core$/, replacement: pkg('core/src/index.ts') },
          { find: /^@omnisync\/client$/, replacement: pkg('client/src/index.ts') },
          { find: /^@omnisync\/react$/, replacement: pkg('react/src/index.ts') },
          // React's profiling build: production speed, with a working <Profiler>.
          { find: /^react-dom\/client$/, replacement: 'react-dom/profiling' },
        ],
      },
      build: { outDir: out, emptyOutDir: true },
    });
  } finally {
    process.env.NODE_ENV = prevEnv;
  }
  return out;
}

async function serve(dir: string) {
  const types: Record<string, string> = {
    '.html': 'text/html',
    '.js': 'text/javascript',
    '.css': 'text/css',
  };
  const server = createServer(async (req, res) => {
    const path = join(dir, new URL(req.url ?? '/', 'http://x').pathname.replace(/^\/+/, '') || 'index.html');
    const ok = await stat(path).then(
      (s) => s.isFile(),
      () => false,
    );
    if (!ok) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': types[extname(path)] ?? 'application/octet-stream' });
    createReadStream(path).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise((r) => server.close(r)),
  };
}

export default async function reactBench(): Promise<BenchSection> {
  const dist = await buildPage();
  const http = await serve(dist);
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  const rows: (string | number)[][] = [];
  try {
    for (const kind of ['omni', 'livequery'] as const) {
      const page = await browser.newPage();
      await page.goto(http.url);
      await page.waitForFunction(() => document.title === 'ready');
      const mount = await page.evaluate(([k, n]) => (window as any).bench.mount(k, n), [kind, ROWS] as const);
      if (mount.rows !== ROWS) throw new Error(`${kind}: mounted ${mount.rows} rows, expected ${ROWS}`);
      const rand = seededRandom(42);
      const results: ToggleResult[] = [];
      for (let i = 0; i < 10; i++)
        await page.evaluate((x) => (window as any).bench.toggle(x), Math.floor(rand() * ROWS)); // warm-up
      for (let i = 0; i < TOGGLES; i++) {
        const idx = Math.floor(rand() * ROWS);
        const r: ToggleResult = await page.evaluate((x) => (window as any).bench.toggle(x), idx);
        if (!(r.rowIds.length === 1 && r.rowIds[0] === `t${idx}`))
          throw new Error(
            `${kind}: toggling t${idx} re-rendered rows ${JSON.stringify(r.rowIds.slice(0, 5))}`,
          );
        results.push(r);
      }
      await page.close();
      const rowRenders = results.reduce((s, r) => s + r.rowRenders, 0) / results.length;
      const listRenders = results.reduce((s, r) => s + r.listRenders, 0) / results.length;
      const commit = results.map((r) => r.commitMs);
      const write = results.map((r) => r.writeMs);
      const frame = results.map((r) => r.frameMs);
      rows.push([
        kind === 'omni' ? 'useOmni (row observes itself)' : 'useLiveQuery + memo rows',
        fmtMs(mount.mountMs),
        rowRenders.toFixed(2),
        listRenders.toFixed(2),
        fmtMs(median(write)),
        fmtMs(median(commit)),
        fmtMs(percentile(commit, 95)),
        fmtMs(median(frame)),
        fmtMs(percentile(frame, 95)),
      ]);
    }
  } finally {
    await browser.close();
    await http.close();
    await rm(dist, { recursive: true, force: true });
  }
  return {
    title: `React: toggle one row of ${ROWS.toLocaleString('en')} in Chromium`,
    notes: `Debian Chromium (headless) via playwright-core; React 19 profiling build; ${TOGGLES} toggles of random rows (seeded) after 10 warm-ups. "row renders" counts Profiler commits of row components per toggle (every run asserts it is exactly the toggled row); "list renders" counts renders of the list component. commit = write → DOM updated; frame = write → next requestAnimationFrame (the frame that paints it; vsync-bound).`,
    columns: [
      'approach',
      'mount 10k (ms)',
      'row renders / update',
      'list renders / update',
      'write p50 (ms)',
      'commit p50 (ms)',
      'commit p95 (ms)',
      'frame p50 (ms)',
      'frame p95 (ms)',
    ],
    rows,
  };
}
