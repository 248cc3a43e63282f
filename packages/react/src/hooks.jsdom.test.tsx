// @vitest-environment jsdom
/**
 * The hooks in React DOM under jsdom (a DOM stand-in: the real-browser runs are in
 * examples/todo/test/*.browser.test.ts).
 */
import {
  type Client,
  createClient,
  createState,
  defineState,
  type PersistRequest,
  type Source,
  type SourceContext,
} from '@omnisync/client';
import { q, seededRandom } from '@omnisync/core';
import { act, cleanup, fireEvent, render, screen } from '@testing-library/react';
import { memo, Profiler, type ProfilerOnRenderCallback, Suspense, useState } from 'react';
import { afterEach, describe, expect, it } from 'vitest';
import {
  OmniErrorBoundary,
  OmniSyncProvider,
  useCollection,
  useLiveQuery,
  useOmni,
  useTransactions,
} from './index.js';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
afterEach(cleanup);

type Todo = { id: string; title: string; completed: boolean; n: number };
const todo = (n: number, over: Partial<Todo> = {}): Todo => ({
  id: `t${n}`,
  title: `Todo ${n}`,
  completed: false,
  n,
  ...over,
});

/** A remote source the test starts (and fails) by hand. */
function gatedSource() {
  let ctx: SourceContext | undefined;
  let open!: () => void;
  let fail!: (e: Error) => void;
  const gate = new Promise<void>((res, rej) => {
    open = res;
    fail = rej;
  });
  const persisted: PersistRequest[] = [];
  const source: Source = {
    id: 'gated',
    kind: 'remote',
    async start(c) {
      ctx = c;
      await gate;
    },
    persist: async (req) => {
      persisted.push(req);
    },
  };
  return {
    source,
    persisted,
    deliver: (docs: Todo[]) => ctx!.applyDocuments('todos', docs),
    open: () => open(),
    fail: (e: Error) => fail(e),
  };
}

const flush = () => act(async () => new Promise((r) => setTimeout(r, 0)));

function localClient(): Client {
  return createClient({ random: seededRandom(1), clientId: 'jsdom' });
}

describe('useLiveQuery (jsdom)', () => {
  it('suspends on one promise while loading, renders, then follows inserts and updates', async () => {
    const client = localClient();
    const g = gatedSource();
    const todos = client.collection<Todo>({ id: 'todos', source: g.source });
    const thrown = new Set<unknown>();
    let renders = 0;
    function List() {
      renders++;
      let rows: readonly Todo[];
      try {
        rows = useLiveQuery((qb) => qb<Todo>('todos').where({ completed: false }).orderBy('n'));
      } catch (p) {
        thrown.add(p);
        throw p;
      }
      return (
        <ul>
          {rows.map((t) => (
            <li key={t.id}>{t.title}</li>
          ))}
        </ul>
      );
    }
    render(
      <OmniSyncProvider client={client}>
        <Suspense fallback={<p>loading</p>}>
          <List />
        </Suspense>
      </OmniSyncProvider>,
    );
    expect(screen.getByText('loading')).toBeTruthy();
    await flush();
    await flush();
    expect(screen.getByText('loading')).toBeTruthy();
    expect(thrown.size).toBe(1); // every suspended render threw the same promise
    expect(renders).toBeGreaterThanOrEqual(1);
    await act(async () => {
      g.deliver([todo(2), todo(1), todo(3, { completed: true })]);
      g.open();
    });
    await flush();
    expect(screen.getAllByRole('listitem').map((li) => li.textContent)).toEqual(['Todo 1', 'Todo 2']);
    await act(async () => {
      todos.insert(todo(0));
    });
    expect(screen.getAllByRole('listitem').map((li) => li.textContent)).toEqual([
      'Todo 0',
      'Todo 1',
      'Todo 2',
    ]);
    await act(async () => {
      todos.update('t1', { completed: true });
    });
    expect(screen.getAllByRole('listitem').map((li) => li.textContent)).toEqual(['Todo 0', 'Todo 2']);
  });

  it('a query whose source failed reaches the nearest error boundary', async () => {
    const client = createClient({ onError: () => {} });
    client.events.on('sync.error:action', () => {});
    const g = gatedSource();
    client.collection<Todo>({ id: 'todos', source: g.source });
    function List() {
      const rows = useLiveQuery(q<Todo>('todos'));
      return <p>{rows.length} rows</p>;
    }
    const onError = console.error;
    console.error = () => {}; // React logs caught render errors
    try {
      render(
        <OmniSyncProvider client={client}>
          <OmniErrorBoundary fallback={(e) => <p role="alert">failed: {e.message}</p>}>
            <Suspense fallback={<p>loading</p>}>
              <List />
            </Suspense>
          </OmniErrorBoundary>
        </OmniSyncProvider>,
      );
      await act(async () => g.fail(new Error('backend is down')));
      await flush();
      expect(screen.getByRole('alert').textContent).toBe('failed: backend is down');
    } finally {
      console.error = onError;
    }
  });

  it('outside a provider, hooks fail with a clear message', () => {
    function Bad() {
      useLiveQuery(q('todos'));
      return null;
    }
    const onError = console.error;
    console.error = () => {};
    try {
      expect(() => render(<Bad />)).toThrow(/inside <OmniSyncProvider/);
    } finally {
      console.error = onError;
    }
  });
});

