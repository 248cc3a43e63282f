/**
 * The shared persistence suite against Chromium's real IndexedDB: the suite and the
 * IndexedDB backend are bundled with esbuild, served from a loopback HTTP origin (IndexedDB
 * needs a real origin), and run in headless Chromium driven by playwright-core. One `it`
 * per suite case, so a failure names the case.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { persistenceCases, type PersistenceCaseResult } from '../../src/persistence/suite.js';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const here = fileURLToPath(new URL('.', import.meta.url));

const entry = `
import { runPersistenceCases } from '../../src/persistence/suite.js';
import { createIndexedDbPersistence } from '../../src/persistence/indexeddb.js';
const drop = (location) => new Promise((resolve) => {
  const req = indexedDB.deleteDatabase('omnisync:' + location);
  req.onsuccess = req.onerror = req.onblocked = () => resolve();
});
window.runSuite = () => runPersistenceCases((location) => createIndexedDbPersistence({ name: location }), { cleanup: drop });
`;

let browser: Browser | undefined;
let server: Server | undefined;
let results: PersistenceCaseResult[] = [];

beforeAll(async () => {
  if (!existsSync(chromiumPath))
    throw new Error(
      `Chromium not found at ${chromiumPath}: install it (apt-get install chromium) or set CHROMIUM_PATH.`,
    );
  const bundle = await build({
    stdin: { contents: entry, resolveDir: here, loader: 'js' },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    write: false,
    tsconfig: fileURLToPath(new URL('../../../../tsconfig.json', import.meta.url)), // @omnisync/core → src
    logLevel: 'silent',
  });
  const js = bundle.outputFiles[0]!.text;
  expect(js).not.toMatch(/from ["']node:/); // the suite and the backend are browser-safe
  server = createServer((req, res) => {
    if (req.url === '/suite.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<!doctype html><script src="/suite.js"></script>');
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  browser = await chromium.launch({ executablePath: chromiumPath, args: ['--no-sandbox'] });
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
  results = await page.evaluate(() =>
    (window as unknown as { runSuite: () => Promise<PersistenceCaseResult[]> }).runSuite(),
  );
  expect(errors).toEqual([]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

describe('IndexedDB persistence in real Chromium (shared suite)', () => {
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
});
