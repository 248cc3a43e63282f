// @vitest-environment jsdom
/**
 * The Vue composables beyond the conformance list: useCollection and useTransactions,
 * useOmni's per-row re-rendering, a reactive query builder, and the provider error.
 */
import {
  type Client,
  createClient,
  createState,
  defineState,
  dehydrate,
  meta,
  type StateOf,
} from '@omnisync/client';
import type { ConformanceRow } from '@omnisync/client/testing';
import { heldServerClient } from '../../client/test/adapter-server.js';
import { q, seededRandom } from '@omnisync/core';
import { afterEach, expect, test } from 'vitest';
import {
  type Component,
  createApp,
  defineComponent,
  h,
  nextTick,
  onErrorCaptured,
  type PropType,
  ref,
  Suspense,
} from 'vue';
import {
  provideOmniSync,
  useCollection,
  useLiveQuery,
  useOmni,
  useSignal,
  useTransactions,
} from '../src/index.js';

type Todo = { id: string; title: string; completed: boolean; n: number };
const todo = (n: number, over: Partial<Todo> = {}): Todo => ({
  id: `t${n}`,
  title: `Todo ${n}`,
  completed: false,
  n,
  ...over,
});
const localClient = (): Client => createClient({ random: seededRandom(1), clientId: 'vue' });

const mounted: (() => void)[] = [];
afterEach(() => {
  for (const u of mounted.splice(0)) u();
});

function mount(client: Client, child: Component, options: { state?: object } = {}): HTMLElement {
  const el = document.createElement('div');
  document.body.appendChild(el);
  const app = createApp(
    defineComponent({
      setup() {
        provideOmniSync(client, options);
        return () => h(child);
      },
    }),
  );
  app.config.warnHandler = () => {};
  app.mount(el);
  mounted.push(() => {
    app.unmount();
    el.remove();
  });
  return el;
}

const flush = async () => {
  for (let i = 0; i < 3; i++) {
    await nextTick();
    await new Promise((r) => setTimeout(r, 0));
  }
};

/** True until `ms` from now: polls end by time, not by a count of turns (the machine is loaded). */
const upTo = (ms: number) => {
  const end = Date.now() + ms;
  return () => Date.now() < end;
};

test("useCollection returns seed 001's shape; data and useTransactions follow writes", async () => {
  const client = localClient();
  let api: ReturnType<typeof useCollection<Todo>> | undefined;
  const el = mount(
    client,
    defineComponent({
      setup() {
        api = useCollection<Todo>({ id: 'todos' });
        const txs = useTransactions();
        return () =>
          h('div', [
            h('p', { id: 'ids' }, Object.keys(api!.data.value).sort().join(',')),
            h('p', { id: 'txs' }, txs.value.map((t) => t.state).join(',')),
          ]);
      },
    }),
  );
  expect(Object.keys(api!).sort()).toEqual([
    'collection',
    'data',
    'delete',
    'insert',
    'update',
    'withMutation',
  ]);
  api!.insert([todo(1), todo(2)]);
  await flush();
  expect(el.querySelector('#ids')!.textContent).toBe('t1,t2');
  api!.withMutation(() => {
    api!.update('t1', { title: 'x' });
    api!.delete('t2');
  });
  await flush();
  expect(el.querySelector('#ids')!.textContent).toBe('t1');
  expect(api!.data.value.t1!.title).toBe('x');
  expect(el.querySelector('#txs')!.textContent).toBe('completed,completed');
});

test('a query builder reading a ref re-targets the live query when the ref changes', async () => {
  const client = localClient();
  client.collection<Todo>({ id: 'todos' }).insert([todo(1), todo(2, { completed: true }), todo(3)]);
  const done = ref(false);
  const el = mount(
    client,
    defineComponent({
      setup() {
        const { data } = useLiveQuery((qb) =>
          qb<Todo>('todos').where({ completed: done.value }).orderBy('n'),
        );
        return () => h('p', data.value.map((t) => t.id).join(','));
      },
    }),
  );
  expect(el.textContent).toBe('t1,t3');
  done.value = true;
  await flush();
  expect(el.textContent).toBe('t2');
});

