/**
 * The adapter conformance suite in real Chromium (Debian chromium via playwright-core) for
 * React, Vue, Svelte and Solid: one esbuild bundle of the four drivers and the suite's cases
 * (adapter-page.ts), served on loopback; each case runs in the page and fails the test with
 * the suite's message. The server case talks to a real sync server on loopback.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { adapterCases } from '@omnisync/client/testing';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { bundleAdapterPage } from './adapter-bundle.js';
import { seedConformanceApp, startSyncServer } from './adapter-server.js';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
let browser: Browser | undefined;
let web: Server | undefined;
let origin = '';
let sync: Awaited<ReturnType<typeof startSyncServer>> | undefined;

beforeAll(async () => {
  if (!existsSync(chromiumPath))
    throw new Error(`Chromium not found at ${chromiumPath}: apt-get install chromium, or set CHROMIUM_PATH.`);
  const js = await bundleAdapterPage('packages/client/test/adapter-page.ts');
  web = createServer((req, res) => {
    if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<!doctype html><script src="/page.js"></script>');
  });
  await new Promise<void>((resolve) => web!.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
  sync = await startSyncServer();
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  web?.closeAllConnections();
  await new Promise<void>((resolve) => (web ? web.close(() => resolve()) : resolve()));
  await sync?.close();
});

for (const framework of ['React', 'Vue', 'Svelte', 'Solid']) {
  describe(`adapter conformance in Chromium: ${framework}`, () => {
    let page: Page | undefined;
    const errors: string[] = [];
    beforeAll(async () => {
      page = await browser!.newPage();
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`${origin}/`);
      await page.waitForFunction(() => document.title === 'ready');
    });
    afterAll(async () => {
      await page?.close();
    });
    for (const c of adapterCases)
      it(c.name, async () => {
        const server = c.needsServer
          ? { url: sync!.url, app: await seedConformanceApp(sync!.url) }
          : undefined;
        await page!.evaluate(
          ([fw, name, s]) =>
            (window as unknown as { conformance: { run(...a: unknown[]): Promise<void> } }).conformance.run(
              fw,
              name,
              s,
            ),
          [framework, c.name, server] as const,
        );
        if (errors.length > 0) throw new Error(`page errors: ${errors.join('; ')}`);
      });
  });
}
