/**
 * The child process of bench/frameworks.bench.ts (run with `--conditions=browser` so Solid
 * and Svelte load their reactive client builds, and NODE_ENV=production): jsdom as the DOM,
 * one framework per run. It mounts the adapter conformance list (the drivers of the
 * conformance tests) with 10,000 rows, toggles random rows, and prints one JSON line: per
 * toggle, how many row components rendered and which, and write → DOM updated in ms.
 *
 *     node --conditions=browser --import tsx bench/frameworks-child.ts <react|vue|svelte|solid> <rows> <toggles>
 */
import { performance } from 'node:perf_hooks';
import { JSDOM } from 'jsdom';

const [fw = 'react', rowsArg = '10000', togglesArg = '100'] = process.argv.slice(2);
const ROWS = Number(rowsArg);
const TOGGLES = Number(togglesArg);
const WARMUP = 10;

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

const { createClient } = await import('@omnisync/client');
const { conformanceQuery, conformanceRows } = await import('@omnisync/client/testing');
const { seededRandom } = await import('@omnisync/core');

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

/**
 * Resolves once a mutation shows row `id` with `data-done` = `done` (looked up from the
 * mutation records, not by querying 10,000 rows: a query would dominate the time).
 */
function rowShows(container: HTMLElement, id: string, done: string): Promise<void> {
  return new Promise((resolve) => {
    const mo = new MutationObserver((records) => {
      for (const r of records) {
        const nodes = r.type === 'childList' ? [...r.addedNodes] : [r.target];
        for (const n of nodes) {
          const el = n.nodeType === 1 ? (n as Element) : n.parentElement;
          const li = el?.closest('li[data-id]');
          if (li?.getAttribute('data-id') === id && li.getAttribute('data-done') === done) {
            mo.disconnect();
            return resolve();
          }
        }
      }
    });
    mo.observe(container, { subtree: true, childList: true, attributes: true, characterData: true });
  });
}

/** Resolves once `cond` holds after a DOM mutation (or at once). */
function domUntil(container: HTMLElement, cond: () => boolean): Promise<void> {
  if (cond()) return Promise.resolve();
  return new Promise((resolve) => {
    const mo = new MutationObserver(() => {
      if (cond()) {
        mo.disconnect();
        resolve();
      }
    });
    mo.observe(container, { subtree: true, childList: true, attributes: true, characterData: true });
  });
}

const macrotask = () => new Promise((r) => setTimeout(r, 0));

const driver = await driverFor(fw);
const client = createClient({ clientId: `bench-${fw}` });
const items = client.collection<{ id: string; title: string; done: boolean; n: number }>({ id: 'items' });
items.insert(conformanceRows(ROWS));
const container = document.createElement('div');
document.body.appendChild(container);
const renders: string[] = [];
const t0 = performance.now();
const mounted = await driver.mount(
  { client, query: conformanceQuery(), onRowRender: (id) => renders.push(id) },
  container,
);
await domUntil(container, () => container.querySelectorAll('li').length === ROWS);
const mountMs = performance.now() - t0;
await macrotask();

const rand = seededRandom(42);
const results: { rows: number; ids: string[]; ms: number }[] = [];
for (let i = 0; i < WARMUP + TOGGLES; i++) {
  const idx = Math.floor(rand() * ROWS);
  const id = `r${idx}`;
  const next = String(!items.get(id)!.done);
  renders.length = 0;
  const shown = rowShows(container, id, next);
  const start = performance.now();
  items.update(id, { done: next === 'true' });
  await shown;
  const ms = performance.now() - start;
  await macrotask(); // renders that would follow the commit are counted too
  if (i >= WARMUP) results.push({ rows: renders.length, ids: [...new Set(renders)], ms });
}
await mounted.unmount();
await client.close();
process.stdout.write(`${JSON.stringify({ fw, mountMs, results })}\n`);
process.exit(0);
