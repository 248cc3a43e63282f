/**
 * The tab coordinator on Node's real BroadcastChannel and the in-process lock (a test
 * double of navigator.locks, see in-process-lock.ts); several coordinators are several tabs.
 * The browser behaviour is covered in test/multitab/multitab.chromium.test.ts.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createMemoryPersistence } from '../persistence/memory.js';
import type { PersistedTransaction, Persistence } from '../persistence/types.js';
import { broadcastChannels } from './browser-tabs.js';
import { createInProcessTabLock } from './in-process-lock.js';
import { TabCoordinator } from './tab-coordinator.js';
import type { TabLock } from './types.js';

const open: TabCoordinator[] = [];
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});

let n = 0;
function tab(name: string, lock: TabLock, tabId: string): TabCoordinator {
  const c = new TabCoordinator({
    name,
    tabId,
    lock,
    channel: broadcastChannels()!(`test:${name}`),
    onError: (e) => {
      throw e;
    },
  });
  open.push(c);
  return c;
}

const pending = (id: string): PersistedTransaction => ({ id, state: 'pending' });
const done = (id: string): PersistedTransaction => ({ id, state: 'completed' });

describe('TabCoordinator (Node BroadcastChannel + in-process lock)', () => {
  it('elects one leader; when it closes the next tab takes over', async () => {
    const name = `elect-${++n}`;
    const lock = createInProcessTabLock();
    const a = tab(name, lock, 'a');
    const b = tab(name, lock, 'b');
    a.attach({ recover: () => {} });
    b.attach({ recover: () => {} });
    await vi.waitFor(() => expect(a.status.peek().role).toBe('leader'));
    expect(b.status.peek().role).toBe('follower');
    a.close();
    await vi.waitFor(() => expect(b.status.peek().role).toBe('leader'));
  });

  it('the first load of an empty database settles one replica id for every tab', async () => {
    const name = `id-${++n}`;
    const lock = createInProcessTabLock();
    const shared = createMemoryPersistence();
    let next = 0;
    const newId = () => `id${++next}`;
    const [sa, sb] = await Promise.all([
      tab(name, lock, 'a').wrapPersistence(shared, newId).load(),
      tab(name, lock, 'b').wrapPersistence(shared, newId).load(),
    ]);
    expect(sa.meta.clientId).toBe('id1');
    expect(sb.meta.clientId).toBe('id1');
    expect(next).toBe(1);
  });

  it("announces a tab's new pending transactions to the others, once, and not finished ones", async () => {
    const name = `txs-${++n}`;
    const lock = createInProcessTabLock();
    const shared = createMemoryPersistence();
    const a = tab(name, lock, 'a');
    const b = tab(name, lock, 'b');
    const pa = a.wrapPersistence(shared, () => 'x');
    const seen: string[] = [];
    a.attach({ recover: () => {} });
    b.attach({ recover: (tx) => seen.push(tx.id) });
    await pa.commit({ putTransactions: [pending('t1'), done('t0')] });
    await pa.commit({ putTransactions: [pending('t1')] }); // a later state of t1: b knows it already
    await pa.commit({ putTransactions: [pending('t2')] });
    await vi.waitFor(() => expect(seen).toEqual(['t1', 't2']));
  });

  it("does not write over the pending state of another tab's transaction, but stores its end", async () => {
    const name = `own-${++n}`;
    const lock = createInProcessTabLock();
    const shared = createMemoryPersistence();
    const a = tab(name, lock, 'a');
    const b = tab(name, lock, 'b');
    const pa = a.wrapPersistence(shared, () => 'x');
    const pb: Persistence = b.wrapPersistence(shared, () => 'x');
    const seen: string[] = [];
    a.attach({ recover: () => {} });
    b.attach({ recover: (tx) => seen.push(tx.id) });
    await pa.commit({ putTransactions: [{ id: 't1', state: 'persisting', attempt: 1 }] });
    await vi.waitFor(() => expect(seen).toEqual(['t1']));
    await pb.commit({ putTransactions: [{ id: 't1', state: 'pending', attempt: 0 }] });
    expect((await shared.load()).transactions).toEqual([{ id: 't1', state: 'persisting', attempt: 1 }]);
    await pb.commit({ putTransactions: [done('t1')] });
    expect((await shared.load()).transactions).toEqual([done('t1')]);
  });
});
