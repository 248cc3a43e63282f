import { describe, expect, it, vi } from 'vitest';
import {
  computed,
  createManualScheduler,
  createMemorySource,
  createQueryEngine,
  effect,
  InvalidStateError,
  type LiveQuery,
  type MemorySource,
  q,
  type QueryEngine,
  type QueryEngineOptions,
} from '../index.js';

type Doc = Record<string, unknown>;

function setup(
  docs: Record<string, Doc[]> = {},
  options: QueryEngineOptions = {},
): { source: MemorySource; engine: QueryEngine } {
  const source = createMemorySource();
  const engine = createQueryEngine(source, options);
  engine.applyChanges(Object.entries(docs).flatMap(([c, list]) => list.map((d) => source.insert(c, d))));
  return { source, engine };
}

const todos = (n: number) =>
  Array.from({ length: n }, (_, i) => ({
    id: `t${String(i).padStart(2, '0')}`,
    done: i % 2 === 1,
    rank: i,
    owner: `u${i % 3}`,
  }));
const ids = (rows: readonly unknown[]) => rows.map((r) => (r as Doc).id);

describe('live queries', () => {
  it('returns the same instance for the same query while it is held', () => {
    const { engine } = setup();
    const a = engine.live(q('todos').where({ done: false }));
    const b = engine.live(q('todos').where({ done: false }));
    expect(b).toBe(a);
    expect(engine.live({ collection: 'todos', where: { op: 'eq', field: 'done', value: false } })).toBe(a);
    expect(engine.live(q('todos').where({ done: true }))).not.toBe(a);
    expect(a.hash).toBe('todos:{"done":false}');
  });

  it('keeps the same array and row objects while nothing in them changed, and rows are the source objects', () => {
    const { source, engine } = setup({ todos: todos(6), users: [{ id: 'u0' }] });
    const open = engine.live(q('todos').where({ done: false }).orderBy({ rank: 'desc' }));
    open.subscribe(() => {});
    const first = open.value;
    expect(ids(first)).toEqual(['t04', 't02', 't00']);
    expect(first[0]).toBe(source.get('todos', 't04'));
    engine.applyChanges([source.update('users', 'u0', { name: 'x' })]);
    engine.applyChanges([source.update('todos', 't01', { title: 'not in the result' })]);
    expect(open.value).toBe(first);
    engine.applyChanges([source.update('todos', 't02', { title: 'renamed' })]);
    expect(open.value).not.toBe(first);
    expect(open.value[0]).toBe(first[0]);
    expect(open.value[1]).toBe(source.get('todos', 't02'));
  });

  it('removes a row at once when an (optimistic) update makes it stop matching (seed 000 predicate matching)', () => {
    const { source, engine } = setup({ todos: todos(4) });
    const open = engine.live(q('todos').where({ done: false }));
    const seen: unknown[][] = [];
    open.subscribe(() => seen.push(ids(open.value)));
    engine.applyChanges([source.update('todos', 't00', { done: true })]);
    expect(ids(open.value)).toEqual(['t02']);
    expect(seen).toEqual([['t02']]);
  });

  it('refills a top-K window from the index when a row leaves, and drops the last when one moves in', () => {
    const { source, engine } = setup({ todos: todos(20) });
    const top = engine.live(q('todos').where({ done: false }).orderBy({ rank: 'desc' }).limit(3));
    top.retain();
    expect(ids(top.value)).toEqual(['t18', 't16', 't14']);
    engine.applyChanges([source.update('todos', 't16', { done: true })]);
    expect(ids(top.value)).toEqual(['t18', 't14', 't12']);
    engine.applyChanges([source.update('todos', 't02', { rank: 100 })]);
    expect(ids(top.value)).toEqual(['t02', 't18', 't14']);
    engine.applyChanges([
      source.delete('todos', 't02'),
      source.delete('todos', 't18'),
      source.update('todos', 't14', { done: true }),
    ]);
    expect(ids(top.value)).toEqual(['t12', 't10', 't08']);
    expect(engine.stats().indexes).toBe(1);
    top.release();
    expect(engine.stats()).toMatchObject({ active: 0, indexes: 0, collections: 0 });
  });

  it('pages with offset and a cursor', () => {
    const { engine } = setup({ todos: todos(10) });
    const page1 = engine.run(q('todos').orderBy('rank').limit(3));
    expect(ids(page1)).toEqual(['t00', 't01', 't02']);
    const page2 = engine.live(q('todos').orderBy('rank').limit(3).after(page1[2]!));
    page2.retain();
    expect(ids(page2.value)).toEqual(['t03', 't04', 't05']);
    expect(ids(engine.run(q('todos').orderBy('rank').offset(8)))).toEqual(['t08', 't09']);
  });

  it('includes refs, refMany and reverse refs to any depth, rebuilding only rows whose parts changed', () => {
    const { source, engine } = setup({
      todos: [
        { id: 'a', owner: 'u1', tags: ['g2', 'g1'] },
        { id: 'b', owner: 'u2', tags: [] },
      ],
      users: [
        { id: 'u1', name: 'Ann', team: 'T' },
        { id: 'u2', name: 'Bob', team: 'T' },
      ],
      teams: [{ id: 'T', label: 'Team' }],
      tags: [
        { id: 'g1', n: 1 },
        { id: 'g2', n: 2 },
      ],
      comments: [
        { id: 'c1', todo: 'a', at: 2 },
        { id: 'c2', todo: 'a', at: 1 },
      ],
    });
    const open = engine.live(
      q('todos')
        .orderBy('id')
        .include({
          owner: { collection: 'users', on: 'owner', include: { team: { collection: 'teams', on: 'team' } } },
          tags: { collection: 'tags', on: 'tags', many: true },
          comments: { collection: 'comments', references: 'todo', orderBy: [{ field: 'at', dir: 'asc' }] },
        }),
    );
    open.subscribe(() => {});
    const [a, b] = open.value as Doc[];
    expect(a).toMatchObject({
      id: 'a',
      owner: { name: 'Ann', team: { label: 'Team' } },
      tags: [{ id: 'g2' }, { id: 'g1' }],
      comments: [{ id: 'c2' }, { id: 'c1' }],
    });
    expect(b).toMatchObject({ owner: { name: 'Bob' }, tags: [], comments: [] });
    // A change to Ann rebuilds row a only.
    engine.applyChanges([source.update('users', 'u1', { name: 'Anna' })]);
    const [a2, b2] = open.value as Doc[];
    expect(a2).not.toBe(a);
    expect(b2).toBe(b);
    expect(a2!.tags).toBe(a!.tags);
    expect((a2!.owner as Doc).name).toBe('Anna');
    // A change two levels down (the team) rebuilds both rows; a new comment reaches its todo.
    engine.applyChanges([
      source.update('teams', 'T', { label: 'Renamed' }),
      source.insert('comments', { id: 'c3', todo: 'b', at: 0 }),
    ]);
    const [a3, b3] = open.value as Doc[];
    expect(((a3!.owner as Doc).team as Doc).label).toBe('Renamed');
    expect(b3!.comments).toEqual([{ id: 'c3', todo: 'b', at: 0 }]);
    // Unrelated documents in included collections change nothing.
    engine.applyChanges([source.insert('users', { id: 'u9', name: 'Zed' })]);
    expect(open.value[0]).toBe(a3);
  });

  it('maintains aggregates incrementally, min/max included', () => {
    const { source, engine } = setup({ todos: todos(9) });
    const byOwner = engine.live(
      q('todos')
        .groupBy('owner')
        .aggregate({ n: 'count', top: ['max', 'rank'], low: ['min', 'rank'], avg: ['avg', 'rank'] }),
    );
    byOwner.retain();
    expect(byOwner.value).toEqual([
      { owner: 'u0', n: 3, top: 6, low: 0, avg: 3 },
      { owner: 'u1', n: 3, top: 7, low: 1, avg: 4 },
      { owner: 'u2', n: 3, top: 8, low: 2, avg: 5 },
    ]);
    const before = byOwner.value;
    engine.applyChanges([source.delete('todos', 't08')]);
    expect(byOwner.value[2]).toEqual({ owner: 'u2', n: 2, top: 5, low: 2, avg: 3.5 });
    expect(byOwner.value[0]).toBe(before[0]);
    engine.applyChanges([source.delete('todos', 't02'), source.delete('todos', 't05')]);
    expect(byOwner.value.map((r) => r.owner)).toEqual(['u0', 'u1']);
    const total = engine.live(
      q('todos')
        .where({ owner: 'nobody' })
        .aggregate({ n: 'count', s: ['sum', 'rank'] }),
    );
    expect(total.value).toEqual([{ n: 0, s: null }]);
    expect(engine.run(q('todos').distinct('owner'))).toEqual([{ owner: 'u0' }, { owner: 'u1' }]);
  });

  it('get(id) follows one document', () => {
    const { source, engine } = setup({ todos: todos(3) });
    const one = engine.live(q('todos').get('t01'));
    one.retain();
    expect(one.value).toBe(source.get('todos', 't01'));
    engine.applyChanges([source.delete('todos', 't01')]);
    expect(one.value).toBeUndefined();
  });
});

