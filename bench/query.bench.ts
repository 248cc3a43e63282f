/**
 * Live queries, side by side (issues 4 and 17): OmniSync's query engine, @tanstack/db 0.15.2
 * with and without indexes, Triplit (@triplit/db, in memory, `db.subscribe`), RxDB (memory
 * storage, `query.$`) and a naive "re-evaluate everything" baseline, each in its own process.
 *
 * Data: N = 100,000 todos {id, title, completed, priority, createdAt, ownerId} and 1,000
 * users. Queries: (a) completed = false (50k rows); (b) (a) ordered by createdAt desc,
 * limit 50; (c) (b) with each row's owner included; (d) count of todos grouped by owner.
 * Each update stream writes the same documents in the same order for every contender.
 */
import {
  BTreeIndex,
  count as tCount,
  createCollection,
  createLiveQueryCollection,
  eq as tEq,
  localOnlyCollectionOptions,
} from '@tanstack/db';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createMemorySource, createQueryEngine, q, type LiveQuery, seededRandom } from '@omnisync/core';
import { peerVersion, rxdb, triplit } from './query-peers.ts';
import { type BenchSection, fmtMs, gc, heapMB, median, percentile, performance } from './lib.ts';

const N = 100_000;
const OWNERS = 1_000;
const WINDOW = 50;
const UPDATES = 1_000;
/** A slow contender stops a stream after this long (the sample count is then shown). */
const STREAM_BUDGET_MS = 4_000;
const MATERIALISE_TRIES = 3;

// Type aliases (not interfaces): they are assignable to Record<string, unknown>.
export type Todo = {
  id: string;
  title: string;
  completed: boolean;
  priority: number;
  createdAt: number;
  ownerId: string;
};
export type User = {
  id: string;
  name: string;
};

const T0 = 1_700_000_000_000;
const todoId = (i: number) => `todo-${i}`;
function makeTodos(): Todo[] {
  const out: Todo[] = new Array(N);
  for (let i = 0; i < N; i++)
    out[i] = {
      id: todoId(i),
      title: `Todo ${i}`,
      completed: i % 2 === 0,
      priority: i % 5,
      createdAt: T0 + i * 1000,
      ownerId: `user-${i % OWNERS}`,
    };
  return out;
}
function makeUsers(): User[] {
  return Array.from({ length: OWNERS }, (_, i) => ({ id: `user-${i}`, name: `User ${i}` }));
}

export type QueryName = 'a' | 'b' | 'c' | 'd';
const QUERY_LABEL: Record<QueryName, string> = {
  a: '(a) filter',
  b: '(b) filter+order+limit 50',
  c: '(c) (b) + include owner',
  d: '(d) count by owner',
};

/**
 * What the bench drives; each write returns (or its promise settles) once the live result
 * has been updated and its subscribers were called.
 */
export interface Session {
  update(id: string, patch: Partial<Todo>): void | Promise<void>;
  insert(doc: Todo): void | Promise<void>;
  remove(id: string): void | Promise<void>;
  /** Read the result as an app would (the array of rows). */
  read(): readonly unknown[];
  close(): void;
}
/** One library under test. */
export interface Contender {
  name: string;
  load(todos: Todo[], users: User[]): void | Promise<void>;
  open(query: QueryName): Promise<Session>;
  /** Queries the library cannot express as one live query, with the reason (shown as "—"). */
  unsupported?: Partial<Record<QueryName, string>>;
}

// ── OmniSync ──
function omnisync(): Contender {
  const source = createMemorySource();
  const engine = createQueryEngine(source);
  const queries = {
    a: q('todos').where({ completed: false }),
    b: q('todos').where({ completed: false }).orderBy({ createdAt: 'desc' }).limit(WINDOW),
    c: q('todos')
      .where({ completed: false })
      .orderBy({ createdAt: 'desc' })
      .limit(WINDOW)
      .include({ owner: { collection: 'users', on: 'ownerId' } }),
    d: q('todos').groupBy('ownerId').count(),
  };
  return {
    name: 'OmniSync',
    load(todos, users) {
      const changes = [];
      for (const t of todos) changes.push(source.insert('todos', t));
      for (const u of users) changes.push(source.insert('users', u));
      engine.applyChanges(changes);
      // Build the engine's per-collection document maps now (as TanStack builds its
      // collection state on insert) instead of in the first query.
      engine.track('todos');
      engine.track('users');
    },
    async open(name) {
      const live = engine.live(queries[name]) as LiveQuery<readonly unknown[]>;
      let fired = 0;
      const off = live.subscribe(() => fired++);
      void live.value;
      return {
        update: (id, patch) => engine.applyChanges([source.update('todos', id, patch)]),
        insert: (doc) => engine.applyChanges([source.insert('todos', doc)]),
        remove: (id) => engine.applyChanges([source.delete('todos', id)]),
        read: () => live.value,
        close: () => {
          off();
          void fired;
        },
      };
    },
  };
}

