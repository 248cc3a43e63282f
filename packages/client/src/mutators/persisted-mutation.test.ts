/**
 * A named mutation waiting in the outbox survives a restart with its name and args, in each
 * persistence (memory, file, IndexedDB): the restarted client shows its optimistic writes
 * again and sends it with the same id, name and args. Older outbox entries (no mutator
 * field) still read back. The backend is a stand-in that runs mutators (the Source
 * contract); the real server's side is in test/sync/named-mutations.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineMutators, seededRandom } from '@omnisync/core';
import { IDBFactory, IDBKeyRange } from 'fake-indexeddb';
import { afterAll, describe, expect, it } from 'vitest';
import { createClient } from '../client.js';
import { createFilePersistence } from '../persistence/file.js';
import { createIndexedDbPersistence } from '../persistence/indexeddb.js';
import { createMemoryPersistence, createMemoryPersistenceStore } from '../persistence/memory.js';
import type { Persistence } from '../persistence/types.js';
import type { PersistRequest, Source } from '../sources/types.js';
import { createTestScheduler } from '../testing/test-scheduler.js';
import { deserializeTransaction, serializeTransaction } from '../transactions/serialize.js';

const mutators = defineMutators({
  async add(tx, args: { id: string; by: number; note?: { tags: string[] } }) {
    const c = await tx.get('counters', args.id);
    await tx.set('counters', args.id, { n: ((c?.n as number | undefined) ?? 0) + args.by });
  },
});

/** A backend that runs mutators; `answer: false` leaves every push unanswered (offline). */
function backend(answer: boolean) {
  const sent: PersistRequest[] = [];
  const source: Source = {
    id: 'runner',
    kind: 'remote',
    runsMutators: true,
    persist: (req) => {
      sent.push(req);
      return answer ? Promise.resolve() : new Promise<void>(() => {});
    },
  };
  return { source, sent };
}

/** Let real persistence I/O and the test scheduler run until `done` (or fail after 200 rounds). */
async function until(scheduler: ReturnType<typeof createTestScheduler>, done: () => boolean) {
  for (let i = 0; i < 200 && !done(); i++) {
    await scheduler.settle();
    await new Promise((r) => setTimeout(r, 5));
  }
  expect(done()).toBe(true);
}

const dir = mkdtempSync(join(tmpdir(), 'omni-named-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const memory = createMemoryPersistenceStore();
const idb = new IDBFactory();

const persistences: [string, () => Persistence][] = [
  ['memory', () => createMemoryPersistence({ store: memory })],
  ['file', () => createFilePersistence({ path: join(dir, 'client.omni'), fsync: false })],
  ['IndexedDB', () => createIndexedDbPersistence({ name: 'named', indexedDB: idb, IDBKeyRange })],
];

describe.each(persistences)('a queued named mutation survives a restart (%s persistence)', (_, open) => {
  it('comes back on the overlay and is sent again with its id, name and args', async () => {
    const args = { id: 'a', by: 5, note: { tags: ['x', 'y'] } };
    const first = backend(false);
    const s1 = createTestScheduler();
    const c1 = createClient({ scheduler: s1, random: seededRandom(1), persistence: open(), mutators });
    c1.collection({ id: 'counters', source: first.source });
    await c1.ready;
    const tx = c1.mutate('add', args);
    await until(s1, () => first.sent.length > 0);
    expect(first.sent.map((r) => r.transaction.mutator)).toEqual([{ name: 'add', args }]);
    await c1.flush();
    await c1.close();

    const second = backend(true);
    const s2 = createTestScheduler();
    const c2 = createClient({ scheduler: s2, random: seededRandom(2), persistence: open(), mutators });
    const counters = c2.collection({ id: 'counters', source: second.source });
    await c2.ready;
    expect(counters.get('a')).toEqual({ id: 'a', n: 5 });
    await until(s2, () => second.sent.length > 0);
    expect(second.sent).toHaveLength(1);
    const resent = second.sent[0]!;
    expect(resent.transaction.id).toBe(tx.id);
    expect(resent.transaction.mutator).toEqual({ name: 'add', args });
    expect(resent.cells.map((c) => [c.field, c.value])).toEqual([
      ['id', 'a'],
      ['n', 5],
    ]);
    await c2.close();
  });
});

describe('outbox format of a named mutation', () => {
  it('round-trips name and args; an entry without them (older data) reads back as plain', async () => {
    const s = createTestScheduler();
    const { source } = backend(false);
    const client = createClient({ scheduler: s, mutators });
    client.collection({ id: 'counters', source });
    const tx = client.mutate('add', { id: 'a', by: 1 });
    await s.settle();
    const json = serializeTransaction(tx);
    expect(json.mutator).toEqual({ name: 'add', args: { id: 'a', by: 1 } });
    expect(deserializeTransaction(JSON.parse(JSON.stringify(json)), 0, 'test').mutator).toEqual({
      name: 'add',
      args: { id: 'a', by: 1 },
    });
    const { mutator: _, ...older } = json;
    expect(deserializeTransaction(older as typeof json, 0, 'test').mutator).toBeUndefined();
    expect(() => deserializeTransaction({ ...json, mutator: { args: 1 } }, 0, 'test')).toThrow(
      expect.objectContaining({ code: 'persistence_corrupt' }),
    );
  });
});
