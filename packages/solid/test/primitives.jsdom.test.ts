// @vitest-environment jsdom
/**
 * The Solid primitives beyond the conformance list: useCollection and useTransactions,
 * useOmni's per-row re-running, a query builder reading a signal, the provider error.
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
import { createComponent, createSignal, For, type JSX, Suspense } from 'solid-js';
import hyper from 'solid-js/h';
import { render } from 'solid-js/web';
import { afterEach, expect, test } from 'vitest';
import {
  OmniSyncProvider,
  useCollection,
  useLiveQuery,
  useOmni,
  useSignal,
  useTransactions,
} from '../src/index.js';

/** `solid-js/h`, typed as returning an element (its own types say a thunk). */
const h = hyper as unknown as (...args: unknown[]) => JSX.Element;

type Todo = { id: string; title: string; completed: boolean; n: number };
const todo = (n: number, over: Partial<Todo> = {}): Todo => ({
  id: `t${n}`,
  title: `Todo ${n}`,
  completed: false,
  n,
  ...over,
});
const localClient = (): Client => createClient({ random: seededRandom(1), clientId: 'solid' });

const mounted: (() => void)[] = [];
afterEach(() => {
  for (const u of mounted.splice(0)) u();
});
function show(client: Client, child: () => JSX.Element, state?: object): HTMLElement {
  const el = document.createElement('div');
  document.body.appendChild(el);
  const dispose = render(
    () =>
      createComponent(OmniSyncProvider, {
        client,
        ...(state ? { state } : {}),
        get children() {
          return child();
        },
      }),
    el,
  );
  mounted.push(() => {
    dispose();
    el.remove();
  });
  return el;
}
const settle = async () => {
  for (let i = 0; i < 3; i++) await new Promise((r) => setTimeout(r, 0));
};

/** True until `ms` from now: polls end by time, not by a count of turns (the machine is loaded). */
const upTo = (ms: number) => {
  const end = Date.now() + ms;
  return () => Date.now() < end;
};

test("useCollection returns seed 001's shape; data and useTransactions follow writes", async () => {
  const client = localClient();
  let api: ReturnType<typeof useCollection<Todo>> | undefined;
  const el = show(client, () => {
    api = useCollection<Todo>({ id: 'todos' });
    const txs = useTransactions();
    return h('div', [
      h('p', { id: 'ids' }, () => Object.keys(api!.data()).sort().join(',')),
      h('p', { id: 'txs' }, () =>
        txs()
          .map((t) => t.state)
          .join(','),
      ),
    ]);
  });
  expect(Object.keys(api!).sort()).toEqual([
    'collection',
    'data',
    'delete',
    'insert',
    'update',
    'withMutation',
  ]);
  api!.insert([todo(1), todo(2)]);
  await settle();
  expect(el.querySelector('#ids')!.textContent).toBe('t1,t2');
  api!.withMutation(() => {
    api!.update('t1', { title: 'x' });
    api!.delete('t2');
  });
  await settle();
  expect(el.querySelector('#ids')!.textContent).toBe('t1');
  expect(api!.data().t1!.title).toBe('x');
  expect(el.querySelector('#txs')!.textContent).toBe('completed,completed');
});

test('a query builder reading a signal re-targets the live query; status reads do not suspend', async () => {
  const client = localClient();
  client.collection<Todo>({ id: 'todos' }).insert([todo(1), todo(2, { completed: true }), todo(3)]);
  const [done, setDone] = createSignal(false);
  let status: (() => string) | undefined;
  const el = show(client, () => {
    const rows = useLiveQuery((qb) => qb<Todo>('todos').where({ completed: done() }).orderBy('n'));
    status = () => rows.status;
    return h('p', () =>
      rows()
        .map((t) => t.id)
        .join(','),
    );
  });
  expect(el.textContent).toBe('t1,t3');
  setDone(true);
  await settle();
  expect(el.textContent).toBe('t2');
  expect(status!()).toBe('ready');
});

const appState = defineState({ todos: { _source: 'local', _type: [] as Todo[] } });