const appState = defineState({ todos: { _source: 'local', _type: [] as Todo[] } });

test('useOmni: toggling one row of 1,000 re-renders that row only, not the list', async () => {
  const client = localClient();
  const state = createState(client, appState);
  state.todos.insert(Array.from({ length: 1000 }, (_, i) => todo(i)));
  await flush();
  const rowRenders = new Map<string, number>();
  let listRenders = 0;
  const Row = defineComponent({
    props: { item: { type: Object as PropType<Todo>, required: true } },
    setup(props) {
      const t = useOmni(props.item);
      return () => {
        rowRenders.set(t.id, (rowRenders.get(t.id) ?? 0) + 1);
        return h('li', [
          h('input', {
            type: 'checkbox',
            'aria-label': t.title,
            checked: t.completed,
            onChange: () => (t.completed = !t.completed),
          }),
          t.title,
        ]);
      };
    },
  });
  const List = defineComponent({
    setup() {
      const s = useOmni<typeof state>();
      return () => {
        listRenders++;
        return h(
          'ul',
          s.todos.orderBy('n').map((t) => h(Row, { key: t.id, item: t })),
        );
      };
    },
  });
  const el = mount(client, List, { state });
  await flush();
  expect(el.querySelectorAll('li')).toHaveLength(1000);
  const listMounted = listRenders;
  rowRenders.clear();
  const box = el.querySelector('input[aria-label="Todo 500"]') as HTMLInputElement;
  box.click();
  await flush();
  expect(client.getCollection<Todo>('todos')!.get('t500')!.completed).toBe(true);
  expect(box.checked).toBe(true);
  expect([...rowRenders]).toEqual([['t500', 1]]);
  expect(listRenders).toBe(listMounted);

  rowRenders.clear();
  client.getCollection<Todo>('todos')!.update('t7', { title: 'seven' });
  await flush();
  expect([...rowRenders]).toEqual([['t7', 1]]);
  expect(el.querySelector('input[aria-label="seven"]')).not.toBeNull();
  expect(listRenders).toBe(listMounted);

  rowRenders.clear();
  state.todos.insert(todo(1000));
  await flush();
  expect(listRenders).toBe(listMounted + 1);
  expect([...rowRenders]).toEqual([['t1000', 1]]);
});

test('outside a provider, a composable fails with a clear message', () => {
  const app = createApp(
    defineComponent({
      setup() {
        useLiveQuery(q('todos'));
        return () => null;
      },
    }),
  );
  let caught: unknown;
  app.config.errorHandler = (e) => {
    caught = e;
  };
  app.config.warnHandler = () => {};
  app.mount(document.createElement('div'));
  app.unmount();
  expect(String(caught)).toMatch(/below provideOmniSync\(client\)/);
});

/** A client whose `todos` sync answers when the test says (or fails). */
function heldTodos() {
  let answer!: (rows: Todo[]) => void;
  let fail!: (e: Error) => void;
  const first = new Promise<Todo[]>((res, rej) => {
    answer = res;
    fail = rej;
  });
  const client = createClient({ clientId: 'vue-held', onError: () => {} });
  client.collection<Todo>({ id: 'todos', sync: { id: 'todos', setup: async () => ({ data: await first }) } });
  return { client, answer, fail };
}

const AsyncList = defineComponent({
  async setup() {
    const { data, suspense } = useLiveQuery((qb) => qb<Todo>('todos').orderBy('n'));
    await suspense();
    return () => h('p', { id: 'rows' }, data.value.map((t) => t.id).join(','));
  },
});

