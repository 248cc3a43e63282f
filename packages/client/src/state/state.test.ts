import { NotFoundError, SchemaError, ValidationError, seededRandom } from '@omnisync/core';
import { describe, expect, it } from 'vitest';
import { createClient } from '../client.js';
import { createMemoryPersistence, createMemoryPersistenceStore } from '../persistence/memory.js';
import type { PersistRequest, Source, SourceContext } from '../sources/types.js';
import { createTestScheduler } from '../testing/test-scheduler.js';
import { createState } from './create-state.js';
import { defineState } from './define-state.js';
import { META, meta } from './meta.js';
import { StateObserver } from './observer.js';
import { Omni } from './omni-write.js';
import { observeNode } from './state-runtime.js';
import { liveQuery } from './live.js';
import { effect, q } from '@omnisync/core';

type Todo = {
  id: string;
  title: string;
  completed: boolean;
  createdAt: number;
  meta?: { color?: string; size?: number };
};

/** A remote source whose start and persists the test settles by hand. */
function manualSource() {
  const persists: { req: PersistRequest; resolve: () => void; reject: (e: Error) => void }[] = [];
  let ctx: SourceContext | undefined;
  let startResolve!: () => void;
  let startReject!: (e: Error) => void;
  const started = new Promise<void>((res, rej) => {
    startResolve = res;
    startReject = rej;
  });
  const source: Source = {
    id: 'manual',
    kind: 'remote',
    async start(c) {
      ctx = c;
      await started;
    },
    persist: (req) =>
      new Promise<void>((resolve, reject) => {
        persists.push({ req, resolve, reject });
      }),
  };
  return {
    source,
    persists,
    /** Deliver the initial data and finish starting (the collection must exist: its source starts with it). */
    start: (docs?: Record<string, unknown>[]) => {
      if (!ctx) throw new Error('source not started yet: read the collection and settle first');
      if (docs) ctx.applyDocuments('todos', docs);
      startResolve();
    },
    fail: (e: Error) => startReject(e),
    get ctx() {
      return ctx!;
    },
  };
}

function setup(source: Source | 'local' = 'local') {
  const scheduler = createTestScheduler();
  const client = createClient({ scheduler, random: seededRandom(3), clientId: 'c1' });
  const def = defineState({
    ui: { theme: 'dark', sidebar: { open: false, width: 240 } },
    todos: { _source: source, _type: [] as Todo[] },
  });
  const state = createState(client, def);
  void state.todos.$collection; // create the collection: its source starts once the client is ready
  return { scheduler, client, state, def };
}

const todo = (id: string, over: Partial<Todo> = {}): Todo => ({
  id,
  title: `T${id}`,
  completed: false,
  createdAt: Number(id.replace(/\D/g, '')) || 0,
  ...over,
});

describe('defineState', () => {
  it('refuses malformed definitions with a SchemaError naming the node', () => {
    expect(() => defineState({ todos: { _source: 'local', _bogus: 1 } as never })).toThrow(
      /unknown key "_bogus"/,
    );
    expect(() =>
      defineState({ a: { _source: 'local', _collection: 'x' }, b: { _source: 'local', _collection: 'x' } }),
    ).toThrow(SchemaError);
    expect(() => defineState({ todos: { _source: 42 as never } })).toThrow(/_source must be/);
    expect(() => defineState({ 'bad name': { _source: 'local' } })).toThrow(/not a valid collection name/);
    expect(() => defineState({ todos: { _type: [], _options: { staleTime: -1 } } })).toThrow(/staleTime/);
    expect(() => defineState({ x: 3 as never })).toThrow(/must be an object/);
  });

  it('createState gives one state per (client, definition)', () => {
    const { client, state, def } = setup();
    expect(createState(client, def)).toBe(state);
    expect(() => createState(client, {} as never)).toThrow(SchemaError);
  });
});

