/**
 * `client.mutate(name, args)` in one process: local-only collections (the client's run is
 * the only one), and a source that runs mutators (a stand-in for the server, through the
 * kernel's Source contract), to check that a named mutation's optimistic cells are dropped,
 * never confirmed, once the backend's own result is in. The real server is exercised in
 * test/sync/named-mutations.test.ts.
 */
import {
  type Cell,
  defineMutators,
  InvalidStateError,
  InvalidValueError,
  MutationRejectedError,
  NotFoundError,
  seededRandom,
  ValidationError,
} from '@omnisync/core';
import { describe, expect, it } from 'vitest';
import { createClient } from '../client.js';
import type { PersistRequest, Source, SourceContext } from '../sources/types.js';
import { createTestScheduler } from '../testing/test-scheduler.js';

type Counter = { id: string; n: number; by?: string };

const mutators = defineMutators({
  async increment(tx, args: { id: string; by?: number }) {
    const c = await tx.get('counters', args.id);
    await tx.set('counters', args.id, { n: ((c?.n as number | undefined) ?? 0) + (args.by ?? 1) });
  },
  async incrementTwice(tx, args: { id: string }) {
    for (let i = 0; i < 2; i++) {
      const c = await tx.get('counters', args.id);
      await tx.set('counters', args.id, { n: ((c?.n as number | undefined) ?? 0) + 1 });
    }
  },
  async remove(tx, args: { id: string }) {
    if (!(await tx.get('counters', args.id))) return tx.reject(`counter ${args.id} does not exist`);
    await tx.delete('counters', args.id);
  },
  async throwing(tx) {
    await tx.set('counters', 'x', { n: 1 });
    throw new Error('boom');
  },
  async outside(tx) {
    await tx.set('elsewhere', 'x', { n: 1 });
  },
  async unawaitedBadWrite(tx) {
    void tx.set('counters', 'x', { n: Number.NaN });
    await tx.set('counters', 'y', { n: 1 });
  },
  // Writes without reading: no await needed, so it runs synchronously.
  reset(tx, args: { id: string }) {
    void tx.set('counters', args.id, { n: 0 });
  },
  async noArgs(tx) {
    await tx.set('counters', 'solo', { n: 42 });
  },
  async whoAmI(tx, args: { id: string }) {
    await tx.set('counters', args.id, {
      n: 0,
      by: `${tx.location}:${tx.clientId}:${tx.mutationId.length > 0}`,
    });
  },
});

function setup() {
  const scheduler = createTestScheduler();
  const client = createClient({ scheduler, random: seededRandom(3), clientId: 'c1', mutators });
  const counters = client.collection<Counter>({ id: 'counters' });
  return { scheduler, client, counters };
}

