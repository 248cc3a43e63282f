/**
 * Recovery after a restart, at each transaction state (seed 001): the outbox lives in a
 * memory persistence store that outlives the client; a "crash" freezes the first client
 * (its later commits never land) and a second client opens the same store. The backend is
 * a fake mutationFn (no real peer for a developer-provided one).
 */
import { type Cell, encodeHlc, PersistenceCorruptError, seededRandom } from '@omnisync/core';
import { describe, expect, it } from 'vitest';
import { createClient } from '../client.js';
import {
  createMemoryPersistence,
  createMemoryPersistenceStore,
  type MemoryPersistenceStore,
} from '../persistence/memory.js';
import type { Persistence } from '../persistence/types.js';
import type { SourceContext } from '../sources/types.js';
import { createTestScheduler } from '../testing/test-scheduler.js';

type Row = { id: string; n: number };

/** A persistence that stops landing commits after `commits` of them (a crash). */
function crashable(inner: Persistence, commits = Infinity) {
  let left = commits;
  const p: Persistence & { crash(): void } = {
    name: inner.name,
    load: () => inner.load(),
    commit: (b) => (left-- > 0 ? inner.commit(b) : new Promise<void>(() => {})),
    clear: () => inner.clear(),
    close: () => inner.close(),
    crash: () => void (left = 0),
  };
  return p;
}

interface BootOptions {
  commits?: number;
  delay?: number;
  awaitSync?: () => Promise<void>;
  fail?: boolean;
  history?: number;
  seed?: number;
}

async function boot(store: MemoryPersistenceStore, o: BootOptions = {}) {
  const scheduler = createTestScheduler();
  const persistence = crashable(createMemoryPersistence({ store }), o.commits);
  const client = createClient({
    scheduler,
    persistence,
    random: seededRandom(o.seed ?? 1),
    retry: { jitter: 0 },
    transactionHistory: o.history ?? 100,
  });
  const calls: { tx: string; attempt: number }[] = [];
  const rows = client.collection<Row>({
    id: 'rows',
    mutationFn: {
      persist: async ({ transaction, attempt }) => {
        calls.push({ tx: transaction.id, attempt });
        if (o.delay) await new Promise<void>((r) => scheduler.setTimeout(r, o.delay!));
        if (o.fail) throw new Error('down');
      },
      ...(o.awaitSync ? { awaitSync: o.awaitSync } : {}),
    },
  });
  await client.ready;
  await scheduler.settle();
  return { scheduler, client, rows, calls, persistence };
}

