/**
 * Every transaction path of seed 001, on fake time (a test scheduler) and a fake backend
 * (the testing kit's: no real peer exists for a developer-provided mutationFn).
 */
import {
  DependencyFailedError,
  encodeHlc,
  NonRetriableError,
  OmniSyncError,
  seededRandom,
} from '@omnisync/core';
import { describe, expect, it } from 'vitest';
import { createTestCollection } from '../testing/index.js';
import type { PendingMutation } from '../types.js';
import { getLockedObjects } from './locks.js';
import { resolveRetry, retryDelay } from './retry.js';

type Row = { id: string; n: number; note?: string };

async function started(
  initialData: Row[] = [
    { id: 'a', n: 0 },
    { id: 'b', n: 0 },
  ],
  extra: Parameters<typeof createTestCollection<Row>>[0] = {},
) {
  const t = createTestCollection<Row>({ initialData, ...extra });
  await t.syncControl.settle();
  expect(t.collection.status.get()).toBe('ready');
  return t;
}

describe('ordered strategy (fake backend)', () => {
  it('a second write to a locked document queues behind the lock holder, then runs', async () => {
    const { collection, syncControl, client } = await started();
    syncControl.setNetworkDelay(100);
    const t1 = collection.update('a', { n: 1 });
    const t2 = collection.update('a', { n: 2 });
    const t3 = collection.update('b', { n: 9 });
    expect(t2.state).toBe('queued');
    expect(t2.queued_behind).toBe(t1.id);
    expect(collection.get('a')?.n).toBe(2); // both optimistic writes visible, in order
    await syncControl.settle();
    expect(t1.state).toBe('persisting');
    expect(t3.state).toBe('persisting'); // another document: not queued
    expect(getLockedObjects(client.transactions.get())).toEqual(new Set(['test/a', 'test/b']));
    expect(syncControl.persistCalls.map((c) => c.transactionId)).toEqual([t1.id, t3.id]);

    await syncControl.advance(100);
    expect(t1.state).toBe('completed');
    expect(t2.state).toBe('persisting');
    expect(t2.queued_behind).toBeUndefined();
    expect(syncControl.persistCalls[2]).toMatchObject({ transactionId: t2.id, at: 1_700_000_000_100 });
    await syncControl.advance(100);
    expect(t2.state).toBe('completed');
    expect(collection.get('a')?.n).toBe(2);
    expect(client.store.base.get('test', 'a')).toEqual({ id: 'a', n: 2 });
    expect(syncControl.persistCalls[0]!.changes).toEqual({ a: { n: 1 } });
  });

  it('when the holder fails, the transactions queued behind it roll back with DependencyFailedError', async () => {
    const { collection, syncControl } = await started();
    syncControl.setNetworkDelay(10);
    syncControl.failNextPersist(new NonRetriableError('rejected by server'));
    const t1 = collection.update('a', { n: 1 });
    const t2 = collection.update('a', { n: 2 });
    const t3 = collection.update('a', { note: 'x' });
    const other = collection.update('b', { n: 5 });
    expect(t3.queued_behind).toBe(t2.id);
    await syncControl.advance(10);
    expect(t1.state).toBe('failed');
    expect(t1.error?.message).toBe('rejected by server');
    expect(t2.state).toBe('failed');
    expect(t2.error?.transaction_id).toBe(t1.id);
    expect(t2.error?.error).toBeInstanceOf(DependencyFailedError);
    expect(t3.state).toBe('failed');
    expect(t3.error?.transaction_id).toBe(t2.id);
    await expect(t2.promise).rejects.toBeInstanceOf(DependencyFailedError);
    expect(collection.get('a')).toEqual({ id: 'a', n: 0 }); // every optimistic write to a rolled back
    await syncControl.advance(10);
    expect(other.state).toBe('completed');
    expect(collection.get('b')?.n).toBe(5);
    expect(syncControl.persistCalls.map((c) => c.transactionId)).not.toContain(t2.id);
  });

  it('sync updates to a locked document are held until the lock is released', async () => {
    const { collection, syncControl, client } = await started();
    syncControl.setNetworkDelay(100);
    const conflicts: string[] = [];
    client.events.on('sync.conflict:action:detected', (e) => conflicts.push(e.id));
    const t1 = collection.update('a', { n: 1 });
    await syncControl.settle();
    syncControl.emitUpdate([
      { id: 'a', n: 7 },
      { id: 'b', n: 3 },
    ]);
    expect(client.store.base.get('test', 'a')).toEqual({ id: 'a', n: 0 }); // held
    expect(collection.get('b')?.n).toBe(3); // not locked: applied at once
    expect(collection.get('a')?.n).toBe(1);
    expect(conflicts).toEqual(['a']);
    await syncControl.advance(100);
    expect(t1.state).toBe('completed');
    expect(collection.get('a')?.n).toBe(7); // the backend's later word, applied on release
    expect(client.store.base.get('test', 'a')).toEqual({ id: 'a', n: 7 });
  });
});