describe('state proxy: collections', () => {
  it('identical queries are the same object (stable identity); different ones are not', () => {
    const { state } = setup();
    const a = state.todos.where({ completed: false });
    expect(state.todos.where({ completed: false })).toBe(a);
    expect(state.todos.where({ completed: false }).orderBy({ createdAt: 'desc' })).toBe(
      a.orderBy({ createdAt: 'desc' }),
    );
    expect(state.todos.where({ completed: true }) === a).toBe(false);
    expect(state.todos).toBe(state.todos);
    expect(a.$query.hash).toBe('todos:{"completed":false}');
  });

  it('reads like an array of documents, filtered, sorted and limited by the engine', async () => {
    const { state, scheduler } = setup();
    state.todos.insert([todo('t1'), todo('t2', { completed: true }), todo('t3')]);
    await scheduler.settle();
    expect(state.todos.length).toBe(3);
    expect(Array.isArray(state.todos)).toBe(true);
    const open = state.todos.where({ completed: false }).orderBy({ createdAt: 'desc' });
    expect(open.map((t) => t.id)).toEqual(['t3', 't1']);
    expect(open[0]!.title).toBe('Tt3');
    expect([...open].map((t) => t.createdAt)).toEqual([3, 1]);
    expect(
      state.todos
        .orderBy('createdAt')
        .limit(2)
        .offset(1)
        .map((t) => t.id),
    ).toEqual(['t2', 't3']);
    expect(JSON.parse(JSON.stringify(open[1]))).toEqual(todo('t1'));
    expect({ ...open[1]! }).toEqual(todo('t1'));
    expect(state.todos.get('t2')?.completed).toBe(true);
    expect(state.todos.get('nope')).toBeUndefined();
  });

  it('an assignment is an optimistic update: the document changes and leaves non-matching queries at once', async () => {
    const { state, client, scheduler } = setup();
    state.todos.insert([todo('t1'), todo('t2')]);
    await scheduler.settle();
    const open = state.todos.where({ completed: false });
    const t1 = open.find((t) => t.id === 't1')!;
    t1.completed = !t1.completed;
    expect(client.getCollection<Todo>('todos')!.get('t1')!.completed).toBe(true);
    expect(open.map((t) => t.id)).toEqual(['t2']);
    expect(state.todos.where({ completed: true }).map((t) => t.id)).toEqual(['t1']);
    const last = client.transactions.peek().at(-1)!;
    expect(last.mutations[0]).toMatchObject({ type: 'update', key: 't1', changes: { completed: true } });
    await scheduler.settle();
    expect(last.state).toBe('completed');
  });

  it('nested objects are proxies: assigning a nested field merges it; delete unsets', async () => {
    const { state, client, scheduler } = setup();
    state.todos.insert(todo('t1', { meta: { color: 'red', size: 1 } }));
    const t = state.todos.get('t1')!;
    t.meta!.color = 'blue';
    expect(client.getCollection<Todo>('todos')!.get('t1')!.meta).toEqual({ color: 'blue', size: 1 });
    delete t.meta!.size;
    expect(client.getCollection<Todo>('todos')!.get('t1')!.meta).toEqual({ color: 'blue' });
    t.title = 'renamed';
    expect(state.todos.get('t1')!.title).toBe('renamed');
    await scheduler.settle();
    expect(() => {
      (t as { id: string }).id = 'other';
    }).toThrow(ValidationError);
  });

  it('queries are read-only; writes to unknown documents fail with NotFoundError', () => {
    const { state } = setup();
    expect(() => {
      (state.todos as unknown as Record<number, unknown>)[0] = todo('x');
    }).toThrow(ValidationError);
    expect(() => state.todos.update('missing', { title: 'x' })).toThrow(NotFoundError);
  });
});

