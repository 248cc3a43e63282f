// @vitest-environment jsdom
/** The Vue todo example (example/todo.ts), mounted and driven through its DOM. */
import { createClient } from '@omnisync/client';
import { afterEach, expect, test } from 'vitest';
import { nextTick } from 'vue';
import { mountTodo, type Todo } from '../example/todo.js';

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
  const client = createClient({ clientId: 'vue-example' });
  const el = document.createElement('div');
  document.body.appendChild(el);
  const unmount = mountTodo(client, el);
  cleanup = () => {
    unmount();
    el.remove();
  };
  const input = el.querySelector('input[aria-label="New todo"]') as HTMLInputElement;
  const add = async (title: string) => {
    input.value = title;
    input.dispatchEvent(new Event('input'));
    await nextTick();
    (el.querySelector('form') as HTMLFormElement).dispatchEvent(new Event('submit', { cancelable: true }));
  };
  await add('Buy milk');
  await until(() => el.querySelectorAll('li').length === 1, 'one todo shows');
  await add('Write docs');
  await until(() => el.querySelectorAll('li').length === 2, 'two todos show');
  expect([...el.querySelectorAll('li')].map((li) => li.textContent)).toEqual(['Buy milk', 'Write docs']);
  expect(input.value).toBe('');
  expect(el.querySelector('[data-testid="open"]')!.textContent).toBe('2 open');

  const box = el.querySelectorAll('input[type="checkbox"]')[1] as HTMLInputElement;
  box.click();
  await until(() => el.querySelector('[data-testid="open"]')!.textContent === '1 open', 'one open');
  expect(box.checked).toBe(true);
  const stored = client.getCollection<Todo>('todos')!.all();
  expect(stored.find((t) => t.title === 'Write docs')!.completed).toBe(true);
  expect(stored.find((t) => t.title === 'Buy milk')!.completed).toBe(false);
});
