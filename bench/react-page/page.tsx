/**
 * The page of bench/react.bench.ts (built with Vite, run in Chromium): a 10,000-row todo
 * list rendered two ways, with render counts from React's Profiler and timings taken in
 * the page.
 *
 * - `useOmni`: the list observes the ids it shows, each row observes its own document.
 * - `useLiveQuery`: the list reads the live query's rows (row objects change only where a
 *   document changed) and passes them to memoised rows — the usual React pattern.
 */
import { createClient, createState, defineState, type Entity, type StateOf } from '@omnisync/client';
import { OmniSyncProvider, useLiveQuery, useOmni } from '@omnisync/react';
import { memo, Profiler, type ProfilerOnRenderCallback, Suspense } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { flushSync } from 'react-dom';

type Todo = { id: string; title: string; completed: boolean; n: number };
const spec = defineState({ todos: { _source: 'local', _type: [] as Todo[] } });
type S = StateOf<typeof spec>;

const counts = { rows: 0, list: 0, rowIds: new Set<string>() };
const onRow: ProfilerOnRenderCallback = (id) => {
  counts.rows++;
  counts.rowIds.add(id);
};
const onList: ProfilerOnRenderCallback = (_id, phase) => {
  // The list's Profiler also commits when only a row inside it updated: count the list's own renders in its body.
  void phase;
};

const OmniRow = memo(function OmniRow({ item }: { item: Entity<Todo> }) {
  const t = useOmni(item);
  return (
    <Profiler id={t.id} onRender={onRow}>
      <li id={t.id} className={t.completed ? 'done' : ''}>
        <input type="checkbox" readOnly checked={t.completed} />
        {t.title}
      </li>
    </Profiler>
  );
});

function OmniList() {
  counts.list++;
  const state = useOmni<S>();
  const rows = state.todos.orderBy('n');
  return (
    <ul>
      {rows.map((t) => (
        <OmniRow key={t.id} item={t} />
      ))}
    </ul>
  );
}

const PlainRow = memo(function PlainRow({ t }: { t: Todo }) {
  return (
    <Profiler id={t.id} onRender={onRow}>
      <li id={t.id} className={t.completed ? 'done' : ''}>
        <input type="checkbox" readOnly checked={t.completed} />
        {t.title}
      </li>
    </Profiler>
  );
});

function LiveQueryList() {
  counts.list++;
  const rows = useLiveQuery((q) => q<Todo>('todos').orderBy('n'));
  return (
    <ul>
      {rows.map((t) => (
        <PlainRow key={t.id} t={t} />
      ))}
    </ul>
  );
}

let root: Root | undefined;
let state: S | undefined;

const nextFrame = () => new Promise<number>((r) => requestAnimationFrame(() => r(performance.now())));

/** What the bench drives. */
const bench = {
  /** Mount a fresh list of `n` rows; resolves with the mount time (ms, write → painted frame). */
  async mount(kind: 'omni' | 'livequery', n: number): Promise<{ mountMs: number; rows: number }> {
    root?.unmount();
    document.body.innerHTML = '<div id="root"></div>';
    const client = createClient({ clientId: 'bench' });
    state = createState(client, spec);
    state.todos.insert(
      Array.from({ length: n }, (_, i) => ({ id: `t${i}`, title: `Todo ${i}`, completed: false, n: i })),
    );
    await client.ready;
    await new Promise((r) => setTimeout(r, 0));
    const t0 = performance.now();
    root = createRoot(document.getElementById('root')!);
    flushSync(() =>
      root!.render(
        <OmniSyncProvider client={client} state={state!}>
          <Suspense fallback={<p>loading</p>}>
            <Profiler id="list" onRender={onList}>
              {kind === 'omni' ? <OmniList /> : <LiveQueryList />}
            </Profiler>
          </Suspense>
        </OmniSyncProvider>,
      ),
    );
    // The data is local and ready: the first commit shows every row.
    const t1 = await nextFrame();
    return { mountMs: t1 - t0, rows: document.querySelectorAll('li').length };
  },

  /**
   * Toggle row `i` by assignment; resolves with what re-rendered and how long it took:
   * write → DOM committed, and write → the animation frame that paints it.
   */
  async toggle(i: number): Promise<{
    rowRenders: number;
    rowIds: string[];
    listRenders: number;
    writeMs: number;
    commitMs: number;
    frameMs: number;
  }> {
    await nextFrame(); // start on a fresh frame: no earlier work pending
    counts.rows = 0;
    counts.list = 0;
    counts.rowIds.clear();
    const id = `t${i}`;
    const el = document.getElementById(id)!;
    const before = el.className;
    const committed = new Promise<number>((resolve) => {
      const mo = new MutationObserver(() => {
        if (el.className !== before) {
          mo.disconnect();
          resolve(performance.now());
        }
      });
      mo.observe(el, { attributes: true });
    });
    const t0 = performance.now();
    const todo = state!.todos.get(id)!;
    todo.completed = !todo.completed;
    const tw = performance.now();
    const frame = nextFrame();
    const [tc, tf] = await Promise.all([committed, frame]);
    return {
      rowRenders: counts.rows,
      rowIds: [...counts.rowIds],
      listRenders: counts.list,
      writeMs: tw - t0,
      commitMs: tc - t0,
      frameMs: tf - t0,
    };
  },
};

(window as unknown as { bench: typeof bench }).bench = bench;
document.title = 'ready';