test('await suspense() in an async setup suspends under <Suspense> until the data is in', async () => {
  const held = heldTodos();
  const el = mount(
    held.client,
    defineComponent({
      setup: () => () =>
        h(Suspense, null, { default: () => h(AsyncList), fallback: () => h('p', 'loading') }),
    }),
  );
  await flush();
  expect(el.textContent).toBe('loading');
  held.answer([todo(2), todo(1)]);
  await held.client.getCollection('todos')!.ready;
  for (const more = upTo(15_000); more() && el.textContent === 'loading';) await flush();
  expect(el.querySelector('#rows')!.textContent).toBe('t1,t2');
});

test('a failed sync rejects suspense(): the error reaches onErrorCaptured', async () => {
  const held = heldTodos();
  let captured: unknown;
  const el = mount(
    held.client,
    defineComponent({
      setup() {
        onErrorCaptured((e) => {
          captured = e;
          return false;
        });
        return () => h(Suspense, null, { default: () => h(AsyncList), fallback: () => h('p', 'loading') });
      },
    }),
  );
  await flush();
  expect(el.textContent).toBe('loading');
  held.fail(new Error('backend is down'));
  await held.client.getCollection('todos')!.ready.catch(() => {});
  for (const more = upTo(15_000); more() && captured === undefined;) await flush();
  expect(String(captured)).toMatch(/backend is down/);
});

test('a dehydrate() snapshot is applied before the first render: rows, no loading state', async () => {
  const server = localClient();
  server.collection<Todo>({ id: 'todos' }).insert([todo(1), todo(2)]);
  await flush();
  const snapshot = JSON.parse(JSON.stringify(dehydrate(server)));
  const browser = heldTodos().client; // its own sync has not answered
  const el = document.createElement('div');
  const app = createApp(
    defineComponent({
      setup() {
        provideOmniSync(browser, { snapshot });
        return () => h(List);
      },
    }),
  );
  const List = defineComponent({
    setup() {
      const { data, isLoading } = useLiveQuery((qb) => qb<Todo>('todos').orderBy('n'));
      return () => h('p', isLoading.value ? 'loading' : data.value.map((t) => t.id).join(','));
    },
  });
  app.mount(el);
  mounted.push(() => app.unmount());
  expect(el.textContent).toBe('t1,t2');
});

test("meta(node) read in a render follows a real server's held-back first answer: loading, then ready", async () => {
  const held = await heldServerClient();
  try {
    const spec = defineState({ items: { _source: 'server', _type: [] as ConformanceRow[] } });
    const el = mount(
      held.client,
      defineComponent({
        setup() {
          const s = useOmni<StateOf<typeof spec>>();
          return () => {
            const m = meta(s.items);
            return h('p', m.status === 'ready' ? `ready:${s.items.length}` : m.status);
          };
        },
      }),
      { state: spec },
    );
    await flush();
    expect(el.textContent).toBe('loading');
    held.release();
    await held.client.getCollection('items')!.ready;
    for (const more = upTo(15_000); more() && el.textContent === 'loading';) await flush();
    expect(el.textContent).toBe('ready:3');
  } finally {
    await held.client.close();
    await held.close();
  }
});

test("useSignal(client.server.status) shows a real server's sync status: a held write is pending, then acknowledged", async () => {
  const held = await heldServerClient();
  try {
    const el = mount(
      held.client,
      defineComponent({
        setup() {
          const status = useSignal(held.client.server!.status);
          return () => h('p', `online:${status.value.online} pending:${status.value.pending}`);
        },
      }),
    );
    held.client.getCollection('items')!.insert({ id: 'new', title: 'New', done: false, n: 9 });
    for (const more = upTo(15_000); more() && el.textContent !== 'online:false pending:1';) await flush();
    expect(el.textContent).toBe('online:false pending:1');
    held.release();
    for (const more = upTo(15_000); more() && el.textContent !== 'online:true pending:0';) await flush();
    expect(el.textContent).toBe('online:true pending:0');
  } finally {
    await held.client.close();
    await held.close();
  }
});
