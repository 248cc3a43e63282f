/**
 * Bundle a browser page holding the four conformance drivers (React, Vue, Svelte, Solid) with
 * esbuild: production, browser conditions, the Svelte driver's components compiled by
 * `svelte/compiler` into the virtual module `virtual:svelte-conformance`. Used by the
 * conformance suite in Chromium and by bench/frameworks.bench.ts.
 */
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import { compile } from 'svelte/compiler';
import { conformanceFiles } from '../../svelte/test/conformance-driver.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));

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

/** The page script (an IIFE) for `entry` (a path from the repository root). */
export async function bundleAdapterPage(entry: string): Promise<string> {
  const out = await build({
    absWorkingDir: root,
    // The root tsconfig's paths: @omnisync/* from source, never a stale dist.
    tsconfig: `${root}/tsconfig.json`,
    entryPoints: [entry],
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