describe('status, Suspense promise, completeness, signals', () => {
  it('gives the same pending promise while loading, resolved once ready', async () => {
    const { engine } = setup();
    const lq = engine.live(q('todos'));
    expect(lq.status).toBe('ready');
    lq.setStatus('loading');
    const p = lq.promise;
    expect(lq.promise).toBe(p);
    let settled = false;
    void p.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    lq.setStatus('ready');
    await p;
    expect(settled).toBe(true);
    lq.setStatus('loading');
    expect(lq.promise).not.toBe(p);
    lq.setStatus('error', new Error('server said no'));
    expect(lq.error?.message).toBe('server said no');
    expect(lq.error?.code).toBe('internal');
    await lq.promise;
  });

  it('notifies subscribers on status and completeness changes', () => {
    const { engine } = setup();
    const lq = engine.live(q('todos'));
    const calls = vi.fn();
    lq.subscribe(calls);
    lq.setCompleteness('partial');
    lq.setCompleteness('partial');
    lq.setStatus('loading');
    expect(calls).toHaveBeenCalledTimes(2);
    expect(lq.completeness).toBe('partial');
  });

  it('re-runs a computed/effect reading get() when the value changes, active or not', () => {
    const { source, engine } = setup({ todos: todos(2) });
    const active = engine.live(q('todos').where({ done: false }));
    active.subscribe(() => {});
    const inactive = engine.live(q('todos').where({ done: true }));
    const count = computed(() => active.get().length + 10 * inactive.get().length);
    const seen: number[] = [];
    const e = effect(() => {
      seen.push(count.get());
    });
    engine.applyChanges([source.insert('todos', { id: 'x', done: false })]);
    engine.applyChanges([source.insert('todos', { id: 'y', done: true })]);
    e.stop();
    expect(seen).toEqual([11, 12, 22]);
    expect(inactive.active).toBe(false);
  });
});

