/**
 * Who else is online, in the Todo app in real Chromium: two browser contexts (two people,
 * named by `?name=`) on one sync server see each other in the list's room, and one closing
 * the app disappears from the other's line.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildApp, launchChromium, openDevice, type RunningApp, startApp } from './browser-harness.js';

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

it('shows who else has the list open, and drops whoever closes it', async () => {
  const url = `${app.url}/?app=presence${process.pid}x${Date.now()}`;
  const ada = await openDevice(browser, 'Ada', `${url}&name=Ada`);
  const online = (d: typeof ada) => d.page.locator('[data-testid=online]').textContent();
  try {
    await expect.poll(() => online(ada), POLL).toBe('Ada · nobody else here');
    const grace = await openDevice(browser, 'Grace', `${url}&name=Grace`);
    await expect.poll(() => online(grace), POLL).toBe('Grace · also here: Ada');
    await expect.poll(() => online(ada), POLL).toBe('Ada · also here: Grace');
    await grace.context.close();
    await expect.poll(() => online(ada), POLL).toBe('Ada · nobody else here');
  } catch (err) {
    throw new Error(`${String(err)}\nAda's console:\n${ada.console.join('\n')}\nserver log:\n${app.log()}`, {
      cause: err,
    });
  } finally {
    await ada.context.close();
  }
});
