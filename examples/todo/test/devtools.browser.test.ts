/**
 * The devtools panel in the Todo app, in real Chromium against the real sync server: two
 * browser contexts edit the title of one todo while offline, and after both reconnect the
 * panel of the one whose edit lost names the winner, its HLC (the one the server holds) and
 * its origin (the other device's client id). The panel is loaded lazily: a context without
 * `?devtools` loads its chunk only when the toggle is clicked.
 *
 * `DEVTOOLS_SCREENSHOT=<path>` also writes the screenshot of the panel there (that is how
 * packages/devtools/devtools.png is made).
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createHttpTransport } from '@omnisync/client';
import {
  addTodo,
  buildApp,
  type Device,
  launchChromium,
  openDevice,
  renameTodo,
  ROOT,
  row,
  type RunningApp,
  shown,
  startApp,
  status,
  StepShots,
} from './browser-harness.js';

const POLL = { timeout: 20_000, interval: 100 };

let app: RunningApp;
let browser: Browser;
let dist: string;

beforeAll(async () => {
  dist = await buildApp();
  app = await startApp(dist);
  browser = await launchChromium();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await app?.stop();
  if (dist) await rm(dist, { recursive: true, force: true });
});

const synced = (d: Device) => expect.poll(() => status(d), POLL).toEqual({ state: 'online', pending: 0 });
const clientId = (d: Device) =>
  d.page.evaluate(
    () => (window as unknown as { omnisync: { client: { clientId: string } } }).omnisync.client.clientId,
  );
const scripts = (d: Device) =>
  d.page.evaluate(() =>
    performance
      .getEntriesByType('resource')
      .map((e) => e.name)
      .filter((n) => n.endsWith('.js')),
  );

it('after a conflicting edit of one field, the panel names the winner and the HLC the server holds', async () => {
  const appId = `devtools${process.pid}x${Date.now()}`;
  const url = `${app.url}/?app=${appId}`;
  const a = await openDevice(browser, 'A', `${url}&name=Ada&devtools`);
  const b = await openDevice(browser, 'B', `${url}&name=Grace`);
  await a.page.setViewportSize({ width: 1360, height: 860 });
  const shots = new StepShots('devtools names the winner', [a, b]);
  const panel = a.page.locator('[data-testid=omnisync-devtools]');
  let failed = true;
  try {
    let id = '';
    await shots.step('A (with ?devtools) shows the panel; both see one todo', async () => {
      await expect.poll(() => panel.count(), POLL).toBe(1);
      await addTodo(a, 'Shared');
      await expect.poll(() => shown(b), POLL).toEqual(['Shared']);
      id = (await row(a, 'Shared').getAttribute('data-id'))!;
      await synced(a);
      await synced(b);
    });

    let aHlc = '';
    await shots.step('both go offline; A renames it, then B renames it', async () => {
      await a.context.setOffline(true);
      await b.context.setOffline(true);
      await renameTodo(a, 'Shared', 'Title by A');
      // A's write is pending: the panel shows it with its HLC.
      await a.page.click('[data-testid=devtools-tab-fields]');
      await a.page.click(`[data-testid=devtools-field-ref][data-field="todos/${id}/title"]`);
      const pending = a.page.locator('[data-testid=devtools-write][data-status=pending]');
      await expect.poll(() => pending.count(), POLL).toBe(1);
      aHlc = (await pending.getAttribute('data-hlc'))!;
      // B writes later by the clock both browsers share, so its HLC is the higher one.
      const aWall = parseInt(aHlc.split('-')[0]!, 36);
      await expect.poll(() => b.page.evaluate(() => Date.now()), POLL).toBeGreaterThan(aWall);
      await renameTodo(b, 'Shared', 'Title by B');
    });

    await shots.step('both reconnect and converge on B’s title', async () => {
      await a.context.setOffline(false);
      await b.context.setOffline(false);
      await expect.poll(() => shown(a), POLL).toEqual(['Title by B']);
      await expect.poll(() => shown(b), POLL).toEqual(['Title by B']);
      await synced(a);
      await synced(b);
    });

    await shots.step('A’s panel names the winner: B’s write, with the HLC the server holds', async () => {
      const http = createHttpTransport({ server: app.url, app: appId });
      const snap = await http.snapshot({ queries: [{ collection: 'todos' }] });
      const held = snap.cells.find((c) => c.id === id && c.field === 'title')!;
      expect(held.value).toBe('Title by B');
      const bId = await clientId(b);
      expect(held.hlc.endsWith(`-${bId}`)).toBe(true);

      const winnerHlc = a.page.locator('[data-testid=devtools-winner-hlc]');
      await expect.poll(() => winnerHlc.textContent(), POLL).toBe(held.hlc);
      expect(await a.page.locator('[data-testid=devtools-winner-origin]').textContent()).toBe(bId);
      expect(await a.page.locator('[data-testid=devtools-why]').textContent()).toContain(
        // The title's three writes: A's insert, A's rename, B's rename.
        `"Title by B" won: written by ${bId} at HLC ${held.hlc}, the highest HLC of the 3 writes seen`,
      );
      const rows = a.page.locator('[data-testid=devtools-write]');
      const seen = await rows.evaluateAll((els) =>
        els.map((e) => [e.getAttribute('data-status'), e.getAttribute('data-hlc'), e.textContent]),
      );
      expect(seen.map(([status, hlc]) => [status, hlc])).toEqual([
        ['winner', held.hlc],
        ['lost', aHlc],
        ['lost', expect.any(String)],
      ]);
      expect(seen[2]![2]).toContain('"Shared"');
      const aId = await clientId(a);
      expect(await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-origin')))).toEqual([
        bId,
        aId,
        aId,
      ]);

      const out = process.env.DEVTOOLS_SCREENSHOT;
      const dir = out ? undefined : await mkdtemp(join(tmpdir(), 'omnisync-devtools-shot-'));
      const path = out ? (isAbsolute(out) ? out : join(ROOT, out)) : join(dir!, 'devtools.png');
      await a.page.screenshot({ path });
      expect((await stat(path)).size).toBeGreaterThan(10_000);
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    await shots.step(
      'the other tabs: transactions, outbox, sync status and cursor, live queries',
      async () => {
        await a.page.click('[data-testid=devtools-tab-transactions]');
        expect(await a.page.locator('[data-testid=devtools-transaction]').count()).toBeGreaterThanOrEqual(2);
        expect(await a.page.locator('[data-testid=devtools-transactions]').textContent()).toContain(
          'completed',
        );
        await a.page.click('[data-testid=devtools-tab-outbox]');
        expect(await a.page.locator('[data-testid=devtools-outbox]').textContent()).toContain('0 waiting');
        await a.page.click('[data-testid=devtools-tab-sources]');
        expect(await a.page.locator('[data-testid=devtools-sync-state]').textContent()).toBe('online');
        expect(Number(await a.page.locator('[data-testid=devtools-cursor]').textContent())).toBeGreaterThan(
          0,
        );
        await a.page.click('[data-testid=devtools-tab-queries]');
        expect(await a.page.locator('[data-testid=devtools-query]').count()).toBeGreaterThan(0);
        expect(await a.page.locator('[data-testid=devtools-queries]').textContent()).toContain('complete');
      },
    );

    await shots.step(
      'B (no ?devtools) loads the panel only when the toggle is clicked; its close button closes it',
      async () => {
        const before = await scripts(b);
        expect(await b.page.locator('[data-testid=omnisync-devtools]').count()).toBe(0);
        await b.page.click('[data-testid=devtools-toggle]');
        await expect.poll(() => b.page.locator('[data-testid=omnisync-devtools]').count(), POLL).toBe(1);
        const loaded = (await scripts(b)).filter((s) => !before.includes(s));
        expect(loaded.length).toBeGreaterThan(0);
        // The floating panel may cover the toggle: its own close button closes it (and resets the toggle).
        await b.page.click('[aria-label="Close devtools"]');
        await expect.poll(() => b.page.locator('[data-testid=omnisync-devtools]').count(), POLL).toBe(0);
        expect(await b.page.locator('[data-testid=devtools-toggle]').getAttribute('aria-pressed')).toBe(
          'false',
        );
      },
    );
    failed = false;
  } finally {
    await shots.finish(failed, { 'server.log': app.log() });
    await a.context.close();
    await b.context.close();
  }
});
