/**
 * Seed 001's adapter (sync + mutationFn) through a real client; the sync and the backend are
 * in-test fakes (no real peer exists for developer-provided functions).
 */
import { ValidationError } from '@omnisync/core';
import { describe, expect, it } from 'vitest';
import { createClient } from '../client.js';
import type { ClientEvent } from '../events.js';
import { createTestScheduler } from '../testing/test-scheduler.js';
import type { SyncInstance } from './sync-mutation.js';
import type { RemoteDocuments } from './types.js';

type Row = { id: string; n: number };

function setup(initial: RemoteDocuments) {
  const scheduler = createTestScheduler();
  const client = createClient({ scheduler });
  const events: ClientEvent[] = [];
  client.events.onAny((e) => events.push(e));
  let onUpdate!: (d: RemoteDocuments) => void;
  let syncSeen: SyncInstance | undefined;
  const changesSeen: unknown[] = [];
  const rows = client.collection<Row>({
    sync: {
      id: 'rows',
      setup: async (p) => {
        onUpdate = p.onUpdate;
        return { data: initial };
      },
    },
    mutationFn: {
      persist: async ({ changes }) => void changesSeen.push(changes),
      awaitSync: async ({ sync }) => {
        syncSeen = sync;
        await sync.nextUpdate();
      },
    },
  });
  return {
    scheduler,
    client,
    rows,
    events,
    emit: (d: RemoteDocuments) => onUpdate(d),
    changesSeen,
    sync: () => syncSeen,
  };
}

describe('seed 001 adapter: sync + mutationFn (in-test fakes)', () => {
  it('takes its id from sync.id, loads initial data (array or record), and reports status', async () => {
    const { rows, scheduler, events } = setup({ a: { id: 'a', n: 1 }, b: { n: 2 } as never });
    expect(rows.id).toBe('rows');
    expect(rows.status.get()).toBe('loading');
    await scheduler.settle();
    expect(rows.status.get()).toBe('ready');
    expect(rows.all().map((r) => [r.id, r.n])).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
    const statuses = events
      .filter((e) => e.type === 'sync.subscription:action:statusChange')
      .map((e) => (e as { status: string }).status);
    expect(statuses).toEqual(['connecting', 'ready']);
    expect(events.some((e) => e.type === 'sync.pull:action:received' && e.count === 2)).toBe(true);
  });

  it('applies updates and deletes (null or _deleted: true)', async () => {
    const { rows, scheduler, emit } = setup([
      { id: 'a', n: 1 },
      { id: 'b', n: 2 },
    ]);
    await scheduler.settle();
    emit([
      { id: 'a', n: 5 },
      { id: 'b', _deleted: true },
    ]);
    expect(rows.get('a')?.n).toBe(5);
    expect(rows.get('b')).toBeUndefined();
    emit({ a: null });
    expect(rows.count()).toBe(0);
  });

  it('refuses malformed sync data with a typed error, applying none of it', async () => {
    const { rows, scheduler, emit } = setup([{ id: 'a', n: 1 }]);
    await scheduler.settle();
    expect(() => emit([{ id: 'b', n: 1 }, { n: 2 } as never])).toThrow(ValidationError);
    expect(rows.get('b')).toBeUndefined();
  });

  it('passes changes by id to persist and the sync instance to awaitSync', async () => {
    const { rows, scheduler, emit, changesSeen, sync } = setup([{ id: 'a', n: 1 }]);
    await scheduler.settle();
    const tx = rows.update('a', { n: 2 });
    await scheduler.settle();
    expect(changesSeen).toEqual([{ a: { n: 2 } }]);
    expect(tx.state).toBe('persisted_awaiting_sync');
    expect(sync()?.id).toBe('rows');
    emit([{ id: 'a', n: 2 }]);
    await scheduler.settle();
    expect(tx.state).toBe('completed');
    expect(rows.get('a')?.n).toBe(2);
  });
});
