/**
 * The asynchronous contenders of bench/query.bench.ts: Triplit (@triplit/db, its in-memory
 * B-tree store, `db.subscribe`) and RxDB (open-source build, `getRxStorageMemory()`,
 * `collection.find(...).$`). Their writes return promises; each timed write awaits the write
 * and the library's own view update, so it settles once the live result is current and the
 * subscriber was called.
 */
import { readFileSync } from 'node:fs';
import { createDB, Schema as S } from '@triplit/db';
import { createRxDatabase, type RxCollection, type RxDocument, type RxQuery } from 'rxdb';
import { getRxStorageMemory } from 'rxdb/plugins/storage-memory';
import type { Subscription } from 'rxjs';
import type { Contender, QueryName, Session, Todo } from './query.bench.ts';

/** The installed version of a package (read from its package.json). */
export function peerVersion(name: string): string {
  const url = new URL(`../node_modules/${name}/package.json`, import.meta.url);
  return (JSON.parse(readFileSync(url, 'utf8')) as { version: string }).version;
}

const triplitSchema = {
  collections: S.Collections({
    todos: {
      schema: S.Schema({
        id: S.Id(),
        title: S.String(),
        completed: S.Boolean(),
        priority: S.Number(),
        createdAt: S.Number(),
        ownerId: S.String(),
      }),
      relationships: { owner: S.RelationById('users', '$ownerId') },
    },
    users: { schema: S.Schema({ id: S.Id(), name: S.String() }) },
  }),
};

/**
 * Triplit's embedded DB. Its IVM is driven by its owner: `@triplit/client` calls
 * `updateQueryViews()` + `broadcastToQuerySubscribers()` after commits; here they run after
 * every write (no throttle), the best case for its latency.
 */
export function triplit(window: number): Contender {
  let db: Awaited<ReturnType<typeof createDB<typeof triplitSchema.collections>>>['db'] | undefined;
  const settle = async () => {
    await db!.updateQueryViews();
    db!.broadcastToQuerySubscribers();
  };
  return {
    name: `Triplit ${peerVersion('@triplit/db')}`,
    unsupported: { d: 'no group-by / aggregate queries' },
    async load(todos, users) {
      db = (await createDB({ schema: triplitSchema })).db;
      // One transaction for the whole load (its fastest bulk path).
      await db.transact(async (tx) => {
        for (const t of todos) await tx.insert('todos', t);
        for (const u of users) await tx.insert('users', u);
      });
    },
    async open(name: QueryName): Promise<Session> {
      const d = db!;
      const base = d.query('todos').Where('completed', '=', false);
      const query =
        name === 'a'
          ? base
          : name === 'b'
            ? base.Order('createdAt', 'DESC').Limit(window)
            : base.Order('createdAt', 'DESC').Limit(window).Include('owner');
      let result: readonly unknown[] = [];
      // The builders' types differ per branch (exactOptionalPropertyTypes); the query is valid for the schema.
      const off = d.subscribe(query as Parameters<typeof d.subscribe>[0], (rows: readonly unknown[]) => {
        result = rows;
      });
      await settle();
      return {
        update: async (id, patch) => {
          await d.update('todos', id, patch);
          await settle();
        },
        insert: async (doc) => {
          await d.insert('todos', doc);
          await settle();
        },
        remove: async (id) => {
          await d.delete('todos', id);
          await settle();
        },
        read: () => result,
        close: off,
      };
    },
  };
}

const rxTodoSchema = {
  version: 0,
  primaryKey: 'id',
  type: 'object',
  properties: {
    id: { type: 'string', maxLength: 32 },
    title: { type: 'string' },
    completed: { type: 'boolean' },
    priority: { type: 'number' },
    createdAt: { type: 'number', minimum: 0, maximum: 1e14, multipleOf: 1 },
    ownerId: { type: 'string', maxLength: 32 },
  },
  required: ['id', 'title', 'completed', 'priority', 'createdAt', 'ownerId'],
  // The index the two queries it runs use (completed, then createdAt).
  indexes: [['completed', 'createdAt']],
} as const;
const rxUserSchema = {
  version: 0,
  primaryKey: 'id',
  type: 'object',
  properties: { id: { type: 'string', maxLength: 32 }, name: { type: 'string' } },
  required: ['id', 'name'],
} as const;

/**
 * RxDB, open-source build: memory storage, no dev-mode plugin, no schema validator (both
 * are opt-in wrappers), event-reduce on (its default). A write awaits the storage write and
 * then `query.exec()`, which applies the pending change events to the query and emits `$`.
 */
export function rxdb(window: number): Contender {
  let todos: RxCollection<Todo> | undefined;
  return {
    name: `RxDB ${peerVersion('rxdb')}`,
    unsupported: {
      c: 'populate() is per document, not part of a live query',
      d: 'no group-by / aggregate queries (count() is one number)',
    },
    async load(ts, us) {
      const db = await createRxDatabase({
        name: 'bench',
        storage: getRxStorageMemory(),
        multiInstance: false,
      });
      const cols = await db.addCollections({
        todos: { schema: rxTodoSchema },
        users: { schema: rxUserSchema },
      });
      todos = cols.todos as RxCollection<Todo>;
      const a = await todos.bulkInsert(ts);
      const b = await cols.users.bulkInsert(us);
      if (a.error.length || b.error.length) throw new Error('RxDB bulkInsert failed');
    },
    async open(name: QueryName): Promise<Session> {
      const col = todos!;
      const query: RxQuery<Todo, RxDocument<Todo>[]> =
        name === 'a'
          ? col.find({ selector: { completed: false } })
          : col.find({ selector: { completed: false }, sort: [{ createdAt: 'desc' }], limit: window });
      let result: readonly unknown[] = [];
      let sub: Subscription | undefined;
      await new Promise<void>((resolve) => {
        sub = query.$.subscribe((rows) => {
          result = rows;
          resolve();
        });
      });
      const doc = (id: string) => col.findOne(id).exec(true);
      return {
        update: async (id, patch) => {
          await (await doc(id)).incrementalPatch(patch);
          await query.exec();
        },
        insert: async (d) => {
          await col.insert(d);
          await query.exec();
        },
        remove: async (id) => {
          await (await doc(id)).remove();
          await query.exec();
        },
        read: () => result,
        close: () => sub?.unsubscribe(),
      };
    },
  };
}