describe('retries', () => {
  it('retries 4 times (5 attempts) with exponential backoff and jitter: exact delays under a seeded random', async () => {
    const jitterSeed = 99;
    const { collection, syncControl } = await started(undefined, {
      client: { retry: { random: seededRandom(jitterSeed) } },
    });
    syncControl.failPersists(10, new Error('offline'));
    const tx = collection.update('a', { n: 1 });
    await syncControl.runAll();
    expect(tx.state).toBe('failed');
    expect(tx.attempts).toHaveLength(5);
    expect(tx.current_attempt).toBe(5);
    const policy = resolveRetry({}, seededRandom(jitterSeed));
    const expected = [1, 2, 3, 4].map((n) => retryDelay(policy, n));
    // 1000·2^(n−1) scaled by 0.5..1: each lies in its band.
    expected.forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(500 * 2 ** i);
      expect(d).toBeLessThanOrEqual(1000 * 2 ** i);
    });
    const gaps = tx.attempts
      .slice(0, 4)
      .map((a) => a.retry_scheduled_for!.getTime() - a.completed_at!.getTime());
    expect(gaps).toEqual(expected);
    const starts = tx.attempts.map((a) => a.started_at.getTime() - 1_700_000_000_000);
    let t = 0;
    expect(starts).toEqual([0, ...expected.map((d) => (t += d))]);
    expect(syncControl.persistCalls.map((c) => c.attempt)).toEqual([1, 2, 3, 4, 5]);
    expect(tx.attempts[4]!.retry_scheduled_for).toBeUndefined();
    expect(tx.error?.message).toBe('offline');
    expect(collection.get('a')?.n).toBe(0);
  });

  it('succeeds on a retry and completes', async () => {
    const { collection, syncControl } = await started(undefined, {
      client: { retry: { jitter: 0, baseDelay: 50 } },
    });
    syncControl.failPersists(2);
    const tx = collection.update('a', { n: 1 });
    await syncControl.settle();
    expect(tx.state).toBe('persisting');
    expect(tx.attempts[0]!.error?.message).toBe('Simulated persist failure');
    await syncControl.advance(50);
    expect(tx.current_attempt).toBe(2);
    await syncControl.advance(100);
    expect(tx.state).toBe('completed');
    expect(tx.attempts.map((a) => a.started_at.getTime() - 1_700_000_000_000)).toEqual([0, 50, 150]);
  });

  it('NonRetriableError stops at once and rolls back', async () => {
    const { collection, syncControl, scheduler } = await started();
    syncControl.failNextPersist(new NonRetriableError('invalid title'));
    const tx = collection.update('a', { n: 1 });
    await syncControl.settle();
    expect(tx.state).toBe('failed');
    expect(tx.attempts).toHaveLength(1);
    expect(scheduler.pending).toBe(0);
    expect(tx.error?.error).toBeInstanceOf(NonRetriableError);
    expect(collection.get('a')?.n).toBe(0);
  });

  it('a persist that throws a non-Error value is normalised into an OmniSyncError', async () => {
    const { collection, syncControl } = await started(undefined, { client: { retry: { retries: 0 } } });
    syncControl.failNextPersist({ status: 500, body: 'boom' });
    const tx = collection.update('a', { n: 1 });
    await syncControl.settle();
    expect(tx.state).toBe('failed');
    expect(tx.error?.error).toBeInstanceOf(OmniSyncError);
    expect(tx.error?.message).toContain('boom');
    expect(tx.attempts[0]!.error).toBeInstanceOf(Error);
  });
});

