/**
 * The Todo app in real Chromium (Debian's, driven by playwright-core), served with the sync
 * server as a child process on a random port. Two browser contexts are two devices: each
 * has its own IndexedDB and its own connection.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addTodo,
  buildApp,
  type Device,
  launchChromium,
  openDevice,
  renameTodo,
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
  if (dist) await import('node:fs/promises').then((fs) => fs.rm(dist, { recursive: true, force: true }));
});

let appSeq = 0;
/** A fresh app (tenant) per test, so tests never see each other's todos. */
const freshUrl = () => `${app.url}/?app=t${process.pid}x${Date.now()}x${++appSeq}`;

/** Run a test body with step screenshots, kept under test-results/ if it fails. */
async function withDevices(
  test: string,
  names: string[],
  body: (devices: Device[], shots: StepShots) => Promise<void>,
) {
  const url = freshUrl();
  const devices: Device[] = [];
  for (const n of names) devices.push(await openDevice(browser, n, url));
  const shots = new StepShots(test, devices);
  let failed = true;
  try {
    await body(devices, shots);
    failed = false;
  } finally {
    await shots.finish(failed, { 'server.log': app.log() });
    for (const d of devices) await d.context.close();
  }
}

const synced = async (d: Device) =>
  expect.poll(() => status(d), POLL).toEqual({ state: 'online', pending: 0 });

describe('Todo app in Chromium (two browser contexts, one sync server)', () => {
  it('an edit in one context shows in the other: add, toggle, rename, delete, clear completed, views', async () => {
    await withDevices('edit shows in the other context', ['A', 'B'], async ([a, b], shots) => {
      await shots.step('A adds three todos', async () => {
        await addTodo(a!, 'Buy milk');
        await addTodo(a!, 'Walk the dog');
        await addTodo(a!, 'Write tests');
        expect(await shown(a!)).toEqual(['Buy milk', 'Walk the dog', 'Write tests']);
      });
      await shots.step('B sees them', async () => {
        await expect.poll(() => shown(b!), POLL).toEqual(['Buy milk', 'Walk the dog', 'Write tests']);
      });
      await shots.step('B toggles one; A sees it completed', async () => {
        await row(b!, 'Walk the dog').locator('[data-testid=toggle]').check();
        await expect.poll(() => shown(a!), POLL).toEqual(['Buy milk', 'Walk the dog ✓', 'Write tests']);
        await expect.poll(() => a!.page.textContent('[data-testid=todo-count]'), POLL).toBe('2 items left');
      });
      await shots.step('A renames one; B sees the new title', async () => {
        await renameTodo(a!, 'Buy milk', 'Buy oat milk');
        await expect.poll(() => shown(b!), POLL).toEqual(['Buy oat milk', 'Walk the dog ✓', 'Write tests']);
      });
      await shots.step('views: active and completed on B', async () => {
        await b!.page.click('[data-testid=filter-active]');
        expect(await shown(b!)).toEqual(['Buy oat milk', 'Write tests']);
        await b!.page.click('[data-testid=filter-completed]');
        expect(await shown(b!)).toEqual(['Walk the dog ✓']);
        await b!.page.click('[data-testid=filter-all]');
        expect(await shown(b!)).toHaveLength(3);
      });
      await shots.step('B deletes one; A sees it gone', async () => {
        await row(b!, 'Write tests').locator('[data-testid=delete]').click();
        await expect.poll(() => shown(a!), POLL).toEqual(['Buy oat milk', 'Walk the dog ✓']);
      });
      await shots.step('A clears completed; B sees only the active one', async () => {
        await a!.page.click('[data-testid=clear-completed]');
        await expect.poll(() => shown(b!), POLL).toEqual(['Buy oat milk']);
        await synced(a!);
        await synced(b!);
      });
    });
  });

  it('one context offline edits while the other edits too; after reconnecting both show the same list, with the delete winning', async () => {
    await withDevices('offline edits converge, delete wins', ['A', 'B'], async ([a, b], shots) => {
      await shots.step('both see the same two todos', async () => {
        await addTodo(a!, 'Shared one');
        await addTodo(a!, 'Shared two');
        await expect.poll(() => shown(b!), POLL).toEqual(['Shared one', 'Shared two']);
        await synced(a!);
      });
      await shots.step('A goes offline', async () => {
        await a!.context.setOffline(true);
      });
      await shots.step('B deletes "Shared one" and renames "Shared two" while A is offline', async () => {
        await row(b!, 'Shared one').locator('[data-testid=delete]').click();
        await renameTodo(b!, 'Shared two', 'Shared two (by B)');
        await synced(b!);
      });
      await shots.step('A, offline, edits the deleted todo later, toggles the other, adds one', async () => {
        await addTodo(a!, 'Made offline');
        // A does not hear the delete or the rename (push and pull are offline): it still shows its own view.
        await renameTodo(a!, 'Shared one', 'Shared one (edited offline by A)');
        await row(a!, 'Shared two').locator('[data-testid=toggle]').check();
        await expect.poll(() => status(a!), POLL).toMatchObject({ state: 'offline' });
        // The status line re-renders after the write; on a loaded machine that can trail the check.
        await expect.poll(async () => (await status(a!)).pending, POLL).toBeGreaterThanOrEqual(3);
      });
      await shots.step('A reconnects; both converge', async () => {
        await a!.context.setOffline(false);
        const expected = ['Shared two (by B) ✓', 'Made offline'];
        await expect.poll(() => shown(a!), POLL).toEqual(expected);
        await expect.poll(() => shown(b!), POLL).toEqual(expected);
        await synced(a!);
        await synced(b!);
      });
    });
  });

  it('a reload while offline keeps the pending edits, and they sync afterwards', async () => {
    await withDevices('reload offline keeps pending edits', ['A', 'B'], async ([a, b], shots) => {
      await shots.step('a synced todo, and the app shell cached by the service worker', async () => {
        await addTodo(a!, 'Before going offline');
        await expect.poll(() => shown(b!), POLL).toEqual(['Before going offline']);
        await synced(a!);
        expect(await a!.page.evaluate(() => navigator.serviceWorker.ready.then((r) => r.active?.state))).toBe(
          'activated',
        );
      });
      await shots.step('A goes offline and edits', async () => {
        await a!.context.setOffline(true);
        await addTodo(a!, 'Written offline');
        await row(a!, 'Before going offline').locator('[data-testid=toggle]').check();
        await expect.poll(() => status(a!), POLL).toMatchObject({ state: 'offline', pending: 2 });
      });
      await shots.step(
        'A reloads while offline: the edits and the pending count are still there',
        async () => {
          await a!.page.reload();
          await a!.page.waitForSelector('[data-testid=todo-count]', { timeout: 20_000 });
          await expect.poll(() => shown(a!), POLL).toEqual(['Before going offline ✓', 'Written offline']);
          await expect.poll(() => status(a!), POLL).toMatchObject({ pending: 2 });
          expect(await shown(b!)).toEqual(['Before going offline']);
        },
      );
      await shots.step('A reconnects: the edits reach B', async () => {
        await a!.context.setOffline(false);
        await expect.poll(() => shown(b!), POLL).toEqual(['Before going offline ✓', 'Written offline']);
        await synced(a!);
      });
    });
  });
});
