/**
 * A small todo list on @omnisync/solid, without a JSX compiler (`solid-js/h`): add a todo,
 * toggle it, see how many are open. Mount it with `mountTodo(client, element)`.
 */
import type { Client } from '@omnisync/client';
import { createComponent, createSignal, For } from 'solid-js';
import type { JSX } from 'solid-js';
import hyper from 'solid-js/h';
import { render } from 'solid-js/web';
import { OmniSyncProvider, useCollection, useLiveQuery } from '../src/index.js';

/** `solid-js/h`, typed as returning an element (its own types say a thunk). */
const h = hyper as unknown as (...args: unknown[]) => JSX.Element;

/** One todo. */
export type Todo = {
  id: string;
  title: string;
  completed: boolean;
  createdAt: number;
};

/** The app: a form, the list (oldest first) and the open count. */
export function TodoApp() {
  const todos = useCollection<Todo>({ id: 'todos' });
  const list = useLiveQuery((q) => q<Todo>('todos').orderBy('createdAt'));
  const open = useLiveQuery((q) => q<Todo>('todos').where({ completed: false }).count());
  const [title, setTitle] = createSignal('');
  const add = (e: Event) => {
    e.preventDefault();
    const t = title().trim();
    if (t === '') return;
    todos.insert({ id: crypto.randomUUID(), title: t, completed: false, createdAt: Date.now() });
    setTitle('');
  };
  return h('section', [
    h('form', { onSubmit: add }, [
      h('input', {
        'aria-label': 'New todo',
        value: () => title(),
        onInput: (e: Event) => setTitle((e.target as HTMLInputElement).value),
      }),
      h('button', { type: 'submit' }, 'Add'),
    ]),
    h(
      'ul',
      createComponent(For<readonly Todo[], JSX.Element>, {
        get each() {
          return list();
        },
        children: (todo: Todo) =>
          h('li', [
            h('label', [
              h('input', {
                type: 'checkbox',
                checked: todo.completed,
                onChange: () => todos.update(todo.id, { completed: !todo.completed }),
              }),
              todo.title,
            ]),
          ]),
      }),
    ),
    h('p', { 'data-testid': 'open' }, () => `${Number(open()[0]?.count ?? 0)} open`),
  ]);
}

/** Mount the todo app with `client` into `el`; returns unmount. */
export function mountTodo(client: Client, el: HTMLElement): () => void {
  return render(
    () =>
      createComponent(OmniSyncProvider, {
        client,
        get children() {
          return createComponent(TodoApp, {});
        },
      }),
    el,
  );
}