describe('client.mutate with local-only collections', () => {
  it('runs the mutator as one transaction; reads see its own writes; completes locally', async () => {
    const { scheduler, client, counters } = setup();
    counters.insert({ id: 'a', n: 5 });
    await scheduler.settle();
    const tx = client.mutate('incrementTwice', { id: 'a' });
    expect(tx.state).toBe('pending');
    await scheduler.settle();
    expect(counters.get('a')).toEqual({ id: 'a', n: 7 });
    expect(tx.mutations).toHaveLength(2);
    expect(tx.state).toBe('completed');
    // Local-only: nothing re-runs it, so its cells are the truth.
    expect(tx.mutator).toBeUndefined();
    expect(client.store.base.get('counters', 'a')).toEqual({ id: 'a', n: 7 });
  });

  it('creates a missing document, and passes location and ids to the mutator', async () => {
    const { scheduler, client, counters } = setup();
    client.mutate('increment', { id: 'new', by: 3 });
    client.mutate('whoAmI', { id: 'me' });
    await scheduler.settle();
    expect(counters.get('new')).toEqual({ id: 'new', n: 3 });
    expect(counters.get('me')?.by).toBe('client:c1:true');
  });

  it('a synchronous mutator shows its writes before mutate returns', () => {
    const { client, counters } = setup();
    client.mutate('reset', { id: 'r' });
    expect(counters.get('r')).toEqual({ id: 'r', n: 0 });
  });

  it('a mutator without args takes none', async () => {
    const { scheduler, client, counters } = setup();
    await client.mutate('noArgs').promise.catch(() => {});
    await scheduler.settle();
    expect(counters.get('solo')).toEqual({ id: 'solo', n: 42 });
  });

  it('tx.reject fails the transaction with MutationRejectedError and writes nothing', async () => {
    const { scheduler, client, counters } = setup();
    const tx = client.mutate('remove', { id: 'missing' });
    await expect(tx.promise).rejects.toBeInstanceOf(MutationRejectedError);
    await expect(tx.promise).rejects.toThrow('counter missing does not exist');
    await scheduler.settle();
    expect(tx.state).toBe('failed');
    expect(counters.count()).toBe(0);
  });

  it('a mutator that throws rolls back locally: nothing shows, nothing stays', async () => {
    const { scheduler, client, counters } = setup();
    const seen: unknown[] = [];
    counters.subscribe((c) => seen.push(c));
    const tx = client.mutate('throwing');
    await expect(tx.promise).rejects.toThrow('boom');
    await scheduler.settle();
    expect(counters.get('x')).toBeUndefined();
    expect(seen).toEqual([]);
    expect(tx.mutations).toHaveLength(0);
  });

  it('an unknown name throws NotFoundError synchronously and writes nothing', () => {
    const { client } = setup();
    const before = client.transactions.get().length;
    expect(() => (client.mutate as (n: string, a?: unknown) => unknown)('nope', {})).toThrow(NotFoundError);
    expect(() => (client.mutate as (n: string, a?: unknown) => unknown)('toString')).toThrow(
      expect.objectContaining({ code: 'not_found', message: expect.stringContaining('"increment"') }),
    );
    expect(client.transactions.get()).toHaveLength(before);
    const bare = createClient({ scheduler: createTestScheduler() });
    expect(() => bare.mutate('increment', {})).toThrow(expect.objectContaining({ code: 'not_found' }));
  });

  it('args that are not JSON throw InvalidValueError naming the path, and write nothing', () => {
    const { client, counters } = setup();
    const m = client.mutate as (n: string, a?: unknown) => unknown;
    const cyclic: Record<string, unknown> = { id: 'a' };
    cyclic.self = cyclic;
    for (const [args, path] of [
      [{ id: 'a', at: new Date(0) }, 'args.at'],
      [{ id: 'a', f: () => 1 }, 'args.f'],
      [{ id: 'a', by: Number.NaN }, 'args.by'],
      [{ id: 'a', list: [1, undefined] }, 'args.list[1]'],
      [{ id: 'a', big: 1n }, 'args.big'],
      [new Map(), 'args'],
      [cyclic, 'args.self'],
    ] as const) {
      expect(() => m('increment', args)).toThrow(InvalidValueError);
      expect(() => m('increment', args)).toThrow(
        expect.objectContaining({ details: expect.objectContaining({ path }) }),
      );
    }
    expect(counters.count()).toBe(0);
    expect(client.transactions.get()).toHaveLength(0);
  });

  it('inside client.transaction(fn) it throws InvalidStateError', () => {
    const { client, counters } = setup();
    expect(() =>
      client.transaction(() => {
        counters.insert({ id: 'a', n: 1 });
        client.mutate('increment', { id: 'a' });
      }),
    ).toThrow(InvalidStateError);
    expect(counters.get('a')).toBeUndefined();
  });

  it('writing a collection the client has not opened fails the mutation with ValidationError', async () => {
    const { client } = setup();
    const tx = client.mutate('outside');
    await expect(tx.promise).rejects.toBeInstanceOf(ValidationError);
    await expect(tx.promise).rejects.toThrow('client.collection({ id: "elsewhere" })');
  });

  it('a refused write fails the mutation even when the mutator did not await it', async () => {
    const { scheduler, client, counters } = setup();
    const tx = client.mutate('unawaitedBadWrite');
    await expect(tx.promise).rejects.toBeInstanceOf(InvalidValueError);
    await scheduler.settle();
    expect(counters.get('y')).toBeUndefined();
  });

  it('args are copied: changing the caller object later changes nothing', async () => {
    const { scheduler, client, counters } = setup();
    const args = { id: 'a', by: 2 };
    client.mutate('increment', args);
    args.by = 100;
    await scheduler.settle();
    expect(counters.get('a')).toEqual({ id: 'a', n: 2 });
  });

  it('types: names and args come from the mutators object', () => {
    const { client } = setup();
    const check = () => {
      client.mutate('increment', { id: 'a' });
      client.mutate('noArgs');
      // @ts-expect-error unknown mutator name
      client.mutate('nope', {});
      // @ts-expect-error args of the wrong shape
      client.mutate('increment', { id: 1 });
      // @ts-expect-error args are required
      client.mutate('increment');
    };
    expect(typeof check).toBe('function');
    // A typed client is still a Client (for providers and helpers taking one).
    const plain: import('../client.js').Client = client;
    expect(plain).toBe(client);
  });
});

/**
 * A backend that runs mutators: it records what it was sent and, when asked to await sync,
 * delivers its own "authoritative" cells, stamped *before* the client's optimistic ones, so
 * last-write-wins alone would keep the client's guess.
 */
function runnerSource() {
  let ctx!: SourceContext;
  const sent: PersistRequest[] = [];
  let result: (stamp: string) => Cell[] = () => [];
  let early = '';
  const source: Source = {
    id: 'runner',
    kind: 'remote',
    runsMutators: true,
    start(c) {
      ctx = c;
    },
    async persist(req) {
      sent.push(req);
    },
    async awaitSync() {
      ctx.applyCells(result(early));
    },
  };
  return {
    source,
    sent,
    stampNow: () => (early = ctx.hlc.now()),
    answer: (fn: (stamp: string) => Cell[]) => (result = fn),
  };
}

describe('client.mutate with a backend that runs mutators', () => {
  it('sends name and args; on completion the backend result stays, not the optimistic guess', async () => {
    const scheduler = createTestScheduler();
    const runner = runnerSource();
    const client = createClient({ scheduler, clientId: 'c1', mutators });
    const counters = client.collection<Counter>({ id: 'counters', source: runner.source });
    await scheduler.settle();
    runner.stampNow();
    // The backend saw another increment first: its answer is 2, the client guesses 1.
    runner.answer((hlc) => [
      { collection: 'counters', id: 'a', field: 'id', value: 'a', hlc },
      { collection: 'counters', id: 'a', field: 'n', value: 2, hlc },
    ]);
    const tx = client.mutate('increment', { id: 'a' });
    await scheduler.settle();
    expect(runner.sent).toHaveLength(1);
    expect(runner.sent[0]!.transaction.mutator).toEqual({ name: 'increment', args: { id: 'a' } });
    expect(runner.sent[0]!.cells.map((c) => [c.field, c.value])).toEqual([
      ['id', 'a'],
      ['n', 1],
    ]);
    await tx.promise;
    expect(tx.state).toBe('completed');
    expect(counters.get('a')).toEqual({ id: 'a', n: 2 });
    expect(client.store.base.get('counters', 'a')).toEqual({ id: 'a', n: 2 });
  });
});