test('useOmni: toggling one row of 1,000 re-runs that row only, not the list', async () => {
  const client = localClient();
  const state = createState(client, appState);
  state.todos.insert(Array.from({ length: 1000 }, (_, i) => todo(i)));
  await settle();
  const rowRuns = new Map<string, number>();
  let listRuns = 0;
  function Row(props: { item: Todo }) {
    const t = useOmni(props.item, (t) => {
      rowRuns.set(t.id, (rowRuns.get(t.id) ?? 0) + 1);
      return { title: t.title, completed: t.completed };
    });
    return h('li', [
      h('input', {
        type: 'checkbox',
        'aria-label': () => t().title,
        checked: () => t().completed,
        onChange: () => (props.item.completed = !props.item.completed),
      }),
      () => t().title,
    ]);
  }
  const el = show(
    client,
    () => {
      const rows = useOmni((s: typeof state) => {
        listRuns++;
        return s.todos.orderBy('n').map((t) => t);
      });
      return h(
        'ul',
        createComponent(For<readonly Todo[], JSX.Element>, {
          get each() {
            return rows();
          },
          children: (item: Todo) => createComponent(Row, { item }),
        }),
      );
    },
    state,
  );
  await settle();
  expect(el.querySelectorAll('li')).toHaveLength(1000);
  const listMounted = listRuns;
  rowRuns.clear();
  const box = el.querySelector('input[aria-label="Todo 500"]') as HTMLInputElement;
  box.click();
  await settle();
  expect(client.getCollection<Todo>('todos')!.get('t500')!.completed).toBe(true);
  expect(box.checked).toBe(true);
  expect([...rowRuns]).toEqual([['t500', 1]]);
  expect(listRuns).toBe(listMounted);

  rowRuns.clear();
  client.getCollection<Todo>('todos')!.update('t7', { title: 'seven' });
  await settle();
  expect([...rowRuns]).toEqual([['t7', 1]]);
  expect(el.querySelector('input[aria-label="seven"]')).not.toBeNull();
  expect(listRuns).toBe(listMounted);

  rowRuns.clear();
  state.todos.insert(todo(1000));
  await settle();
  expect(listRuns).toBe(listMounted + 1);
  expect([...rowRuns]).toEqual([['t1000', 1]]);
});

test('outside a provider, a primitive fails with a clear message', () => {
  const el = document.createElement('div');
  expect(() =>
    render(() => {
      useLiveQuery(q('todos'));
      return null;
    }, el),
  ).toThrow(/inside <OmniSyncProvider/);
});

test('a dehydrate() snapshot is applied before the children render: rows, no suspending', async () => {
  const server = localClient();
  server.collection<Todo>({ id: 'todos' }).insert([todo(1), todo(2)]);
  await settle();
  const snapshot = JSON.parse(JSON.stringify(dehydrate(server)));
  const browser = createClient({ clientId: 'solid-held', onError: () => {} });
  browser.collection<Todo>({ id: 'todos', sync: { id: 'todos', setup: () => new Promise(() => {}) } });
  const el = document.createElement('div');
  const dispose = render(
    () =>
      createComponent(OmniSyncProvider, {
        client: browser,
        snapshot,
        get children() {
          return createComponent(Suspense, {
            fallback: 'loading',
            get children() {
              const rows = useLiveQuery((qb) => qb<Todo>('todos').orderBy('n'));
              return h('p', () =>
                rows()
                  .map((t) => t.id)
                  .join(','),
              );
            },
          });
        },
      }),
    el,
  );
  mounted.push(dispose);
  expect(el.textContent).toBe('t1,t2');
});

test("meta(node) read by useOmni follows a real server's held-back first answer: loading, then ready", async () => {
  const held = await heldServerClient();
  try {
    const spec = defineState({ items: { _source: 'server', _type: [] as ConformanceRow[] } });
    const el = show(
      held.client,
      () => {
        const status = useOmni((s: StateOf<typeof spec>) => {
          const m = meta(s.items);
          return m.status === 'ready' ? `ready:${s.items.length}` : m.status;
        });
        return h('p', () => status());
      },
      spec,
    );
    await settle();
    expect(el.textContent).toBe('loading');
    held.release();
    await held.client.getCollection('items')!.ready;
    for (const more = upTo(15_000); more() && el.textContent === 'loading';) await settle();
    expect(el.textContent).toBe('ready:3');
  } finally {
    await held.client.close();
    await held.close();
  }
});

test("useSignal(client.server.status) shows a real server's sync status: a held write is pending, then acknowledged", async () => {
  const held = await heldServerClient();
  try {
    const el = show(held.client, () => {
      const status = useSignal(held.client.server!.status);
      return h('p', () => `online:${status().online} pending:${status().pending}`);
    });
    held.client.getCollection('items')!.insert({ id: 'new', title: 'New', done: false, n: 9 });
    for (const more = upTo(15_000); more() && el.textContent !== 'online:false pending:1';) await settle();
    expect(el.textContent).toBe('online:false pending:1');
    held.release();
    for (const more = upTo(15_000); more() && el.textContent !== 'online:true pending:0';) await settle();
    expect(el.textContent).toBe('online:true pending:0');
  } finally {
    await held.client.close();
    await held.close();
  }
});