// ── TanStack DB ──
function tanstack(indexed: boolean): Contender {
  const opts = indexed ? { autoIndex: 'eager' as const, defaultIndexType: BTreeIndex } : {};
  const todos = createCollection(
    localOnlyCollectionOptions<Todo, string>({ id: `todos-${indexed}`, getKey: (t) => t.id, ...opts }),
  );
  const users = createCollection(
    localOnlyCollectionOptions<User, string>({ id: `users-${indexed}`, getKey: (u) => u.id, ...opts }),
  );
  let indexesMade = false;
  return {
    name: indexed ? 'TanStack DB + indexes' : 'TanStack DB',
    load(ts, us) {
      todos.insert(ts);
      users.insert(us);
    },
    async open(name) {
      if (indexed && !indexesMade) {
        // The indexes its dev-mode suggestions ask for; built on first use, counted in materialise.
        indexesMade = true;
        todos.createIndex((r) => r.completed);
        todos.createIndex((r) => r.createdAt);
        todos.createIndex((r) => r.ownerId);
        users.createIndex((r) => r.id);
      }
      const query =
        name === 'a'
          ? (b: any) => b.from({ todo: todos }).where(({ todo }: any) => tEq(todo.completed, false))
          : name === 'b'
            ? (b: any) =>
                b
                  .from({ todo: todos })
                  .where(({ todo }: any) => tEq(todo.completed, false))
                  .orderBy(({ todo }: any) => todo.createdAt, 'desc')
                  .limit(WINDOW)
            : name === 'c'
              ? (b: any) =>
                  b
                    .from({ todo: todos })
                    .join({ owner: users }, ({ todo, owner }: any) => tEq(todo.ownerId, owner.id))
                    .where(({ todo }: any) => tEq(todo.completed, false))
                    .orderBy(({ todo }: any) => todo.createdAt, 'desc')
                    .limit(WINDOW)
                    .select(({ todo, owner }: any) => ({ ...todo, owner }))
              : (b: any) =>
                  b
                    .from({ todo: todos })
                    .groupBy(({ todo }: any) => todo.ownerId)
                    .select(({ todo }: any) => ({ ownerId: todo.ownerId, count: tCount(todo.id) }));
      const live = createLiveQueryCollection({ query, startSync: true, gcTime: 0 });
      await live.preload();
      let fired = 0;
      const sub = live.subscribeChanges(() => fired++);
      void live.toArray;
      return {
        update: (id, patch) => {
          todos.update(id, (d) => Object.assign(d, patch));
        },
        insert: (doc) => {
          todos.insert(doc);
        },
        remove: (id) => {
          todos.delete(id);
        },
        read: () => live.toArray,
        close: () => {
          sub.unsubscribe();
          void live.cleanup();
        },
      };
    },
  };
}