describe('state proxy: local state', () => {
  it('reads initial values, writes at any depth, replaces only the path written', () => {
    const { state } = setup();
    expect(state.ui.theme).toBe('dark');
    expect(state.ui.sidebar.width).toBe(240);
    state.ui.sidebar.open = true;
    expect(state.ui.sidebar.open).toBe(true);
    state.ui.theme = 'light';
    expect(JSON.parse(JSON.stringify(state.ui))).toEqual({
      theme: 'light',
      sidebar: { open: true, width: 240 },
    });
    state.ui = { theme: 'solar', sidebar: { open: false, width: 100 } };
    expect(state.ui.sidebar.width).toBe(100);
    expect(() => {
      (state.ui as Record<string, unknown>).fn = () => 1;
    }).toThrow(ValidationError);
    expect(meta(state.ui)).toMatchObject({ status: 'ready', isDirty: false });
    expect(meta(state.ui).lastUpdated).toBeGreaterThan(0);
  });

  it('a persisted local node survives a restart of the client', async () => {
    const store = createMemoryPersistenceStore();
    const def = defineState({ prefs: { lang: 'en', _options: { persist: true } } });
    const scheduler = createTestScheduler();
    const c1 = createClient({ scheduler, persistence: createMemoryPersistence({ store }), clientId: 'p1' });
    const s1 = createState(c1, def);
    await c1.ready;
    s1.prefs.lang = 'fr';
    await scheduler.settle();
    await c1.flush();
    await c1.close();
    const c2 = createClient({ scheduler, persistence: createMemoryPersistence({ store }), clientId: 'p1' });
    const s2 = createState(c2, def);
    expect(s2.prefs.lang).toBe('en'); // before persistence loaded: the initial value
    await c2.ready;
    await scheduler.settle();
    expect(s2.prefs.lang).toBe('fr');
  });
});

describe('META and meta()', () => {
  it('a document is dirty while its write is unconfirmed; a query says ready, lastUpdated moves', async () => {
    const m = manualSource();
    const { state, scheduler } = setup(m.source);
    await scheduler.settle();
    m.start([todo('t1')]);
    await scheduler.settle();
    const list = state.todos;
    expect(meta(list)).toMatchObject({ status: 'ready', error: null, isDirty: false });
    const t1 = list[0]!;
    expect(t1[META].isDirty).toBe(false);
    t1.title = 'x';
    expect(meta(t1).isDirty).toBe(true);
    expect(meta(list).isDirty).toBe(true);
    expect(meta(list).lastUpdated).toBeGreaterThan(0);
    await scheduler.settle();
    expect(m.persists).toHaveLength(1);
    m.persists[0]!.resolve();
    await scheduler.settle();
    expect(meta(t1).isDirty).toBe(false);
    expect(() => meta({})).toThrow(ValidationError);
  });
});

describe('Suspense and errors', () => {
  it('reading a loading collection throws the same promise each time, then the data', async () => {
    const m = manualSource();
    const { state, scheduler } = setup(m.source);
    let p1: unknown;
    let p2: unknown;
    try {
      void state.todos.length;
    } catch (e) {
      p1 = e;
    }
    try {
      state.todos.map((t) => t.id);
    } catch (e) {
      p2 = e;
    }
    expect(p1).toBeInstanceOf(Promise);
    expect(p2).toBe(p1);
    expect(meta(state.todos).status).toBe('loading');
    await scheduler.settle();
    m.start([todo('t1')]);
    await scheduler.settle();
    await p1;
    expect(state.todos.map((t) => t.id)).toEqual(['t1']);
  });

  it('data loaded from persistence shows without waiting for the source (local first, offline too)', async () => {
    const store = createMemoryPersistenceStore();
    const def = defineState({ todos: { _source: 'server' as const, _type: [] as Todo[] } });
    const scheduler = createTestScheduler();
    const open = (source: Source) => {
      const client = createClient({
        scheduler,
        persistence: createMemoryPersistence({ store }),
        clientId: 'lf',
      });
      client.collection({ id: 'todos', source });
      return { client, state: createState(client, def) };
    };
    const m1 = manualSource();
    const first = open(m1.source);
    await scheduler.settle();
    m1.start([todo('t1'), todo('t2')]);
    await scheduler.settle();
    await first.client.flush();
    await first.client.close();

    const m2 = manualSource(); // never delivers: the server is unreachable
    const second = open(m2.source);
    expect(() => second.state.todos.length).toThrow(Promise as never); // persistence not loaded yet
    await second.client.ready;
    await scheduler.settle();
    expect(second.state.todos.map((t) => t.id).sort()).toEqual(['t1', 't2']);
    expect(meta(second.state.todos).status).toBe('ready');
  });

  it('a source that fails to start makes its queries throw the error', async () => {
    const m = manualSource();
    const { state, scheduler, client } = setup(m.source);
    client.events.on('sync.error:action', () => {});
    expect(() => state.todos.length).toThrow(Promise as never);
    m.fail(new Error('backend down'));
    await scheduler.settle();
    expect(() => state.todos.length).toThrow(/backend down/);
    expect(meta(state.todos)).toMatchObject({ status: 'error' });
  });
});