describe('lifecycle and registry', () => {
  it('activates on subscribe/retain and releases everything when the last one goes', () => {
    const opened: string[] = [];
    const { engine, source } = setup(
      { todos: todos(4) },
      { onActivate: (l) => opened.push(`+${l.hash}`), onDeactivate: (l) => opened.push(`-${l.hash}`) },
    );
    const lq = engine.live(q('todos').orderBy('rank').limit(2));
    expect(lq.active).toBe(false);
    const off1 = lq.subscribe(() => {});
    const off2 = lq.subscribe(() => {});
    lq.retain();
    // The first window is a top-k pass: the sorted index waits for the first refill.
    expect(engine.stats()).toMatchObject({ active: 1, collections: 1, indexes: 0 });
    engine.applyChanges([source.delete('todos', 't00')]);
    expect(ids(lq.value as Doc[])).toEqual(['t01', 't02']);
    expect(engine.stats()).toMatchObject({ active: 1, collections: 1, indexes: 1 });
    off1();
    off1();
    off2();
    expect(lq.active).toBe(true);
    lq.release();
    expect(lq.active).toBe(false);
    expect(engine.stats()).toMatchObject({ active: 0, collections: 0, indexes: 0 });
    expect(() => lq.release()).toThrow(InvalidStateError);
    expect(opened).toEqual([`+${lq.hash}`, `-${lq.hash}`]);
    // Still readable while inactive (evaluated on read).
    expect(ids(lq.value as Doc[])).toEqual(['t01', 't02']);
  });

  it('with gcTimeMs keeps an unsubscribed query warm until the time passes (fake time)', () => {
    const scheduler = createManualScheduler();
    const { engine } = setup({ todos: todos(3) }, { gcTimeMs: 1000, scheduler });
    const lq = engine.live(q('todos').where({ done: false }));
    const off = lq.subscribe(() => {});
    off();
    expect(lq.active).toBe(true);
    scheduler.advance(999);
    const again = lq.subscribe(() => {});
    scheduler.advance(5000);
    expect(lq.active).toBe(true);
    again();
    scheduler.advance(1000);
    expect(lq.active).toBe(false);
    void lq.value; // a read keeps it warm for another gcTimeMs
    expect(lq.active).toBe(true);
    scheduler.advance(1000);
    expect(lq.active).toBe(false);
  });

  it('creates and drops 100,000 live queries without keeping any engine state', () => {
    const { engine } = setup({ todos: todos(5) });
    for (let i = 0; i < 100_000; i++) {
      const lq: LiveQuery<unknown> = engine.live(
        i % 3 === 0
          ? q('todos').where({ rank: i })
          : i % 3 === 1
            ? q('todos')
                .where({ owner: `u${i}` })
                .orderBy('rank')
                .limit(2)
            : q('todos')
                .groupBy('owner')
                .aggregate({ n: 'count', m: ['max', 'rank'] })
                .where('rank', '>', i),
      );
      if (i % 2 === 0) lq.subscribe(() => {})();
      else {
        lq.retain();
        lq.release();
      }
    }
    expect(engine.stats()).toMatchObject({ active: 0, collections: 0, indexes: 0 });
  });

  it('isolates a throwing subscriber and applies writes made during notification afterwards', () => {
    const errors: unknown[] = [];
    const { source, engine } = setup({ todos: todos(2) }, { onListenerError: (e) => errors.push(e) });
    const lq = engine.live(q('todos').where({ done: false }));
    const order: string[] = [];
    lq.subscribe(() => {
      throw new Error('boom');
    });
    lq.subscribe(() => {
      order.push(`seen ${lq.value.length}`);
      if (lq.value.length === 2) engine.applyChanges([source.insert('todos', { id: 'z', done: false })]);
    });
    engine.applyChanges([source.insert('todos', { id: 'y', done: false })]);
    expect(order).toEqual(['seen 2', 'seen 3']);
    expect(errors).toHaveLength(2);
  });

  it('refresh() re-reads a source replaced wholesale', () => {
    const { source, engine } = setup({ todos: todos(2) });
    const lq = engine.live(q('todos').orderBy('rank'));
    lq.retain();
    source.insert('todos', { id: 'silent', rank: -1 });
    expect(ids(lq.value)).toEqual(['t00', 't01']);
    const changed = vi.fn();
    lq.subscribe(changed);
    engine.refresh('todos');
    expect(ids(lq.value)).toEqual(['silent', 't00', 't01']);
    expect(changed).toHaveBeenCalledTimes(1);
  });

  it('reports a source that throws as status error and recovers when reads work again', () => {
    const source = createMemorySource();
    let broken = true;
    const engine = createQueryEngine({
      documents: (c) => {
        if (broken) throw new Error('disk gone');
        return source.documents(c);
      },
      get: (c, id) => source.get(c, id),
    });
    const lq = engine.live(q('todos'));
    const off = lq.subscribe(() => {});
    expect(lq.status).toBe('error');
    expect(lq.error?.message).toBe('disk gone');
    off();
    broken = false;
    lq.subscribe(() => {});
    expect(lq.status).toBe('ready');
  });
});

