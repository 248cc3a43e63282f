// @vitest-environment jsdom
/** The Svelte todo example (example/*.svelte), compiled, mounted and driven through its DOM. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from '@omnisync/client';
import { flushSync, mount, unmount } from 'svelte';
import { afterEach, expect, test } from 'vitest';
import { loadSvelte } from './svelte-loader.js';

const here = dirname(fileURLToPath(import.meta.url));
const source = (name: string) => readFileSync(join(here, '../example', name), 'utf8');
let cleanup: (() => void) | undefined;
afterEach(() => cleanup?.());

async function until(cond: () => boolean, what: string) {
  const end = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('add two todos, toggle one: the list, the checkbox and the open count follow', async () => {
  const App = await loadSvelte(
    { 'App.svelte': source('App.svelte'), 'Todo.svelte': source('Todo.svelte') },
    'App.svelte',
  );
  const client = createClient({ clientId: 'svelte-example' });
  const el = document.createElement('div');
  document.body.appendChild(el);
  const app = mount(App, { target: el, props: { client } });
  flushSync();
  cleanup = () => {
    void unmount(app);
    el.remove();
  };
  const input = el.querySelector('input[aria-label="New todo"]') as HTMLInputElement;
  const add = (title: string) => {
    input.value = title;
    input.dispatchEvent(new Event('input', { bubbles: true }));
    flushSync();
    el.querySelector('form')!.dispatchEvent(new Event('submit', { bubbles: true, cancelable: true }));
  };
  add('Buy milk');
  await until(() => el.querySelectorAll('li').length === 1, 'one todo shows');
  add('Write docs');
  await until(() => el.querySelectorAll('li').length === 2, 'two todos show');
  expect([...el.querySelectorAll('li')].map((li) => li.textContent?.trim())).toEqual([
    'Buy milk',
    'Write docs',
  ]);
  expect(input.value).toBe('');
  expect(el.querySelector('[data-testid="open"]')!.textContent).toBe('2 open');

  const box = el.querySelectorAll('input[type="checkbox"]')[1] as HTMLInputElement;
  box.click();
  await until(() => el.querySelector('[data-testid="open"]')!.textContent === '1 open', 'one open');
  expect(box.checked).toBe(true);
  const stored = client.getCollection<{ id: string; title: string; completed: boolean }>('todos')!.all();
  expect(stored.find((t) => t.title === 'Write docs')!.completed).toBe(true);
  expect(stored.find((t) => t.title === 'Buy milk')!.completed).toBe(false);
});