describe('Omni.write', () => {
  it('optimistic: false shows nothing until the backend confirms, then the confirmed value', async () => {
    const m = manualSource();
    const { state, scheduler } = setup(m.source);
    await scheduler.settle();
    m.start([todo('t1')]);
    await scheduler.settle();
    const t1 = state.todos.get('t1')!;
    const done = Omni.write(
      () => {
        t1.title = 'server says';
      },
      { optimistic: false },
    );
    expect(state.todos.get('t1')!.title).toBe('Tt1');
    await scheduler.settle();
    expect(m.persists).toHaveLength(1);
    expect(state.todos.get('t1')!.title).toBe('Tt1');
    m.persists[0]!.resolve();
    const txs = await done;
    expect(txs).toHaveLength(1);
    expect(txs[0]!.state).toBe('completed');
    expect(state.todos.get('t1')!.title).toBe('server says');
  });

  it('groups writes into one transaction; a failure rejects and rolls back', async () => {
    const m = manualSource();
    const { state, scheduler, client } = setup(m.source);
    client.events.on('sync.error:action', () => {});
    await scheduler.settle();
    m.start([todo('t1'), todo('t2')]);
    await scheduler.settle();
    const [a, b] = [state.todos.get('t1')!, state.todos.get('t2')!];
    const done = Omni.write(() => {
      a.completed = true;
      b.completed = true;
    });
    expect(state.todos.where({ completed: true }).length).toBe(2);
    await scheduler.settle();
    expect(m.persists).toHaveLength(1);
    expect(Object.keys(m.persists[0]!.req.changes).sort()).toEqual(['t1', 't2']);
    const { NonRetriableError } = await import('@omnisync/core');
    m.persists[0]!.reject(new NonRetriableError('nope'));
    await expect(done).rejects.toThrow('nope');
    expect(state.todos.where({ completed: true }).length).toBe(0);
  });

  it('refuses nesting and async functions', async () => {
    let inner: Promise<unknown> | undefined;
    await Omni.write(() => {
      inner = Omni.write(() => {});
    });
    await expect(inner).rejects.toThrow(/cannot be nested/);
    await expect(Omni.write((async () => {}) as never)).rejects.toThrow(/synchronous/);
  });
});

