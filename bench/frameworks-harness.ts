/**
 * The toggle loop of bench/frameworks.bench.ts, shared by its jsdom child process
 * (frameworks-child.ts) and its Chromium page (frameworks-page.ts): mount the adapter
 * conformance list of one framework with `rows` rows, toggle random rows (seeded), and per
 * toggle count the row components that rendered and time write → the row's DOM shows it.
 */
import { createClient } from '@omnisync/client';
import { type AdapterDriver, conformanceQuery, conformanceRows } from '@omnisync/client/testing';
import { seededRandom } from '@omnisync/core';

/** One toggle: rows rendered, which, and write → DOM in ms. */
export interface ToggleSample {
  rows: number;
  ids: string[];
  ms: number;
}

/** What one run measured. */
export interface ToggleRun {
  fw: string;
  mountMs: number;
  results: ToggleSample[];
}

const WARMUP = 10;

/**
 * Resolves once a mutation shows row `id` with `data-done` = `done` (found from the mutation
 * records, not by querying 10,000 rows: the query would dominate the time).
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

/** Mount `driver`'s list with `rows` rows and toggle `toggles` random rows (after 10 warm-ups). */
export async function runToggles(
  fw: string,
  driver: AdapterDriver,
  rows: number,
  toggles: number,
): Promise<ToggleRun> {
  const client = createClient({ clientId: `bench-${fw}` });
  const items = client.collection<{ id: string; title: string; done: boolean; n: number }>({ id: 'items' });
  items.insert(conformanceRows(rows));
  const container = document.createElement('div');
  document.body.appendChild(container);
  const renders: string[] = [];
  const t0 = performance.now();
  const mounted = await driver.mount(
    { client, query: conformanceQuery(), onRowRender: (id) => renders.push(id) },
    container,
  );
  await domUntil(container, () => container.querySelectorAll('li').length === rows);
  const mountMs = performance.now() - t0;
  await macrotask();
  const rand = seededRandom(42);
  const results: ToggleSample[] = [];
  for (let i = 0; i < WARMUP + toggles; i++) {
    const id = `r${Math.floor(rand() * rows)}`;
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
  container.remove();
  await client.close();
  return { fw, mountMs, results };
}
