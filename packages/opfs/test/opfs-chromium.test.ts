/**
 * The shared persistence suite against OPFS persistence in real Chromium: the suite, the
 * adapter and its worker (SQLite-wasm on opfs-sahpool) are bundled with esbuild, served from
 * a loopback HTTP origin with sqlite3.wasm, and run in headless Chromium (playwright-core).
 * One `it` per suite case, so a failure names the case.
 */
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { persistenceCases, type PersistenceCaseResult } from '../../client/src/persistence/suite.js';
import { chromiumArgs, chromiumPath, serveOpfsPage } from './page.js';

const entry = `
import { runPersistenceCases } from '../../client/src/persistence/suite.js';
import { createOpfsPersistence } from '../src/index.js';
const drop = async (location) => {
  const root = await navigator.storage.getDirectory();
  await root.removeEntry('.omnisync-' + location, { recursive: true }).catch(() => {});
};
window.runSuite = () => runPersistenceCases(
  (location) => createOpfsPersistence({ name: location, worker: () => new Worker('/worker.js', { type: 'module' }), compactAfterBytes: 2048 }),
  { cleanup: drop, randomBatches: 120 },
);
window.brokenWorker = async () => {
  const p = createOpfsPersistence({ name: 'broken', worker: () => new Worker('/missing-worker.js', { type: 'module' }) });
  try { await p.load(); return 'loaded'; } catch (e) { return e.code + ' ' + e.name + ' ' + e.message; }
};
`;

let browser: Browser | undefined;
let server: Server | undefined;
let results: PersistenceCaseResult[] = [];
let broken = '';

beforeAll(async () => {
  if (!existsSync(chromiumPath))
    throw new Error(
      `Chromium not found at ${chromiumPath}: install it (apt-get install chromium) or set CHROMIUM_PATH.`,
    );
  const served = await serveOpfsPage(entry);
  server = served.server;
  browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(served.url);
  results = await page.evaluate(() =>
    (window as unknown as { runSuite: () => Promise<PersistenceCaseResult[]> }).runSuite(),
  );
  broken = await page.evaluate(() =>
    (window as unknown as { brokenWorker: () => Promise<string> }).brokenWorker(),
  );
  expect(errors).toEqual([]);
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

describe('OPFS persistence in real Chromium (shared suite)', () => {
  it('ran every case of the suite', () => {
    expect(results.map((r) => r.name)).toEqual(persistenceCases.map((c) => c.name));
  });
  for (const c of persistenceCases) {
    it(c.name, () => {
      const r = results.find((x) => x.name === c.name);
      expect(r, 'the case did not run').toBeDefined();
      expect(r!.error ?? 'ok').toBe('ok');
    });
  }
  it('a worker that fails to start is persistence_unavailable (fall back to IndexedDB)', () => {
    expect(broken).toMatch(
      /^persistence_unavailable PersistenceUnavailableError .*createIndexedDbPersistence/,
    );
  });
});