describe('observers (what UI adapters sit on)', () => {
  it('a list observer is notified when ids change, not when a field of a row changes; the row observer is', async () => {
    const { state, scheduler } = setup();
    state.todos.insert([todo('t1'), todo('t2')]);
    await scheduler.settle();
    const listObs = new StateObserver();
    const rowObs = new StateObserver();
    let listBumps = 0;
    let rowBumps = 0;
    listObs.subscribe(() => listBumps++);
    rowObs.subscribe(() => rowBumps++);

    listObs.begin();
    const list = observeNode(state, listObs).todos.orderBy('createdAt');
    const rows = list.map((t) => t);
    listObs.end();

    rowObs.begin();
    const row = observeNode(rows[1]!, rowObs);
    expect(row.completed).toBe(false);
    rowObs.end();

    state.todos.get('t1')!.completed = true; // another row
    await scheduler.settle();
    expect([listBumps, rowBumps]).toEqual([0, 0]);

    state.todos.get('t2')!.title = 'retitled'; // a field the row did not read
    await scheduler.settle();
    expect(rowBumps).toBe(0);

    state.todos.get('t2')!.completed = true; // the field the row read
    await scheduler.settle();
    expect([listBumps, rowBumps]).toEqual([0, 1]);

    state.todos.insert(todo('t3'));
    await scheduler.settle();
    expect(listBumps).toBe(1);
    listObs.dispose();
    rowObs.dispose();
  });

  it('an observer of meta(row) is notified when the write syncs, even though the row itself is unchanged', async () => {
    const m = manualSource();
    const { state, scheduler } = setup(m.source);
    await scheduler.settle();
    m.start([todo('t1')]);
    await scheduler.settle();
    state.todos[0]!.title = 'x';
    await scheduler.settle();
    const obs = new StateObserver();
    let bumps = 0;
    obs.subscribe(() => bumps++);
    obs.begin();
    expect(meta(observeNode(state, obs).todos[0]!).isDirty).toBe(true);
    obs.end();
    expect(m.persists).toHaveLength(1);
    m.persists[0]!.resolve();
    await scheduler.settle();
    expect(bumps).toBeGreaterThan(0);
    obs.begin();
    expect(meta(observeNode(state, obs).todos[0]!).isDirty).toBe(false);
    obs.end();
    obs.dispose();
  });

  it('meta(row).isDirty re-runs only for writes to that row; meta(list) for writes to the collection', async () => {
    const m = manualSource();
    const { state, scheduler } = setup(m.source);
    await scheduler.settle();
    m.start([todo('t1'), todo('t2')]);
    await scheduler.settle();
    const runs = { t1: 0, t2: 0, list: 0 };
    const dirty = { t1: false, t2: false, list: false };
    const stops = [
      effect(() => {
        runs.t1++;
        dirty.t1 = meta(state.todos.get('t1')!).isDirty;
      }),
      effect(() => {
        runs.t2++;
        dirty.t2 = meta(state.todos.get('t2')!).isDirty;
      }),
      effect(() => {
        runs.list++;
        dirty.list = meta(state.todos).isDirty;
      }),
    ];
    expect(runs).toEqual({ t1: 1, t2: 1, list: 1 });
    state.todos.get('t1')!.completed = true;
    await scheduler.settle();
    expect(dirty).toEqual({ t1: true, t2: false, list: true });
    const t2Runs = runs.t2;
    const t1Runs = runs.t1;
    m.persists[0]!.resolve(); // confirmed: t1 stays as it was shown, but is no longer dirty
    await scheduler.settle();
    expect(dirty).toEqual({ t1: false, t2: false, list: false });
    expect(runs.t1).toBeGreaterThan(t1Runs);
    expect(runs.t2).toBe(t2Runs); // the write and its states never touched t2's reader
    for (const stop of stops) stop.stop();
  });

  it('a change between render and commit is caught when watching starts', () => {
    const { state } = setup();
    const obs = new StateObserver();
    let bumps = 0;
    obs.subscribe(() => bumps++);
    obs.begin();
    expect(observeNode(state, obs).ui.theme).toBe('dark');
    state.ui.theme = 'light';
    obs.end();
    expect(bumps).toBe(1);
    obs.dispose();
  });
});

describe('completeness of live results', () => {
  it('is optimistic for a synced collection until its source delivered, then complete', async () => {
    const m = manualSource();
    const { client, scheduler } = setup(m.source);
    await scheduler.settle();
    const lq = liveQuery(client, q('todos').where({ completed: false }));
    expect(lq.completeness).toBe('optimistic');
    m.start([todo('t1')]);
    await scheduler.settle();
    expect(lq.completeness).toBe('complete');
    expect(lq.value.map((t) => (t as Todo).id)).toEqual(['t1']);
  });

  it('is complete for a local-only collection from the start', async () => {
    const { client, scheduler } = setup();
    await scheduler.settle();
    expect(liveQuery(client, q('todos')).completeness).toBe('complete');
  });
});