// ── naive: a Map and a full re-evaluation after every write ──
function naive(): Contender {
  const todos = new Map<string, Todo>();
  const users = new Map<string, User>();
  const evaluate: Record<QueryName, () => unknown[]> = {
    a: () => {
      const out: Todo[] = [];
      for (const t of todos.values()) if (!t.completed) out.push(t);
      return out;
    },
    b: () => topK(),
    c: () => topK().map((t) => ({ ...t, owner: users.get(t.ownerId) ?? null })),
    d: () => {
      const counts = new Map<string, number>();
      for (const t of todos.values()) counts.set(t.ownerId, (counts.get(t.ownerId) ?? 0) + 1);
      return [...counts]
        .sort((x, y) => (x[0] < y[0] ? -1 : 1))
        .map(([ownerId, n]) => ({ ownerId, count: n }));
    },
  };
  // Top 50 by createdAt desc: one pass keeping a small sorted buffer.
  function topK(): Todo[] {
    const buf: Todo[] = [];
    for (const t of todos.values()) {
      if (t.completed) continue;
      if (buf.length === WINDOW && t.createdAt <= buf[WINDOW - 1]!.createdAt) continue;
      let i = buf.length;
      while (i > 0 && buf[i - 1]!.createdAt < t.createdAt) i--;
      buf.splice(i, 0, t);
      if (buf.length > WINDOW) buf.pop();
    }
    return buf;
  }
  return {
    name: 'naive re-evaluate',
    load(ts, us) {
      for (const t of ts) todos.set(t.id, t);
      for (const u of us) users.set(u.id, u);
    },
    async open(name) {
      let result = evaluate[name]();
      return {
        update: (id, patch) => {
          todos.set(id, { ...todos.get(id)!, ...patch });
          result = evaluate[name]();
        },
        insert: (doc) => {
          todos.set(doc.id, doc);
          result = evaluate[name]();
        },
        remove: (id) => {
          todos.delete(id);
          result = evaluate[name]();
        },
        read: () => result,
        close: () => {},
      };
    },
  };
}

// ── update streams (identical for every contender) ──
interface Stream {
  label: string;
  /** Prepare the next write (untimed); returns the timed write. */
  next(s: Session, i: number): () => void | Promise<void>;
}

/** Old rows (ids 0..49,999) never reach the top 50; rows 50,000..59,999 are moved into it. */
function streams(query: QueryName, seed: number): Stream[] {
  const rnd = seededRandom(seed);
  const pick = (lo: number, hi: number) => lo + Math.floor(rnd() * (hi - lo));
  let newest = T0 + N * 1000;
  let inserted = 0;
  let toggled: string | undefined;
  const windowRow = (s: Session): string => {
    // A row currently visible in the top 50 (read untimed); for (a)/(d), one of the newest rows.
    if (query === 'b' || query === 'c') return (s.read()[pick(0, WINDOW)] as Todo).id;
    return todoId(pick(N - WINDOW * 2, N));
  };
  if (query === 'd')
    return [
      {
        label: 'outside',
        next: (s) =>
          (
            (id) => () =>
              s.update(id, { completed: rnd() < 0.5 })
          )(todoId(pick(0, N / 2))),
      },
      {
        label: 'toggle',
        next: (s) =>
          (
            (id, owner) => () =>
              s.update(id, { ownerId: owner })
          )(todoId(pick(0, N)), `user-${pick(0, OWNERS)}`),
      },
      {
        label: 'move',
        next: (s, i) => {
          if (i % 2 === 0) {
            const doc: Todo = {
              id: `new-${inserted++}`,
              title: 'new',
              completed: false,
              priority: 1,
              createdAt: ++newest,
              ownerId: `user-${pick(0, OWNERS)}`,
            };
            return () => s.insert(doc);
          }
          const id = `new-${inserted - 1}`;
          return () => s.remove(id);
        },
      },
    ];
  return [
    {
      label: 'outside',
      next: (s) => {
        const i = pick(0, N / 2);
        const completed = rnd() < 0.5;
        return () => s.update(todoId(i), { completed });
      },
    },
    {
      label: 'toggle',
      next: (s, i) => {
        if (i % 2 === 0) {
          const id = windowRow(s);
          toggled = id;
          return () => s.update(id, { completed: true });
        }
        const id = toggled!;
        return () => s.update(id, { completed: false });
      },
    },
    {
      label: 'move',
      next: (s) => {
        const i = 2 * pick(25_000, 30_000) + 1; // odd: completed = false
        const createdAt = ++newest;
        return () => s.update(todoId(i), { createdAt });
      },
    },
  ];
}

interface StreamResult {
  p50: number;
  p95: number;
  readP50: number;
  n: number;
}