describe('parallel strategy', () => {
  it('persists at once, re-applies merge on every sync, and does not roll back others', async () => {
    const merge = (synced: Row | undefined, pending: readonly PendingMutation[]) =>
      synced && { ...synced, n: synced.n + pending.reduce((s, m) => s + ((m.changes.n as number) ?? 0), 0) };
    const { collection, syncControl } = await started([{ id: 'a', n: 10 }], {
      strategy: { type: 'parallel', merge: merge as never },
    });
    syncControl.setNetworkDelay(100);
    const t1 = collection.update('a', { n: 1 });
    const t2 = collection.update('a', { n: 2 });
    expect(t2.state).toBe('pending');
    expect(collection.get('a')?.n).toBe(13); // 10 + 1 + 2 via merge
    await syncControl.settle();
    expect(syncControl.persistCalls.map((c) => c.transactionId)).toEqual([t1.id, t2.id]); // both in flight
    syncControl.emitUpdate([{ id: 'a', n: 20 }]);
    expect(collection.get('a')?.n).toBe(23); // merge re-applied on the new synced data
    syncControl.failNextPersist(new NonRetriableError('no'));
    // t1's call already passed the failure check; the next call to fail would be a new one:
    const t3 = collection.update('a', { n: 4 });
    await syncControl.advance(100);
    expect(t1.state).toBe('completed');
    expect(t2.state).toBe('completed');
    expect(t3.state).toBe('failed');
    expect(t3.error?.transaction_id).toBeUndefined();
  });
});

describe('pessimistic writes (optimistic: false)', () => {
  it('show nothing until the backend confirms, then the confirmed value', async () => {
    const { collection, syncControl, client } = await started();
    syncControl.setNetworkDelay(100);
    const p = client.write(
      () => {
        collection.update('a', { n: 5 });
        collection.insert({ id: 'c', n: 1 });
      },
      { optimistic: false },
    );
    let settled = false;
    void p.then(() => (settled = true));
    await syncControl.advance(50);
    expect(collection.get('a')?.n).toBe(0);
    expect(collection.get('c')).toBeUndefined();
    expect(settled).toBe(false);
    await syncControl.advance(50);
    const tx = await p;
    expect(tx.state).toBe('completed');
    expect(tx.mutations).toHaveLength(2);
    expect(collection.get('a')?.n).toBe(5);
    expect(collection.get('c')).toEqual({ id: 'c', n: 1 });
  });

  it('a second write to one document in the same transaction gets a later stamp and wins', async () => {
    const { collection, syncControl, client } = await started();
    // 9 then 1: with a shared stamp the tie would go to the larger value, 9.
    const p = client.write(
      () => {
        collection.update('a', { n: 9 });
        collection.update('a', { n: 1 });
      },
      { optimistic: false },
    );
    await syncControl.settle();
    const tx = await p;
    const [first, second] = tx.mutations;
    expect(first!.hlc).toBe(tx.id);
    expect(second!.hlc > first!.hlc).toBe(true);
    expect(collection.get('a')?.n).toBe(1);
  });

  it('applies the value the backend answered with', async () => {
    const { collection, syncControl } = await started(undefined, {
      mutationFn: {
        persist: async () => ({
          cells: [
            {
              collection: 'test',
              id: 'a',
              field: 'n',
              value: 42,
              hlc: encodeHlc({ wall: 1_700_000_000_005, counter: 0, node: 'server' }),
            },
          ],
        }),
      },
    });
    const tx = collection.update('a', { n: 5 }, { optimistic: false });
    await syncControl.settle();
    expect(tx.state).toBe('completed');
    expect(collection.get('a')?.n).toBe(42); // the backend's confirmed value, not the one we sent
  });

  it('a failed pessimistic write never shows and rejects its promise', async () => {
    const { collection, syncControl } = await started();
    syncControl.failNextPersist(new NonRetriableError('forbidden'));
    const tx = collection.update('a', { n: 5 }, { optimistic: false });
    await syncControl.settle();
    await expect(tx.promise).rejects.toThrow('forbidden');
    expect(collection.get('a')?.n).toBe(0);
  });
});

