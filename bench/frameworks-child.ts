/**
 * The child process of bench/frameworks.bench.ts (run with `--conditions=browser` so Solid
 * and Svelte load their reactive client builds, and NODE_ENV=production): jsdom as the DOM,
 * one framework per run: bench/frameworks-harness.ts mounts the adapter conformance list (the
 * drivers of the conformance tests) and toggles rows; this prints its result as one JSON line.
 *
 *     node --conditions=browser --import tsx bench/frameworks-child.ts <react|vue|svelte|solid> <rows> <toggles>
 */
import { JSDOM } from 'jsdom';

const [fw = 'react', rowsArg = '10000', togglesArg = '100'] = process.argv.slice(2);
const ROWS = Number(rowsArg);
const TOGGLES = Number(togglesArg);

// The DOM globals the frameworks read at import time (Vue, Svelte) or at render.
const dom = new JSDOM('<!doctype html><html><body></body></html>', { pretendToBeVisual: true });
const g = globalThis as Record<string, unknown>;
for (const key of [
  'window',
  'document',
  'navigator',
  'Node',
  'Element',
  'HTMLElement',
  'HTMLInputElement',
  'Text',
  'Comment',
  'DocumentFragment',
  'Event',
  'MouseEvent',
  'MutationObserver',
  'SVGElement',
  'requestAnimationFrame',
  'cancelAnimationFrame',
  'getComputedStyle',
]) {
  if (!(key in g) || key === 'navigator')
    Object.defineProperty(g, key, {
      value: (dom.window as unknown as Record<string, unknown>)[key],
      configurable: true,
      writable: true,
    });
}

const { runToggles } = await import('./frameworks-harness.ts');

async function driverFor(name: string) {
  if (name === 'react')
    return (await import('../packages/react/test/conformance-driver.tsx')).reactDriver({ useAct: false });
  if (name === 'vue') return (await import('../packages/vue/test/conformance-driver.ts')).vueDriver();
  if (name === 'svelte') {
    const svelte = await import('../packages/svelte/test/conformance-driver.ts');
    return svelte.svelteDriver(await svelte.compileConformanceList()); // compiling is not mounting
  }
  if (name === 'solid') return (await import('../packages/solid/test/conformance-driver.ts')).solidDriver();
  throw new Error(`unknown framework ${name}`);
}

const run = await runToggles(fw, await driverFor(fw), ROWS, TOGGLES);
process.stdout.write(`${JSON.stringify(run)}\n`);
process.exit(0);