describe('track', () => {
  it('keeps a collection state current without queries, and drops it when untracked', () => {
    const { source, engine } = setup({ todos: todos(3) });
    const untrack = engine.track('todos');
    expect(engine.stats().collections).toBe(1);
    engine.applyChanges([source.update('todos', 't00', { done: true })]);
    const lq = engine.live(q('todos').where({ done: true }));
    const off = lq.subscribe(() => {});
    expect(ids(lq.value)).toEqual(['t00', 't01']);
    // The state's "before" for t00 is the updated object: a later change is seen correctly.
    engine.applyChanges([source.update('todos', 't00', { done: false })]);
    expect(ids(lq.value)).toEqual(['t01']);
    off();
    expect(engine.stats().collections).toBe(1);
    untrack();
    expect(engine.stats().collections).toBe(0);
  });
});

describe('planner', () => {
  it('builds a hash index when a second active query filters on the same field, and shares it', () => {
    const { source, engine } = setup({ todos: todos(30) });
    const one = engine.live(q('todos').where({ owner: 'u1' }));
    one.retain();
    expect(engine.stats().indexes).toBe(0);
    const two = engine.live(q('todos').where({ owner: 'u2' }).orderBy('rank'));
    two.retain();
    const three = engine.live(q('todos').where('owner', 'in', ['u0', 'u2']).groupBy('owner').count());
    three.retain();
    expect(engine.stats().indexes).toBe(1);
    expect(ids(two.value)).toEqual(['t02', 't05', 't08', 't11', 't14', 't17', 't20', 't23', 't26', 't29']);
    expect(three.value).toEqual([
      { owner: 'u0', count: 10 },
      { owner: 'u2', count: 10 },
    ]);
    engine.applyChanges([source.update('todos', 't02', { owner: 'u0' })]);
    expect(three.value).toEqual([
      { owner: 'u0', count: 11 },
      { owner: 'u2', count: 9 },
    ]);
    expect(ids(two.value)).toHaveLength(9);
    for (const lq of [one, two, three]) lq.release();
    expect(engine.stats()).toMatchObject({ indexes: 0, collections: 0 });
  });
});
