/**
 * The Chromium page of bench/frameworks.bench.ts (bundled by esbuild, no Vite): the four
 * conformance drivers and the shared toggle loop; the Svelte components come precompiled
 * from the bundler (virtual module `virtual:svelte-conformance`).
 */
import SvelteRoot from 'virtual:svelte-conformance';
import { reactDriver } from '../packages/react/test/conformance-driver.tsx';
import { solidDriver } from '../packages/solid/test/conformance-driver.ts';
import { svelteDriver } from '../packages/svelte/test/conformance-driver.ts';
import { vueDriver } from '../packages/vue/test/conformance-driver.ts';
import { runToggles } from './frameworks-harness.ts';

const drivers = {
  react: () => reactDriver({ useAct: false }),
  vue: vueDriver,
  svelte: () => svelteDriver(SvelteRoot),
  solid: solidDriver,
};

(window as unknown as { bench: unknown }).bench = (fw: keyof typeof drivers, rows: number, toggles: number) =>
  runToggles(fw, drivers[fw](), rows, toggles);
document.title = 'ready';