describe('recovery after a restart (memory persistence store shared across clients)', () => {
  it('pending: retried by the next client', async () => {
    const store = createMemoryPersistenceStore();
    const a = await boot(store, { commits: 2 }); // the client id, then the outbox entry; nothing after
    const tx = a.rows.insert({ id: 'x', n: 1 });
    await a.scheduler.settle();
    const stored = await createMemoryPersistence({ store }).load();
    expect(stored.transactions.map((t) => [t.id, t.state])).toEqual([[tx.id, 'pending']]);
    const b = await boot(store);
    const recovered = b.client.transactions.get().find((t) => t.id === tx.id)!;
    expect(b.calls).toEqual([{ tx: tx.id, attempt: 1 }]);
    await b.scheduler.settle();
    expect(recovered.state).toBe('completed');
    expect(b.rows.get('x')).toEqual({ id: 'x', n: 1 });
  });

  it('persisting: retried (attempt numbering continues), visible meanwhile', async () => {
    const store = createMemoryPersistenceStore();
    const a = await boot(store, { delay: 1000 });
    const tx = a.rows.insert({ id: 'x', n: 1 });
    await a.scheduler.settle();
    expect(tx.state).toBe('persisting');
    a.persistence.crash();
    const b = await boot(store, { delay: 10 });
    const recovered = b.client.transactions.get().find((t) => t.id === tx.id)!;
    expect(recovered.state).toBe('persisting');
    expect(b.rows.get('x')).toEqual({ id: 'x', n: 1 }); // the optimistic write is back on the overlay
    expect(b.calls).toEqual([{ tx: tx.id, attempt: 2 }]);
    await b.scheduler.advance(10);
    expect(recovered.state).toBe('completed');
    expect(recovered.attempts).toHaveLength(2);
    expect(b.client.store.base.get('rows', 'x')).toEqual({ id: 'x', n: 1 });
  });

  it('persisted_awaiting_sync: taken as synced, never sent again', async () => {
    const store = createMemoryPersistenceStore();
    const a = await boot(store, { awaitSync: () => new Promise<void>(() => {}) });
    const tx = a.rows.insert({ id: 'x', n: 1 });
    await a.scheduler.settle();
    expect(tx.state).toBe('persisted_awaiting_sync');
    a.persistence.crash();
    const b = await boot(store);
    const recovered = b.client.transactions.get().find((t) => t.id === tx.id)!;
    expect(recovered.state).toBe('completed');
    expect(b.calls).toEqual([]);
    expect(b.rows.get('x')).toEqual({ id: 'x', n: 1 });
    expect(b.client.store.pending('rows', 'x')).toEqual([]);
    // ...and still so after a third start: applied once, not twice.
    await b.client.flush();
    const c = await boot(store);
    expect(c.calls).toEqual([]);
    expect(c.client.transactions.get().filter((t) => t.id === tx.id)).toHaveLength(1);
  });

  it('queued: re-queued behind the recovered lock holder, then sent in order', async () => {
    const store = createMemoryPersistenceStore();
    const a = await boot(store, { delay: 1000 });
    a.rows.insert({ id: 'x', n: 0 });
    await a.scheduler.advance(1000);
    const t1 = a.rows.update('x', { n: 1 });
    const t2 = a.rows.update('x', { n: 2 });
    await a.scheduler.settle();
    expect([t1.state, t2.state]).toEqual(['persisting', 'queued']);
    a.persistence.crash();
    const b = await boot(store, { delay: 10 });
    const [r1, r2] = [t1.id, t2.id].map((id) => b.client.transactions.get().find((t) => t.id === id)!);
    expect(r2!.state).toBe('queued');
    expect(r2!.queued_behind).toBe(t1.id);
    expect(b.rows.get('x')?.n).toBe(2);
    await b.scheduler.advance(10);
    expect(r1!.state).toBe('completed');
    await b.scheduler.advance(10);
    expect(r2!.state).toBe('completed');
    expect(b.calls.map((c) => c.tx)).toEqual([t1.id, t2.id]);
    expect(b.client.store.base.get('rows', 'x')).toEqual({ id: 'x', n: 2 });
  });

  it('completed and failed: kept for inspection up to the history limit, not re-applied', async () => {
    const store = createMemoryPersistenceStore();
    const a = await boot(store, { history: 3 });
    for (let i = 0; i < 5; i++) a.rows.insert({ id: `r${i}`, n: i });
    await a.scheduler.settle();
    await a.client.flush();
    const b = await boot(store, { history: 3, fail: true });
    const failed = b.rows.insert({ id: 'f', n: 9 });
    await b.scheduler.runAll();
    expect(failed.state).toBe('failed');
    await b.client.flush();
    const c = await boot(store, { history: 3 });
    const kept = c.client.transactions.get();
    expect(kept.map((t) => t.state)).toEqual(['completed', 'completed', 'failed']);
    expect(kept[2]!.error?.message).toBe('down');
    expect(c.calls).toEqual([]);
    expect(c.rows.count()).toBe(5);
    expect(c.rows.get('f')).toBeUndefined();
    const state = await createMemoryPersistence({ store }).load();
    expect(state.transactions).toHaveLength(3);
  });

  it('the HLC never goes backwards across a restart', async () => {
    const store = createMemoryPersistenceStore();
    const a = await boot(store);
    a.rows.insert({ id: 'x', n: 1 });
    await a.scheduler.settle();
    await a.client.flush();
    const stamp = a.client.store.base.cell('rows', 'x', 'n')!.hlc;
    const b = await boot(store); // its scheduler starts at the same time again
    expect(b.client.clientId).toBe(a.client.clientId);
    expect(b.client.hlc.now() > stamp).toBe(true);
  });
});

