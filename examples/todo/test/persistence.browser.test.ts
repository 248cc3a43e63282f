/**
 * The client kernel's persistence suite (the one every persistence must pass) run in real
 * Chromium against the page's real IndexedDB — the same cases that run against
 * fake-indexeddb, memory and files in Node.
 */
import { persistenceCases } from '@omnisync/client/testing';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp, launchChromium, type RunningApp, startApp } from './browser-harness.js';

interface CaseResult {
  name: string;
  ok: boolean;
  error?: string;
}

let app: RunningApp;
let browser: Browser;
let page: Page;
let dist: string;
let results: Map<string, CaseResult>;
let idb: { factory: string; databasesAfter: number };

beforeAll(async () => {
  dist = await buildApp();
  app = await startApp(dist);
  browser = await launchChromium();
  page = await browser.newPage();
  await page.goto(`${app.url}/test-harness.html`);
  await page.waitForSelector('#ready[data-ready=true]');
  const list = await page.evaluate(() =>
    (
      window as unknown as { runPersistenceSuite: (seed: number, batches: number) => Promise<CaseResult[]> }
    ).runPersistenceSuite(1, 200),
  );
  results = new Map(list.map((r) => [r.name, r]));
  idb = await page.evaluate(async () => ({
    factory: Object.prototype.toString.call(indexedDB),
    // Every case cleans up after itself: no database left behind.
    databasesAfter: (await indexedDB.databases()).filter((d) => d.name?.startsWith('omnisync:')).length,
  }));
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await app?.stop();
  if (dist) await import('node:fs/promises').then((fs) => fs.rm(dist, { recursive: true, force: true }));
});

describe('persistence suite against the real IndexedDB in Chromium', () => {
  it('runs in the page on the browser’s own IndexedDB and cleans up', () => {
    expect(idb.factory).toBe('[object IDBFactory]');
    expect(results.size).toBe(persistenceCases.length);
    expect(idb.databasesAfter).toBe(0);
  });

  for (const c of persistenceCases) {
    it(c.name, () => {
      const r = results.get(c.name);
      expect(r, `case "${c.name}" did not run in the page`).toBeDefined();
      expect(r!.error ?? '').toBe('');
      expect(r!.ok).toBe(true);
    });
  }
});
