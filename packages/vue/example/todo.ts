/**
 * A small todo list on @omnisync/vue (render functions, no build step): add a todo, toggle
 * it, see how many are open. Mount it with `mountTodo(client, element)`.
 */
import type { Client } from '@omnisync/client';
import { createApp, defineComponent, h, type PropType, ref } from 'vue';
import { createOmniSync, useCollection, useLiveQuery } from '../src/index.js';

/** One todo. */
export type Todo = {
  id: string;
  title: string;
  completed: boolean;
  createdAt: number;
};

const TodoItem = defineComponent({
  props: { todo: { type: Object as PropType<Todo>, required: true } },
  setup(props) {
    const { update } = useCollection<Todo>({ id: 'todos' });
    return () =>
      h('li', [
        h('label', [
          h('input', {
            type: 'checkbox',
            checked: props.todo.completed,
            onChange: () => update(props.todo.id, { completed: !props.todo.completed }),
          }),
          props.todo.title,
        ]),
      ]);
  },
});

/** The app: a form and the list (oldest first). */
export const TodoApp = defineComponent({
  setup() {
    const { insert } = useCollection<Todo>({ id: 'todos' });
    const { data: todos } = useLiveQuery((q) => q<Todo>('todos').orderBy('createdAt'));
    const { data: open } = useLiveQuery((q) => q<Todo>('todos').where({ completed: false }).count());
    const title = ref('');
    const add = (e: Event) => {
      e.preventDefault();
      if (title.value.trim() === '') return;
      insert({ id: crypto.randomUUID(), title: title.value.trim(), completed: false, createdAt: Date.now() });
      title.value = '';
    };
    return () =>
      h('section', [
        h('form', { onSubmit: add }, [
          h('input', {
            'aria-label': 'New todo',
            value: title.value,
            onInput: (e: Event) => (title.value = (e.target as HTMLInputElement).value),
          }),
          h('button', { type: 'submit' }, 'Add'),
        ]),
        h(
          'ul',
          todos.value.map((t) => h(TodoItem, { key: t.id, todo: t })),
        ),
        h('p', { 'data-testid': 'open' }, `${Number(open.value[0]?.count ?? 0)} open`),
      ]);
  },
});

/** Mount the todo app with `client` into `el`; returns unmount. */
export function mountTodo(client: Client, el: Element): () => void {
  const app = createApp(TodoApp).use(createOmniSync(client));
  app.mount(el);
  return () => app.unmount();
}