describe('persistence mirrors the last-writer-wins base (regressions from the seeded simulation)', () => {
  /** A client whose source is cell-based (an in-test fake backend), on a shared memory store. */
  async function cellClient(store: MemoryPersistenceStore, delay: number) {
    const scheduler = createTestScheduler();
    let ctx!: SourceContext;
    const client = createClient({
      scheduler,
      persistence: createMemoryPersistence({ store }),
      random: seededRandom(5),
    });
    const rows = client.collection<Row>({
      id: 'rows',
      source: {
        id: 'fake',
        kind: 'remote',
        start: (c) => void (ctx = c),
        persist: () => new Promise<void>((r) => scheduler.setTimeout(r, delay)),
      },
    });
    await client.ready;
    await scheduler.settle();
    return { client, rows, scheduler, apply: (cells: Cell[]) => ctx.applyCells(cells) };
  }
  const stamp = (wall: number, node: string) => encodeHlc({ wall, counter: 0, node });

  it('a newer remote cell held behind our write is stored, and our older confirmed cell does not overwrite it', async () => {
    const store = createMemoryPersistenceStore();
    const a = await cellClient(store, 100);
    a.rows.insert({ id: 'x', n: 0 });
    await a.scheduler.advance(100);
    a.rows.update('x', { n: 1 });
    await a.scheduler.settle();
    a.apply([{ collection: 'rows', id: 'x', field: 'n', value: 58, hlc: stamp(1_700_000_000_150, 'other') }]);
    expect(a.rows.get('x')?.n).toBe(1); // held while our write is persisting
    await a.scheduler.advance(100);
    expect(a.rows.get('x')?.n).toBe(58); // released: the newer remote value wins
    await a.client.flush();
    const b = await cellClient(store, 100);
    expect(b.rows.get('x')?.n).toBe(58);
  });

  it('an older remote cell that loses in memory is not stored over the winner', async () => {
    const store = createMemoryPersistenceStore();
    const a = await cellClient(store, 10);
    a.rows.insert({ id: 'x', n: 1 });
    await a.scheduler.advance(10);
    a.apply([{ collection: 'rows', id: 'x', field: 'n', value: 0, hlc: stamp(1_600_000_000_000, 'other') }]);
    expect(a.rows.get('x')?.n).toBe(1);
    await a.client.flush();
    const b = await cellClient(store, 10);
    expect(b.rows.get('x')?.n).toBe(1);
  });
});

describe('corrupt persisted state', () => {
  const corrupt = (state: {
    cells?: unknown[];
    transactions?: unknown[];
    meta?: Record<string, unknown>;
  }) => {
    const commits: unknown[] = [];
    const p: Persistence = {
      name: 'in-test corrupt persistence',
      load: async () => ({ cells: [], transactions: [], meta: {}, ...state }) as never,
      commit: async (b) => void commits.push(b),
      clear: async () => {
        throw new Error('must not be cleared');
      },
      close: async () => {},
    };
    return { p, commits };
  };

  it.each([
    ['an unreadable transaction', { transactions: [{ id: 't1', v: 1, state: 'exploded' }] }],
    [
      'a transaction with a bad cell',
      {
        transactions: [
          {
            id: 't1',
            v: 1,
            state: 'pending',
            strategy: 'ordered',
            created_at: 1,
            updated_at: 1,
            current_attempt: 0,
            attempts: [],
            mutations: [
              {
                mutationId: 'm',
                type: 'insert',
                collection: 'rows',
                key: 'x',
                hlc: 'nope',
                created_at: 1,
                original: {},
                modified: {},
                changes: {},
                cells: [['n', 1]],
              },
            ],
          },
        ],
      },
    ],
    ['a bad base cell', { cells: [{ collection: 'rows', id: '', field: 'n', value: 1, hlc: 'x' } as Cell] }],
    ['a bad clock', { meta: { hlc: 'not-a-clock' } }],
  ])('%s is reported with PersistenceCorruptError, and nothing is emptied', async (_, state) => {
    const { p, commits } = corrupt(state);
    const errors: Error[] = [];
    const client = createClient({
      scheduler: createTestScheduler(),
      persistence: p,
      onError: (e) => errors.push(e),
    });
    const rows = client.collection<Row>({ id: 'rows' });
    await expect(client.ready).rejects.toBeInstanceOf(PersistenceCorruptError);
    await Promise.resolve();
    expect(rows.status.get()).toBe('error');
    expect(errors[0]).toBeInstanceOf(PersistenceCorruptError);
    // A write is still accepted in memory but never committed over the unreadable data.
    rows.insert({ id: 'y', n: 1 });
    await Promise.resolve();
    expect(commits).toEqual([]);
  });
});
