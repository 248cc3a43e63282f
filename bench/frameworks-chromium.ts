/**
 * The Chromium side of bench/frameworks.bench.ts: bundle bench/frameworks-page.ts with esbuild
 * (production, browser conditions; the Svelte components compiled by `svelte/compiler` into a
 * virtual module) and run each framework's toggle loop in Debian's Chromium via playwright-core.
 */
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { chromium } from 'playwright-core';
import { compile } from 'svelte/compiler';
import { conformanceFiles } from '../packages/svelte/test/conformance-driver.ts';
import type { ToggleRun } from './frameworks-harness.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

/** `virtual:svelte-conformance` and its `./X.svelte` imports, compiled from the driver's sources. */
const svelteConformance: Plugin = {
  name: 'svelte-conformance',
  setup(b) {
    b.onResolve({ filter: /^virtual:svelte-conformance$/ }, () => ({
      path: 'Root.svelte',
      namespace: 'svelte-src',
    }));
    b.onResolve({ filter: /\.svelte$/, namespace: 'svelte-src' }, (a) => ({
      path: a.path.replace(/^\.\//, ''),
      namespace: 'svelte-src',
    }));
    b.onLoad({ filter: /.*/, namespace: 'svelte-src' }, (a) => {
      const source = conformanceFiles[a.path];
      if (source === undefined) throw new Error(`no Svelte source ${a.path}`);
      const { js } = compile(source, { filename: a.path, generate: 'client', dev: false });
      return { contents: js.code, loader: 'js', resolveDir: root };
    });
  },
};

async function bundle(): Promise<string> {
  const out = await build({
    absWorkingDir: root,
    entryPoints: ['bench/frameworks-page.ts'],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    minify: true,
    // The Svelte test loader (Node only) is imported on demand and never runs in the page.
    external: ['node:*', 'svelte/compiler'],
    alias: { '@omnisync/svelte': './packages/svelte/src/index.ts' },
    define: {
      'process.env.NODE_ENV': '"production"',
      __VUE_OPTIONS_API__: 'true',
      __VUE_PROD_DEVTOOLS__: 'false',
      __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false',
    },
    plugins: [svelteConformance],
    logLevel: 'error',
  });
  return out.outputFiles[0]!.text;
}

/** Run every framework's toggle loop in Chromium (one fresh page each). */
export async function runInChromium(
  fws: readonly string[],
  rows: number,
  toggles: number,
): Promise<ToggleRun[]> {
  const code = await bundle();
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const runs: ToggleRun[] = [];
    for (const fw of fws) {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto('about:blank');
      await page.addScriptTag({ content: code });
      await page.waitForFunction(() => document.title === 'ready');
      const run = (await page.evaluate(([f, r, t]) => (window as any).bench(f, r, t), [
        fw,
        rows,
        toggles,
      ] as const)) as ToggleRun;
      if (errors.length > 0) throw new Error(`${fw} in Chromium: ${errors.join('; ')}`);
      runs.push(run);
      await page.close();
    }
    return runs;
  } finally {
    await browser.close();
  }
}
