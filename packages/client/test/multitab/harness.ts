/**
 * The multi-tab Chromium harness (tests and bench/multitab.bench.ts): a real OmniSync server
 * in this process, a same-origin proxy in front of it that serves the page bundle (built
 * with esbuild from `page-entry.ts`), counts every push and can refuse the API (offline),
 * and headless Debian Chromium driven by playwright-core. One browser context is one
 * origin; its pages are the tabs.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { createServer } from '@omnisync/server';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const here = fileURLToPath(new URL('.', import.meta.url));

/** One push the proxy saw: the pushing replica and its mutation ids. */
export interface SeenPush {
  readonly app: string;
  /** The tab that sent it (the page's `x-omnisync-tab` header). */
  readonly tab: string;
  readonly clientId: string;
  readonly ids: readonly string[];
}

/** A running harness. */
export interface MultiTabHarness {
  readonly origin: string;
  readonly serverUrl: string;
  readonly browser: Browser;
  /** Every push body that reached the proxy, in order. */
  readonly pushes: SeenPush[];
  /** While true the proxy refuses every API request (the tabs are offline; pages still load). */
  offline: boolean;
  /** While true the proxy forwards pushes to the server but never answers them. */
  hangPushes: boolean;
  close(): Promise<void>;
}

/** What the page exposes as `window.app` (see page-entry.ts). */
export interface PageApp {
  ready(): Promise<void>;
  write(id: string, title: string): string;
  update(id: string, title: string): string;
  docs(): { id: string; title: string }[];
  has(id: string): boolean;
  role(): string;
  tabId(): string;
  reason(): string | undefined;
  pending(): number;
  online(): boolean;
  warnings(): string[];
  watch(): void;
  seen(): Record<string, number>;
  burst(prefix: string, n: number, gapMs: number): Promise<[string, number][]>;
  watchTakeover(): void;
  takeover(): { leader?: number; flushed?: number };
}

/** Start the server, the proxy and Chromium. */
export async function startMultiTabHarness(): Promise<MultiTabHarness> {
  if (!existsSync(chromiumPath))
    throw new Error(`Chromium not found at ${chromiumPath}: apt-get install chromium, or set CHROMIUM_PATH.`);
  const dir = mkdtempSync(join(tmpdir(), 'omnisync-multitab-'));
  const sync = createServer({ dataDir: join(dir, 'server'), durability: 'off', logLevel: 'silent' });
  const serverUrl = (await sync.listen(0)).url;
  const bundle = await build({
    entryPoints: [join(here, 'page-entry.ts')],
    bundle: true,
    format: 'iife',
    platform: 'browser',
    write: false,
    tsconfig: fileURLToPath(new URL('../../../../tsconfig.json', import.meta.url)),
    logLevel: 'silent',
  });
  const js = bundle.outputFiles[0]!.text;
  const pushes: SeenPush[] = [];
  const state = { offline: false, hangPushes: false };
  const web: Server = createHttpServer((req, res) => {
    if (req.url?.startsWith('/v1/')) {
      if (state.offline) {
        req.socket.destroy(); // like an unplugged cable
        return;
      }
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const isPush = req.url!.endsWith('/push');
        if (isPush) {
          const b = JSON.parse(body) as { clientId: string; mutations: { id: string }[] };
          pushes.push({
            app: decodeURIComponent(req.url!.split('/')[3] ?? ''),
            tab: String(req.headers['x-omnisync-tab'] ?? ''),
            clientId: b.clientId,
            ids: b.mutations.map((m) => m.id),
          });
        }
        const hang = isPush && state.hangPushes;
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers))
          if (typeof v === 'string' && k !== 'host' && k !== 'content-length' && k !== 'x-omnisync-tab')
            headers[k] = v;
        fetch(serverUrl + req.url, { method: req.method ?? 'POST', headers, body }).then(
          async (r) => {
            const text = await r.text();
            if (hang || state.offline) req.socket.destroy();
            else res.writeHead(r.status, { 'content-type': 'application/json' }).end(text);
          },
          () => req.socket.destroy(),
        );
      });
      return;
    }
    if (req.url === '/app.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<!doctype html><script src="/app.js"></script>');
  });
  await new Promise<void>((resolve) => web.listen(0, '127.0.0.1', resolve));
  const origin = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  return {
    origin,
    serverUrl,
    browser,
    pushes,
    get offline() {
      return state.offline;
    },
    set offline(v: boolean) {
      state.offline = v;
    },
    get hangPushes() {
      return state.hangPushes;
    },
    set hangPushes(v: boolean) {
      state.hangPushes = v;
    },
    async close() {
      await browser.close();
      web.closeAllConnections();
      await new Promise<void>((resolve) => web.close(() => resolve()));
      await sync.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Open a tab of `app` in `context` and wait until its client is ready. */
export async function openTab(h: MultiTabHarness, context: BrowserContext, app: string): Promise<Page> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${h.origin}/?app=${encodeURIComponent(app)}`);
  await page.waitForFunction(() => (window as unknown as { app?: unknown }).app !== undefined);
  await call(page, (a) => a.ready());
  if (errors.length > 0) throw new Error(`page errors: ${errors.join('; ')}`);
  return page;
}

/** Run `fn` against the page's `window.app`. */
export const call = <T>(page: Page, fn: (app: PageApp) => T | Promise<T>): Promise<T> =>
  page.evaluate(`(${fn.toString()})(window.app)`) as Promise<T>;