describe('all-or-nothing across collections', () => {
  it('a transaction spanning two collections commits as one, and rolls back as one', async () => {
    const { collection: a, syncControl, client } = await started();
    const b = client.collection<Row>({ id: 'other' });
    syncControl.failNextPersist(new NonRetriableError('no'));
    const tx = client.transaction(() => {
      a.update('a', { n: 1 });
      b.insert({ id: 'x', n: 1 });
    });
    expect(tx.mutations.map((m) => m.collection)).toEqual(['test', 'other']);
    expect(a.get('a')?.n).toBe(1);
    expect(b.get('x')).toBeDefined();
    await syncControl.settle();
    expect(tx.state).toBe('failed');
    expect(a.get('a')?.n).toBe(0);
    expect(b.get('x')).toBeUndefined();
  });

  it('a throw inside the transaction function applies nothing', async () => {
    const { collection: a, client } = await started();
    const b = client.collection<Row>({ id: 'other' });
    expect(() =>
      client.transaction(() => {
        a.update('a', { n: 1 });
        b.insert({ id: 'x', n: 1 });
        b.update('missing', { n: 1 });
      }),
    ).toThrow(/no document with id "missing"/);
    expect(a.get('a')?.n).toBe(0);
    expect(b.get('x')).toBeUndefined();
    expect(client.transactions.get()).toHaveLength(0);
  });

  it('writes share the transaction stamp; a second write to one document gets a later one and wins', async () => {
    const { collection, client, syncControl } = await started();
    const tx = client.transaction(() => {
      collection.insert({ id: 'c', n: 1 });
      collection.update('c', { n: 2 });
      collection.update('a', { n: 3 });
    });
    const [ins, upd, other] = tx.mutations;
    expect(ins!.hlc).toBe(tx.id);
    expect(other!.hlc).toBe(tx.id);
    expect(upd!.hlc > tx.id).toBe(true);
    await syncControl.settle();
    expect(client.store.base.get('test', 'c')).toEqual({ id: 'c', n: 2 });
    expect(client.store.base.get('test', 'a')).toEqual({ id: 'a', n: 3 });
  });

  it('notifies listeners once per transaction', async () => {
    const { collection, client, syncControl } = await started();
    const calls: number[] = [];
    client.store.subscribe((changes) => calls.push(changes.length));
    client.transaction(() => {
      collection.update('a', { n: 1 });
      collection.update('b', { n: 1 });
      collection.insert({ id: 'c', n: 1 });
    });
    expect(calls).toEqual([3]);
    await syncControl.settle(); // confirmation changes nothing visible: no notification
    expect(calls).toEqual([3]);
  });
});

describe('awaitSync', () => {
  it('stays persisted_awaiting_sync until the sync delivered the change', async () => {
    let release!: () => void;
    const { collection, syncControl } = await started(undefined, {
      mutationFn: { awaitSync: () => new Promise<void>((r) => (release = r)) },
    });
    const tx = collection.update('a', { n: 1 });
    await syncControl.settle();
    expect(tx.state).toBe('persisted_awaiting_sync');
    release();
    await syncControl.settle();
    expect(tx.state).toBe('completed');
  });
});
