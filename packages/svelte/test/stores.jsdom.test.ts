// @vitest-environment jsdom
/**
 * The Svelte stores beyond the conformance list: collectionStore and transactionsStore read
 * as `$store` (the store contract), omniStore's per-row re-running, and the context error.
 */
import { type Client, createClient, createState, defineState, dehydrate, meta } from '@omnisync/client';
import type { ConformanceRow } from '@omnisync/client/testing';
import { heldServerClient } from '../../client/test/adapter-server.js';
import { q, seededRandom } from '@omnisync/core';
import { flushSync, mount, unmount } from 'svelte';
import { get } from 'svelte/store';
import { afterEach, expect, test } from 'vitest';
import { omniStore, queryStore, signalStore } from '../src/index.js';
import { loadSvelte } from './svelte-loader.js';

type Todo = { id: string; title: string; completed: boolean; n: number };
const todo = (n: number, over: Partial<Todo> = {}): Todo => ({
  id: `t${n}`,
  title: `Todo ${n}`,
  completed: false,
  n,
  ...over,
});
const localClient = (): Client => createClient({ random: seededRandom(1), clientId: 'svelte' });

const mounted: (() => void)[] = [];
afterEach(() => {
  for (const u of mounted.splice(0)) u();
});
async function show(files: Record<string, string>, entry: string, props: Record<string, unknown>) {
  const C = await loadSvelte(files, entry);
  const el = document.createElement('div');
  document.body.appendChild(el);
  const app = mount(C, { target: el, props });
  flushSync();
  mounted.push(() => {
    void unmount(app);
    el.remove();
  });
  return el;
}
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    await new Promise((r) => setTimeout(r, 0));
    flushSync();
  }
};

/** True until `ms` from now: polls end by time, not by a count of turns (the machine is loaded). */
const upTo = (ms: number) => {
  const end = Date.now() + ms;
  return () => Date.now() < end;
};

test("collectionStore ($store) has seed 001's writes; transactionsStore follows them", async () => {
  const client = localClient();
  const api: { current?: any } = {};
  const el = await show(
    {
      'Coll.svelte': `<script>
  import { collectionStore, setOmniSync, transactionsStore } from '@omnisync/svelte';
  let { client, api } = $props();
  setOmniSync(client);
  const todos = collectionStore({ id: 'todos' });
  const txs = transactionsStore();
  api.current = todos;
</script>
<p id="ids">{Object.keys($todos).sort().join(',')}</p>
<p id="txs">{$txs.map((t) => t.state).join(',')}</p>`,
    },
    'Coll.svelte',
    { client, api },
  );
  const todos = api.current;
  expect(Object.keys(todos).sort()).toEqual([
    'collection',
    'current',
    'delete',
    'insert',
    'subscribe',
    'update',
    'withMutation',
  ]);
  todos.insert([todo(1), todo(2)]);
  await settle();
  expect(el.querySelector('#ids')!.textContent).toBe('t1,t2');
  todos.withMutation(() => {
    todos.update('t1', { title: 'x' });
    todos.delete('t2');
  });
  await settle();
  expect(el.querySelector('#ids')!.textContent).toBe('t1');
  expect(todos.current.t1.title).toBe('x');
  expect(el.querySelector('#txs')!.textContent).toBe('completed,completed');
});

const appState = defineState({ todos: { _source: 'local', _type: [] as Todo[] } });

