/**
 * What the browser tests share: build the app (into a temporary directory), start it with
 * the sync server as a real child process on a random port, drive Debian's Chromium with
 * playwright-core, and keep a screenshot of every step — moved to `test-results/` when
 * the test fails, dropped when it passes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';

export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const TODO_DIR = join(ROOT, 'examples/todo');
const RESULTS_DIR = join(ROOT, 'test-results');

/** Chromium as installed by Debian (`apt-get install chromium`). */
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
];

function run(
  cmd: string,
  args: string[],
  cwd: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (out += d.toString()));
    p.on('error', reject);
    p.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(' ')} exited ${code}:\n${out}`)),
    );
  });
}

/** Build the Todo app with Vite into a fresh temporary directory; returns it. */
export async function buildApp(): Promise<string> {
  const out = await mkdtemp(join(tmpdir(), 'omnisync-todo-dist-'));
  await run(
    process.execPath,
    [
      join(ROOT, 'node_modules/vite/bin/vite.js'),
      'build',
      '--outDir',
      out,
      '--emptyOutDir',
      '--logLevel',
      'warn',
    ],
    TODO_DIR,
    {
      ...process.env,
      // vitest sets NODE_ENV=test, which would give React's development build and no service worker.
      NODE_ENV: 'production',
    },
  );
  return out;
}

/** The app + sync server, running as a child process (`examples/todo/serve.ts`). */
export interface RunningApp {
  readonly url: string;
  readonly dataDir: string;
  /** Everything the server printed (for failure reports). */
  log(): string;
  stop(): Promise<void>;
}

/** Start the app with the sync server on a random loopback port. */
export async function startApp(distDir: string): Promise<RunningApp> {
  const dataDir = await mkdtemp(join(tmpdir(), 'omnisync-todo-data-'));
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(TODO_DIR, 'serve.ts'),
      '--port',
      '0',
      '--data',
      dataDir,
      '--dist',
      distDir,
      '--log-level',
      'warn',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the app did not start within 30 s:\n${log}`)), 30_000);
    const onData = (d: Buffer) => {
      log += d.toString();
      const m = /listening (http:\/\/\S+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the app exited (${code}) before listening:\n${log}`));
    });
  });
  return {
    url,
    dataDir,
    log: () => log,
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** Launch headless Chromium. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
}

/** A browser context ("device") with its page, collecting console errors. */
export interface Device {
  readonly name: string;
  readonly context: BrowserContext;
  readonly page: Page;
  readonly console: string[];
}

/** Open a new context on `url` and wait until the app rendered. */
export async function openDevice(browser: Browser, name: string, url: string): Promise<Device> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const lines: string[] = [];
  page.on('console', (m) => lines.push(`[${m.type()}] ${m.text()}`));
  page.on('pageerror', (e) => lines.push(`[pageerror] ${e.message}`));
  await page.goto(url);
  await page.waitForSelector('[data-testid=todo-count]');
  return { name, context, page, console: lines };
}

/** Screenshots of every step of one test, kept only if the test fails. */
export class StepShots {
  readonly #dir: Promise<string>;
  readonly #test: string;
  #n = 0;
  readonly #devices: Device[];

  constructor(test: string, devices: Device[]) {
    this.#test = test
      .replace(/[^a-z0-9]+/gi, '-')
      .replace(/^-|-$/g, '')
      .slice(0, 80);
    this.#dir = mkdtemp(join(tmpdir(), 'omnisync-shots-'));
    this.#devices = devices;
  }

  /** Run one step, then screenshot every device. */
  async step<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const n = String(++this.#n).padStart(2, '0');
    try {
      return await fn();
    } finally {
      const dir = await this.#dir;
      for (const d of this.#devices) {
        const slug = name.replace(/[^a-z0-9]+/gi, '-').slice(0, 60);
        await d.page.screenshot({ path: join(dir, `${n}-${slug}-${d.name}.png`) }).catch(() => {});
      }
    }
  }

  /** Keep the screenshots (and each device's console) under test-results/<test>/, or drop them. */
  async finish(failed: boolean, extra: Record<string, string> = {}): Promise<void> {
    const dir = await this.#dir;
    if (!failed) {
      await rm(dir, { recursive: true, force: true });
      return;
    }
    const dest = join(RESULTS_DIR, this.#test);
    await rm(dest, { recursive: true, force: true });
    await mkdir(RESULTS_DIR, { recursive: true });
    await rename(dir, dest).catch(async () => {
      await run('cp', ['-r', dir, dest], ROOT);
      await rm(dir, { recursive: true, force: true });
    });
    const { writeFile } = await import('node:fs/promises');
    for (const d of this.#devices) await writeFile(join(dest, `console-${d.name}.txt`), d.console.join('\n'));
    for (const [k, v] of Object.entries(extra)) await writeFile(join(dest, k), v);
  }
}

/** The todos a device shows, in order: `title` or `title ✓` for completed ones. */
export async function shown(d: Device): Promise<string[]> {
  return d.page.$$eval('[data-testid=todo]', (els) =>
    els.map((li) => {
      const title = li.querySelector('[data-testid=title]')?.textContent ?? '';
      const done = (li.querySelector('[data-testid=toggle]') as HTMLInputElement | null)?.checked;
      return done ? `${title} ✓` : title;
    }),
  );
}

/** The status line: `{ state, pending }`. */
export async function status(d: Device): Promise<{ state: string; pending: number }> {
  const el = d.page.locator('[data-testid=status]');
  return {
    state: (await el.getAttribute('data-state')) ?? '',
    pending: Number(await el.getAttribute('data-pending')),
  };
}

/** Add a todo through the input. */
export async function addTodo(d: Device, title: string): Promise<void> {
  await d.page.fill('[data-testid=new-todo]', title);
  await d.page.press('[data-testid=new-todo]', 'Enter');
}

/** The row of a todo by its title. */
export function row(d: Device, title: string) {
  return d.page.locator('[data-testid=todo]', {
    has: d.page.locator('[data-testid=title]', { hasText: new RegExp(`^${escapeRe(title)}$`) }),
  });
}

/** Rename a todo by double-clicking its title. */
export async function renameTodo(d: Device, from: string, to: string): Promise<void> {
  await row(d, from).locator('[data-testid=title]').dblclick();
  await d.page.fill('[data-testid=edit]', to);
  await d.page.press('[data-testid=edit]', 'Enter');
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