async function runStream(s: Session, stream: Stream): Promise<StreamResult> {
  const times: number[] = [];
  const reads: number[] = [];
  const start = performance.now();
  for (let i = 0; i < UPDATES; i++) {
    const write = stream.next(s, i);
    const t0 = performance.now();
    // Synchronous engines are not made to pay for an await they do not need.
    const pending = write();
    if (pending) await pending;
    const t1 = performance.now();
    s.read();
    const t2 = performance.now();
    times.push(t1 - t0);
    reads.push(t2 - t0);
    if (t2 - start > STREAM_BUDGET_MS && i % 2 === 1) break;
  }
  return { p50: median(times), p95: percentile(times, 95), readP50: median(reads), n: times.length };
}

const QUERIES: QueryName[] = ['a', 'b', 'c', 'd'];

interface Row {
  query: QueryName;
  contender: string;
  load: number;
  materialise: number;
  /** null when a slow contender got one try only (JSON has no NaN). */
  again: number | null;
  heap: number;
  results: StreamResult[];
  labels: string[];
  /** Why the library cannot run this query (then nothing else is measured). */
  unsupported?: string;
}

async function measure(make: () => Contender, seed: number): Promise<Row[]> {
  const rows: Row[] = [];
  gc();
  const base = heapMB();
  const c = make();
  const todos = makeTodos();
  const users = makeUsers();
  const t0 = performance.now();
  await c.load(todos, users);
  const load = performance.now() - t0;
  // Only what the contender keeps counts towards its heap.
  todos.length = 0;
  users.length = 0;
  for (const query of QUERIES) {
    const unsupported = c.unsupported?.[query];
    if (unsupported) {
      rows.push({
        query,
        contender: c.name,
        load,
        materialise: NaN,
        again: null,
        heap: 0,
        results: [],
        labels: [],
        unsupported,
      });
      continue;
    }
    // Materialise up to 3 times (open, close, reopen: nothing is kept in between) and take
    // the median: the machine is shared and noisy. A slow contender gets one try.
    const tries: number[] = [];
    let s: Session | undefined;
    for (let k = 0; k < MATERIALISE_TRIES; k++) {
      if (s) s.close();
      gc();
      const m0 = performance.now();
      s = await c.open(query);
      tries.push(performance.now() - m0);
      if (tries.reduce((x, y) => x + y, 0) > STREAM_BUDGET_MS) break;
    }
    const materialise = tries[0]!;
    const again = tries.length > 1 ? median(tries.slice(1)) : null;
    const heap = heapMB() - base;
    const ss = streams(query, seed + query.charCodeAt(0));
    const results: StreamResult[] = [];
    for (const st of ss) results.push(await runStream(s!, st));
    s!.close();
    rows.push({
      query,
      contender: c.name,
      load,
      materialise,
      again,
      heap,
      results,
      labels: ss.map((x) => x.label),
    });
    process.stderr.write(
      `  ${c.name} ${QUERY_LABEL[query]}: materialise ${fmtMs(materialise)} ms, ${results.map((r) => `${fmtMs(r.p50)}/${fmtMs(r.p95)}`).join(' ')}\n`,
    );
  }
  // The contender goes out of scope here; the next one starts from a collected heap.
  gc();
  return rows;
}

const cell = (r: StreamResult) => `${fmtMs(r.p50)} / ${fmtMs(r.p95)}${r.n < UPDATES ? ` (n=${r.n})` : ''}`;

const CONTENDERS: Record<string, () => Contender> = {
  omnisync: () => omnisync(),
  naive: () => naive(),
  tanstack: () => tanstack(false),
  'tanstack-indexed': () => tanstack(true),
  triplit: () => triplit(WINDOW),
  rxdb: () => rxdb(WINDOW),
};
const SEED = 4;

// Each contender runs in its own process (the parent re-runs this file with
// QUERY_BENCH_CHILD set): heaps, JIT state and leftover timers cannot leak between them.
const child = process.env.QUERY_BENCH_CHILD;
if (child) {
  // Quiet TanStack's dev-mode index suggestions while it runs.
  console.warn = () => {};
  const rows = await measure(CONTENDERS[child]!, SEED);
  process.stdout.write(JSON.stringify(rows) + '\n');
  process.exit(0);
}