test('omniStore: toggling one row of 1,000 re-runs that row only, not the list', async () => {
  const client = localClient();
  const state = createState(client, appState);
  state.todos.insert(Array.from({ length: 1000 }, (_, i) => todo(i)));
  await settle();
  const runs = { list: 0, rows: new Map<string, number>() };
  const el = await show(
    {
      'Row.svelte': `<script>
  import { omniStore } from '@omnisync/svelte';
  let { item, runs } = $props();
  const t = omniStore(item, (t) => {
    runs.rows.set(t.id, (runs.rows.get(t.id) ?? 0) + 1);
    return { id: t.id, title: t.title, completed: t.completed };
  });
</script>
<li><input type="checkbox" aria-label={t.current.title} checked={t.current.completed}
  onchange={() => (item.completed = !item.completed)} />{t.current.title}</li>`,
      'List.svelte': `<script>
  import { omniStore, setOmniSync } from '@omnisync/svelte';
  import Row from './Row.svelte';
  let { client, state, runs } = $props();
  setOmniSync(client, { state });
  const rows = omniStore((s) => {
    runs.list++;
    return s.todos.orderBy('n').map((t) => t);
  });
</script>
<ul>{#each rows.current as item (item.id)}<Row {item} {runs} />{/each}</ul>`,
    },
    'List.svelte',
    { client, state, runs },
  );
  await settle();
  expect(el.querySelectorAll('li')).toHaveLength(1000);
  const listRuns = runs.list;
  runs.rows.clear();
  const box = el.querySelector('input[aria-label="Todo 500"]') as HTMLInputElement;
  box.click();
  await settle();
  expect(client.getCollection<Todo>('todos')!.get('t500')!.completed).toBe(true);
  expect(box.checked).toBe(true);
  expect([...runs.rows]).toEqual([['t500', 1]]);
  expect(runs.list).toBe(listRuns);

  runs.rows.clear();
  client.getCollection<Todo>('todos')!.update('t7', { title: 'seven' });
  await settle();
  expect([...runs.rows]).toEqual([['t7', 1]]);
  expect(el.querySelector('input[aria-label="seven"]')).not.toBeNull();
  expect(runs.list).toBe(listRuns);

  runs.rows.clear();
  state.todos.insert(todo(1000));
  await settle();
  expect(runs.list).toBe(listRuns + 1);
  expect([...runs.rows]).toEqual([['t1000', 1]]);
});

test('stores work outside components with an explicit client; signalStore follows a signal', async () => {
  const client = localClient();
  client.collection<Todo>({ id: 'todos' }).insert([todo(1)]);
  const open = queryStore((qb) => qb<Todo>('todos').where({ completed: false }), client);
  const seen: number[] = [];
  const off = open.subscribe((s) => seen.push(s.data.length));
  client.getCollection<Todo>('todos')!.insert(todo(2));
  await settle();
  off();
  expect(seen).toEqual([1, 2]);
  const txs = signalStore(client.transactions);
  expect(get(txs).length).toBe(2);
});

test('outside a component and without a client, a store fails with a clear message', () => {
  expect(() => queryStore(q('todos'))).toThrow(/below setOmniSync\(client\), or pass the client/);
  expect(() => omniStore((s) => s)).toThrow(/setOmniSync/);
});

test('a dehydrate() snapshot is applied by setOmniSync before anything renders: rows, no loading', async () => {
  const server = localClient();
  server.collection<Todo>({ id: 'todos' }).insert([todo(1), todo(2)]);
  await settle();
  const snapshot = JSON.parse(JSON.stringify(dehydrate(server)));
  const browser = createClient({ clientId: 'svelte-held', onError: () => {} });
  browser.collection<Todo>({ id: 'todos', sync: { id: 'todos', setup: () => new Promise(() => {}) } });
  const el = await show(
    {
      'Snap.svelte': `<script>
  import { queryStore, setOmniSync } from '@omnisync/svelte';
  let { client, snapshot } = $props();
  setOmniSync(client, { snapshot });
  const rows = queryStore((q) => q('todos').orderBy('n'));
</script>
<p>{rows.current.isLoading ? 'loading' : rows.current.data.map((t) => t.id).join(',')}</p>`,
    },
    'Snap.svelte',
    { client: browser, snapshot },
  );
  expect(el.textContent).toBe('t1,t2');
});

test("meta(node) read by omniStore follows a real server's held-back first answer: loading, then ready", async () => {
  const held = await heldServerClient();
  try {
    const spec = defineState({ items: { _source: 'server', _type: [] as ConformanceRow[] } });
    const el = await show(
      {
        'Meta.svelte': `<script>
  import { omniStore, setOmniSync } from '@omnisync/svelte';
  let { client, spec, meta } = $props();
  setOmniSync(client, { state: spec });
  const status = omniStore((s) => {
    const m = meta(s.items);
    return m.status === 'ready' ? 'ready:' + s.items.length : m.status;
  });
</script>
<p>{status.current}</p>`,
      },
      'Meta.svelte',
      { client: held.client, spec, meta },
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

test("signalStore(client.server.status) shows a real server's sync status: a held write is pending, then acknowledged", async () => {
  const held = await heldServerClient();
  try {
    const el = await show(
      {
        'Status.svelte': `<script>
  import { signalStore } from '@omnisync/svelte';
  let { client } = $props();
  const status = signalStore(client.server.status);
</script>
<p>online:{$status.online} pending:{$status.pending}</p>`,
      },
      'Status.svelte',
      { client: held.client },
    );
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