describe('useCollection and useTransactions (jsdom)', () => {
  it("returns seed 001's { data, insert, update, delete, withMutation } and re-renders on writes", async () => {
    const client = localClient();
    let api: ReturnType<typeof useCollection<Todo>> | undefined;
    function App() {
      const c = useCollection<Todo>({ id: 'todos' });
      api = c;
      const txs = useTransactions();
      return (
        <div>
          <p data-testid="ids">{Object.keys(c.data).sort().join(',')}</p>
          <p data-testid="txs">{txs.map((t) => t.state).join(',')}</p>
        </div>
      );
    }
    render(
      <OmniSyncProvider client={client}>
        <App />
      </OmniSyncProvider>,
    );
    expect(Object.keys(api!).sort()).toEqual([
      'collection',
      'data',
      'delete',
      'insert',
      'update',
      'withMutation',
    ]);
    await act(async () => {
      api!.insert([todo(1), todo(2)]);
    });
    expect(screen.getByTestId('ids').textContent).toBe('t1,t2');
    await act(async () => {
      api!.withMutation(() => {
        api!.update('t1', { title: 'x' });
        api!.delete('t2');
      });
    });
    expect(screen.getByTestId('ids').textContent).toBe('t1');
    expect(api!.data.t1!.title).toBe('x');
    await flush();
    expect(screen.getByTestId('txs').textContent).toBe('completed,completed');
  });
});

const appState = defineState({
  ui: { filter: 'all' },
  todos: { _source: 'local', _type: [] as Todo[] },
});

