/**
 * The bridge in real Chromium (Debian chromium via playwright-core) on its real IndexedDB:
 * the page bundle (esbuild) talks to a real OmniSync server through a same-origin loopback
 * proxy. A tab is closed between the write and the flush's answer: after reopening, the
 * write is still in the outbox and reaches the server, once (the retry carries the same
 * idempotency key). An aborted transaction leaves no outbox entry.
 */
import { existsSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, inProcessServer, serverDocuments } from '../../client/test/sync/helpers.js';

const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const here = fileURLToPath(new URL('.', import.meta.url));
const APP = 'dexie-chromium';

const entry = `
import { Dexie } from 'dexie';
import { createDexieBridge, createDexieSync, omnisyncStores, OUTBOX_STORE } from '@omnisync/dexie';
const db = new Dexie('omnisync-dexie-kill');
db.version(1).stores({ todos: 'id, done', ...omnisyncStores });
const bridge = createDexieBridge(db, { tables: ['todos'] });
const sync = createDexieSync(bridge, { server: location.origin, app: '${APP}', pullIntervalMs: 50,
  backoff: { baseDelayMs: 50, maxDelayMs: 200 } });
window.app = {
  write: (row) => db.table('todos').put(row),
  outbox: () => bridge.outbox(),
  rows: () => db.table('todos').toArray(),
  start: () => sync.start(),
  abortedWrite: () => db.transaction('rw', 'todos', async () => {
    await db.table('todos').put({ id: 'aborted', title: 'never' });
    throw new Error('abort on purpose');
  }).catch((e) => String(e && e.message)),
  outboxCountRaw: () => db.table(OUTBOX_STORE).count(),
};
`;

const sync = inProcessServer('omnisync-dexie-chromium-');
let browser: Browser | undefined;
let web: Server | undefined;
let origin = '';
/** While true the proxy forwards a push to the server but never answers the page. */
let hangPushes = false;
/** Every push body the page sent, in order. */
const pushes: unknown[] = [];

beforeAll(async () => {
  if (!existsSync(chromiumPath))
    throw new Error(`Chromium not found at ${chromiumPath}: apt-get install chromium, or set CHROMIUM_PATH.`);
  const bundle = await build({
    stdin: { contents: entry, resolveDir: here, loader: 'js' },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    write: false,
    tsconfig: fileURLToPath(new URL('../../../tsconfig.json', import.meta.url)),
    logLevel: 'silent',
  });
  const js = bundle.outputFiles[0]!.text;
  expect(js).not.toMatch(/from ["']node:/);
  web = createServer((req, res) => {
    if (req.url?.startsWith('/v1/')) {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        const isPush = req.url!.endsWith('/push');
        if (isPush) pushes.push(JSON.parse(body));
        const hang = isPush && hangPushes;
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers))
          if (typeof v === 'string' && k !== 'host') headers[k] = v;
        void fetch(sync.url + req.url, { method: 'POST', headers, body }).then(async (r) => {
          const text = await r.text();
          if (!hang) res.writeHead(r.status, { 'content-type': 'application/json' }).end(text);
        });
      });
      return;
    }
    if (req.url === '/app.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<!doctype html><script src="/app.js"></script>');
  });
  await new Promise<void>((resolve) => web!.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(web.address() as AddressInfo).port}`;
  browser = await chromium.launch({
    executablePath: chromiumPath,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  web?.closeAllConnections();
  await new Promise<void>((resolve) => (web ? web.close(() => resolve()) : resolve()));
});

type App = {
  write(row: object): Promise<unknown>;
  outbox(): Promise<{ mutationId: string; clientId: string; cells: unknown[] }[]>;
  rows(): Promise<unknown[]>;
  start(): void;
  abortedWrite(): Promise<string>;
  outboxCountRaw(): Promise<number>;
};

async function openPage(context: Awaited<ReturnType<Browser['newContext']>>): Promise<Page> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${origin}/`);
  expect(errors).toEqual([]);
  return page;
}

const call = <T>(page: Page, fn: (app: App) => Promise<T> | T) =>
  page.evaluate(`(${fn.toString()})(window.app)`) as Promise<T>;

describe('Dexie bridge in real Chromium', () => {
  it('a tab closed between the write and the flush: the write survives in the outbox and reaches the server once', async () => {
    const context = await browser!.newContext();
    try {
      const first = await openPage(context);
      hangPushes = true;
      await call(first, (app) => app.start());
      await call(first, (app) => app.write({ id: 'k1', title: 'written before the tab died', done: false }));
      // The flush is on the wire (the server has it) but its answer never comes back.
      await eventually(() => pushes.length >= 1, 'the first push to be sent');
      const pending = await call(first, (app) => app.outbox());
      expect(pending).toHaveLength(1);
      await first.close({ runBeforeUnload: false });

      hangPushes = false;
      const second = await openPage(context);
      const reopened = await call(second, (app) => app.outbox());
      expect(reopened).toEqual(pending);
      await call(second, (app) => app.start());
      await eventually(
        async () => (await call(second, (app) => app.outbox())).length === 0,
        'the outbox flushed',
      );
      expect(await serverDocuments(sync.url, APP, 'todos')).toEqual([
        { id: 'k1', title: 'written before the tab died', done: false },
      ]);
      // Every push carried the same clientId and mutation id: the server applies it once.
      const ids = new Set(
        (pushes as { clientId: string; mutations: { id: string }[] }[]).flatMap((p) =>
          p.mutations.map((m) => `${p.clientId}/${m.id}`),
        ),
      );
      expect([...ids]).toEqual([`${pending[0]!.clientId}/${pending[0]!.mutationId}`]);
      expect(pushes.length).toBeGreaterThanOrEqual(2);
      await second.close();
    } finally {
      await context.close();
    }
  });

  it('an aborted transaction leaves neither the row nor an outbox entry', async () => {
    const context = await browser!.newContext();
    try {
      const page = await openPage(context);
      expect(await call(page, (app) => app.abortedWrite())).toBe('abort on purpose');
      expect(await call(page, (app) => app.outboxCountRaw())).toBe(0);
      expect(await call(page, (app) => app.rows())).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
