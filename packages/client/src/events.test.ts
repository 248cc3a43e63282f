import { NonRetriableError } from '@omnisync/core';
import { describe, expect, it } from 'vitest';
import type { ClientEvent } from './events.js';
import { createTestCollection } from './testing/index.js';

type Row = { id: string; n: number };

describe('event stream (seed 004 hook names, testing kit backend)', () => {
  it('emits captured, push, state changes, pull, conflict and error events', async () => {
    const { collection, syncControl, client } = createTestCollection<Row>({
      initialData: [{ id: 'a', n: 0 }],
      strategy: 'parallel',
      client: { retry: { retries: 1, jitter: 0, baseDelay: 10 } },
    });
    const events: ClientEvent[] = [];
    client.events.onAny((e) => events.push(e));
    const states: string[] = [];
    client.events.on('transaction:stateChange', (e) => states.push(`${e.from}>${e.to}`));
    await syncControl.settle();

    const tx = collection.update('a', { n: 1 });
    await syncControl.settle();
    expect(events.map((e) => e.type)).toContain('sync.op:action:captured');
    expect(events.find((e) => e.type === 'sync.push:action:after')).toMatchObject({
      transaction: tx,
      attempt: 1,
    });
    expect(states).toEqual([
      'pending>persisting',
      'persisting>persisted_awaiting_sync',
      'persisted_awaiting_sync>completed',
    ]);

    syncControl.setNetworkDelay(50);
    collection.update('a', { n: 2 });
    await syncControl.settle();
    syncControl.emitUpdate([{ id: 'a', n: 9 }]); // parallel: merged under the pending write
    expect(events.find((e) => e.type === 'sync.conflict:action:detected')).toMatchObject({
      collection: 'test',
      id: 'a',
    });
    expect(events.filter((e) => e.type === 'sync.pull:action:received').length).toBeGreaterThanOrEqual(2);

    syncControl.failPersists(2);
    collection.update('a', { n: 3 });
    await syncControl.advance(200);
    const errors = events.filter((e) => e.type === 'sync.error:action');
    expect(errors.map((e) => (e as { retryable: boolean }).retryable)).toEqual([true, false]);

    syncControl.failNextPersist(new NonRetriableError('no'));
    collection.update('a', { n: 4 });
    await syncControl.advance(100);
    expect(errors.length + 1).toBe(events.filter((e) => e.type === 'sync.error:action').length);
  });

  it('a handler that throws is reported to onError and does not stop the others', async () => {
    const seen: Error[] = [];
    const { collection, syncControl, client } = createTestCollection<Row>({
      client: { onError: (e) => seen.push(e) },
    });
    await syncControl.settle();
    let after = 0;
    client.events.on('sync.op:action:captured', () => {
      throw new Error('bad handler');
    });
    client.events.on('sync.op:action:captured', () => after++);
    collection.insert({ id: 'x', n: 1 });
    expect(after).toBe(1);
    expect(seen.map((e) => e.message)).toEqual(['bad handler']);
  });
});