describe('useOmni (jsdom)', () => {
  it('toggling one row of a 1,000-row list re-renders only that row (React Profiler counts)', async () => {
    const client = localClient();
    const state = createState(client, appState);
    state.todos.insert(Array.from({ length: 1000 }, (_, i) => todo(i)));
    await flush();

    const rowRenders = new Map<string, number>();
    let listRenders = 0;
    const onRender: ProfilerOnRenderCallback = (id) => rowRenders.set(id, (rowRenders.get(id) ?? 0) + 1);

    // The Profiler sits inside the row: it commits only when the row itself renders (a
    // parent re-render that the memo skips does not reach it).
    const Row = memo(function Row({ item }: { item: Todo }) {
      const t = useOmni(item);
      return (
        <Profiler id={t.id} onRender={onRender}>
          <li>
            <input
              type="checkbox"
              aria-label={t.title}
              checked={t.completed}
              onChange={() => {
                t.completed = !t.completed;
              }}
            />
            {t.title}
          </li>
        </Profiler>
      );
    });
    function List() {
      listRenders++;
      const s = useOmni<typeof state>();
      const rows = s.todos.orderBy('n');
      return (
        <ul>
          {rows.map((t) => (
            <Row key={t.id} item={t} />
          ))}
        </ul>
      );
    }
    render(
      <OmniSyncProvider client={client} state={state}>
        <Suspense fallback={<p>loading</p>}>
          <List />
        </Suspense>
      </OmniSyncProvider>,
    );
    await flush();
    expect(screen.getAllByRole('checkbox')).toHaveLength(1000);
    const mountedList = listRenders;
    rowRenders.clear();

    const box = screen.getByRole('checkbox', { name: 'Todo 500' }) as HTMLInputElement;
    await act(async () => {
      fireEvent.click(box);
    });
    await flush();
    expect(box.checked).toBe(true);
    expect(client.getCollection<Todo>('todos')!.get('t500')!.completed).toBe(true);
    expect([...rowRenders]).toEqual([['t500', 1]]);
    expect(listRenders).toBe(mountedList);

    // A write from elsewhere (not through this row) reaches that row only, too.
    rowRenders.clear();
    await act(async () => {
      client.getCollection<Todo>('todos')!.update('t7', { title: 'seven' });
    });
    expect([...rowRenders]).toEqual([['t7', 1]]);
    expect(screen.getByRole('checkbox', { name: 'seven' })).toBeTruthy();
    expect(listRenders).toBe(mountedList);

    // Membership changes re-render the list (and mount only the new row).
    rowRenders.clear();
    await act(async () => {
      state.todos.insert(todo(1000));
    });
    expect(listRenders).toBe(mountedList + 1);
    expect([...rowRenders]).toEqual([['t1000', 1]]);
  });

  it('a memoised child that reads a row without observing it itself still shows changes (the parent re-renders it)', async () => {
    const client = localClient();
    const state = createState(client, appState);
    state.todos.insert([todo(1), todo(2)]);
    await flush();
    const Plain = memo(function Plain({ item }: { item: Todo }) {
      return <li data-testid="plain">{`${item.title}:${item.completed}`}</li>;
    });
    function List() {
      const s = useOmni<typeof state>();
      return (
        <ul>
          {s.todos.orderBy('n').map((t) => (
            <Plain key={t.id} item={t} />
          ))}
        </ul>
      );
    }
    render(
      <OmniSyncProvider client={client} state={state}>
        <Suspense fallback={null}>
          <List />
        </Suspense>
      </OmniSyncProvider>,
    );
    await flush();
    expect(screen.getAllByTestId('plain').map((e) => e.textContent)).toEqual([
      'Todo 1:false',
      'Todo 2:false',
    ]);
    await act(async () => {
      state.todos.get('t2')!.completed = true;
    });
    expect(screen.getAllByTestId('plain').map((e) => e.textContent)).toEqual(['Todo 1:false', 'Todo 2:true']);
  });

  it('local state: a component re-renders only for the values it read', async () => {
    const client = localClient();
    const state = createState(client, appState);
    let renders = 0;
    function Filter() {
      renders++;
      const s = useOmni<typeof state>();
      const [, force] = useState(0);
      void force;
      return <p data-testid="filter">{s.ui.filter}</p>;
    }
    render(
      <OmniSyncProvider client={client} state={appState}>
        <Filter />
      </OmniSyncProvider>,
    );
    const before = renders;
    await act(async () => {
      state.todos.insert(todo(1)); // not read by Filter
    });
    expect(renders).toBe(before);
    await act(async () => {
      state.ui.filter = 'active';
    });
    expect(screen.getByTestId('filter').textContent).toBe('active');
    expect(renders).toBe(before + 1);
  });
});