export default async function queryBench(): Promise<BenchSection> {
  const all: Row[] = [];
  // QUERY_BENCH_ONLY=omnisync (a substring of contender keys) narrows a local run.
  const only = process.env.QUERY_BENCH_ONLY;
  for (const name of Object.keys(CONTENDERS)) {
    if (only && !name.includes(only)) continue;
    const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url)], {
      env: { ...process.env, QUERY_BENCH_CHILD: name },
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
    });
    if (r.status !== 0) throw new Error(`query bench: contender ${name} failed (exit ${r.status}).`);
    all.push(...(JSON.parse(r.stdout.trim().split('\n').pop()!) as Row[]));
  }
  const rows = QUERIES.flatMap((query) =>
    all
      .filter((r) => r.query === query)
      .map((r) =>
        r.unsupported
          ? [QUERY_LABEL[query], r.contender, fmtMs(r.load), `— (${r.unsupported})`, '—', '—', '—', '—', '—']
          : [
              QUERY_LABEL[query],
              r.contender,
              fmtMs(r.load),
              `${fmtMs(r.materialise)} / ${r.again === null ? '–' : fmtMs(r.again)}`,
              cell(r.results[0]!),
              cell(r.results[1]!),
              cell(r.results[2]!),
              fmtMs(r.results[1]!.readP50),
              r.heap.toFixed(1),
            ],
      ),
  );
  return {
    title: `Live queries: 100k todos, 1k owners (OmniSync vs TanStack DB ${peerVersion('@tanstack/db')}, Triplit ${peerVersion('@triplit/db')}, RxDB ${peerVersion('rxdb')} vs naive)`,
    notes: [
      `Update columns are p50 / p95 ms from the write call until the live result is updated and subscribers were called, over ${UPDATES} writes (a slow contender stops a stream after ${STREAM_BUDGET_MS / 1000} s; n shown).`,
      'OmniSync, TanStack DB and naive update synchronously; Triplit and RxDB are asynchronous, and their timed write awaits the write and the view update: Triplit (in-memory store, one schema with an owner RelationById) `await db.update()` then `await db.updateQueryViews()` + `db.broadcastToQuerySubscribers()` (what @triplit/client runs after commits, here after every write, unthrottled); RxDB (open-source build, getRxStorageMemory(), no dev-mode, no validator, event-reduce on, an index on [completed, createdAt]) `await (await findOne(id).exec()).incrementalPatch()` then `await query.exec()`, which brings the query of `query.$` up to date and emits. RxDB\'s query cache keeps a closed query\'s results, so its "again" reuses them.',
      'outside: completed toggled on an old row (never in the top 50; for (a) it enters/leaves the 50k result; for (d) an irrelevant field).',
      'toggle: a row of the current top 50 is completed, then un-completed (for (a) one of the newest rows; for (d) a todo moves to another owner).',
      'move: an old row gets the newest createdAt, entering the top 50 (for (d) a todo is inserted, then deleted).',
      '"toggle+read" adds reading the whole result array (50k rows for (a)).',
      "Load: 100k todos + 1k users into the store (OmniSync: a Map source, engine.applyChanges, then engine.track() of both collections, which builds the engine's id → document maps).",
      'Materialise: create the live query, subscribe, read the first value; the first try, then the median of up to 2 more (close and reopen; nothing of the query is kept; TanStack indexes are created on first use, in its first try).',
      'Heap: MB above the pre-load baseline after load + this query (documents, store, indexes, query state). Each engine runs in its own process.',
      '(c) in TanStack is a join + select of the owner; in Triplit an Include of the owner relation. "—": the library has no live query for it (the reason is given).',
    ].join(' '),
    charts: [
      {
        file: 'live-queries.svg',
        title: 'Live queries, 100k todos: a write in the result → live result updated (toggle p50)',
        unit: 'ms',
        log: true,
        lowerIsBetter: true,
        groups: QUERIES.map((query) => ({
          label: QUERY_LABEL[query],
          bars: all
            .filter((r) => r.query === query)
            .map((r) =>
              r.unsupported
                ? { name: r.contender, value: null, note: 'no such live query' }
                : { name: r.contender, value: r.results[1]!.p50 },
            ),
        })),
      },
    ],
    columns: [
      'query',
      'engine',
      'load ms',
      'materialise ms (first / again)',
      'outside p50/p95',
      'toggle p50/p95',
      'move p50/p95',
      'toggle+read p50',
      'heap MB',
    ],
    rows,
  };
}
