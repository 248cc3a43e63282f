/**
 * The Chromium side of bench/frameworks.bench.ts: bundle bench/frameworks-page.ts with esbuild
 * (packages/client/test/adapter-bundle.ts) and run each framework's toggle loop in Debian's
 * Chromium via playwright-core.
 */
import { chromium } from 'playwright-core';
import { bundleAdapterPage } from '../packages/client/test/adapter-bundle.ts';
import type { ToggleRun } from './frameworks-harness.ts';

/** Run every framework's toggle loop in Chromium (one fresh page each). */
export async function runInChromium(
  fws: readonly string[],
  rows: number,
  toggles: number,
): Promise<ToggleRun[]> {
  const code = await bundleAdapterPage('bench/frameworks-page.ts');
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
  try {
    const runs: ToggleRun[] = [];
    for (const fw of fws) {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto('about:blank');
      await page.addScriptTag({ content: code });
      await page.waitForFunction(() => document.title === 'ready');
      const run = (await page.evaluate(([f, r, t]) => (window as any).bench(f, r, t), [
        fw,
        rows,
        toggles,
      ] as const)) as ToggleRun;
      if (errors.length > 0) throw new Error(`${fw} in Chromium: ${errors.join('; ')}`);
      runs.push(run);
      await page.close();
    }
    return runs;
  } finally {
    await browser.close();
  }
}
