import { effect } from '@omnisync/core';
import { describe, expect, it } from 'vitest';
import { createTestCollection } from './index.js';

type Row = { id: string; n: number };

describe('createTestCollection (seed 001 harness)', () => {
  it('drives sync, network delay and persist failures on fake time', async () => {
    const { collection, syncControl, scheduler } = createTestCollection<Row>({
      initialData: [{ id: 'a', n: 0 }],
      client: { retry: { jitter: 0, baseDelay: 1000 } },
    });
    await syncControl.settle();
    expect(collection.get('a')?.n).toBe(0);

    syncControl.setNetworkDelay(500);
    syncControl.failNextPersist();
    const tx = collection.update('a', { n: 1 });
    await syncControl.advance(499);
    expect(tx.state).toBe('persisting');
    await syncControl.advance(1);
    expect(tx.attempts[0]?.error?.message).toBe('Simulated persist failure');
    await syncControl.advance(1500); // retry after 1000, then 500 of network
    expect(tx.state).toBe('completed');
    expect(scheduler.now() - 1_700_000_000_000).toBe(2000);
    expect(syncControl.persistCalls.map((c) => [c.attempt, c.outcome, c.at - 1_700_000_000_000])).toEqual([
      [1, 'failed', 0],
      [2, 'ok', 1500],
    ]);
  });

  it('emitUpdate is reactive', async () => {
    const { collection, syncControl } = createTestCollection<Row>({ initialData: [{ id: 'a', n: 0 }] });
    await syncControl.settle();
    const seen: number[] = [];
    const e = effect(() => void seen.push(collection.get('a')?.n ?? -1));
    syncControl.emitUpdate([{ id: 'a', n: 7 }]);
    e.stop();
    expect(seen).toEqual([0, 7]);
  });
});
