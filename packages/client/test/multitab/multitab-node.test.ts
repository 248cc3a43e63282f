/**
 * Multi-tab clients in one Node process against a real in-process OmniSync server over
 * loopback: the "tabs" share one memory persistence (standing in for the origin's IndexedDB,
 * which Node lacks) and run on Node's real BroadcastChannel and the in-process lock (a test
 * double of navigator.locks). The browser runs are in multitab.chromium.test.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineMutators, MutationRejectedError, NonRetriableError } from '@omnisync/core';
import { createServer } from '@omnisync/server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type Client } from '../../src/client.js';
import { createMemoryPersistence } from '../../src/persistence/memory.js';
import type { Persistence } from '../../src/persistence/types.js';
import { broadcastChannels } from '../../src/multitab/browser-tabs.js';
import { createInProcessTabLock } from '../../src/multitab/in-process-lock.js';
import type { TabLock } from '../../src/multitab/types.js';
import { createNetworkSwitch, eventually, inProcessServer, serverDocuments } from '../sync/helpers.js';

const sync = inProcessServer('omnisync-multitab-node-');

/** One origin's storage: every tab uses it; a tab closing does not close it for the others. */
function sharedStorage(): Persistence {
  const inner = createMemoryPersistence();
  return { ...inner, name: inner.name, close: async () => {} };
}

function openTab(app: string, storage: Persistence, lock: TabLock): Client {
  return createClient({
    app,
    server: sync.url,
    persistence: storage,
    multiTab: { name: app, lock, channel: broadcastChannels()! },
    serverOptions: { WebSocket: null, pollIntervalMs: 50, backoff: { baseDelayMs: 20, maxDelayMs: 100 } },
  });
}

type Todo = { id: string; title: string };

describe('multi-tab clients (Node, real server, in-process lock)', () => {
  it("a follower's write shows in the leader at once, reaches the server through it, and a takeover keeps syncing", async () => {
    const app = 'mt-node';
    const storage = sharedStorage();
    const lock = createInProcessTabLock();
    const a = openTab(app, storage, lock);
    await a.ready;
    const b = openTab(app, storage, lock);
    await b.ready;
    const ta = a.collection<Todo>({ id: 'todos' });
    const tb = b.collection<Todo>({ id: 'todos' });
    await eventually(() => a.tabs?.get().role === 'leader', 'a to lead');
    expect(b.tabs?.get().role).toBe('follower');
    expect(b.clientId).toBe(a.clientId);
    expect(b.hlc.nodeId).not.toBe(a.hlc.nodeId);

    const tx = tb.insert({ id: 'x', title: 'from b' });
    await eventually(() => ta.get('x')?.title === 'from b', "b's pending write in a");
    await tx.promise;
    expect((await serverDocuments(sync.url, app, 'todos')).map((d) => d.id)).toEqual(['x']);

    // A write of another device reaches the follower through the leader's pull.
    const other = createClient({ app, server: sync.url, serverOptions: { WebSocket: null } });
    await other.collection<Todo>({ id: 'todos' }).insert({ id: 'z', title: 'another device' }).promise;
    await eventually(() => tb.get('z')?.title === 'another device', "the other device's write in b", 20_000);
    await other.close();

    await a.close();
    await eventually(() => b.tabs?.get().role === 'leader', 'b to take over');
    await tb.insert({ id: 'y', title: 'after the takeover' }).promise;
    await eventually(
      async () => (await serverDocuments(sync.url, app, 'todos')).length === 3,
      'the second write on the server',
    );
    await b.close();
  });
});

const mutators = defineMutators({
  async increment(tx, args: { id: string }) {
    const c = await tx.get('counters', args.id);
    await tx.set('counters', args.id, { n: ((c?.n as number | undefined) ?? 0) + 1, touchedBy: tx.location });
  },
  async withdraw(tx, args: { id: string; amount: number }) {
    const a = await tx.get('accounts', args.id);
    const balance = (a?.balance as number | undefined) ?? 0;
    if (balance < args.amount)
      return tx.reject(`insufficient funds: balance ${balance}, asked ${args.amount}`);
    await tx.set('accounts', args.id, { balance: balance - args.amount });
  },
});

describe('multi-tab named mutations (Node, real server with mutators)', () => {
  let dir = '';
  let server: ReturnType<typeof createServer>;
  let url = '';
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'omnisync-multitab-mut-'));
    server = createServer({ dataDir: join(dir, 'server'), durability: 'off', logLevel: 'silent', mutators });
    url = (await server.listen(0)).url;
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("a follower's mutation ends with the server's result in every tab; a rejection rolls back with the server's reason", async () => {
    const app = 'mt-mutators';
    const storage = sharedStorage();
    const lock = createInProcessTabLock();
    const net = createNetworkSwitch(); // the leader's network
    const tab = (fetch?: typeof net.fetch) =>
      createClient({
        app,
        server: url,
        mutators,
        persistence: storage,
        multiTab: { name: app, lock, channel: broadcastChannels()! },
        serverOptions: { WebSocket: null, pollIntervalMs: 50, ...(fetch ? { fetch } : {}) },
      });
    const a = tab(net.fetch);
    await a.ready;
    const b = tab();
    await b.ready;
    const ca = a.collection<{ id: string; n: number; touchedBy?: string }>({ id: 'counters' });
    const cb = b.collection<{ id: string; n: number; touchedBy?: string }>({ id: 'counters' });
    b.collection({ id: 'accounts' });
    a.collection({ id: 'accounts' });
    await eventually(() => a.tabs?.get().role === 'leader', 'a to lead');

    await b.mutate('increment', { id: 'c1' }).promise;
    expect(cb.get('c1')).toEqual({ id: 'c1', n: 1, touchedBy: 'server' });
    await eventually(() => ca.get('c1')?.touchedBy === 'server', "the server's result in the leader");

    // Another device funds the account; then, while the leader is offline, spends most of it.
    const other = createClient({ app, server: url, mutators, serverOptions: { WebSocket: null } });
    other.collection({ id: 'accounts' });
    await other.collection({ id: 'accounts' }).insert({ id: 'acc', balance: 10 }).promise;
    const accounts = b.getCollection<{ id: string; balance: number }>('accounts')!;
    await eventually(() => accounts.get('acc')?.balance === 10, 'the funded account in the follower');
    net.online = false;
    await other.mutate('withdraw', { id: 'acc', amount: 8 }).promise;
    const tx = b.mutate('withdraw', { id: 'acc', amount: 5 });
    await eventually(() => accounts.get('acc')?.balance === 5, 'the optimistic withdrawal in the follower');
    net.online = true;
    const error = await tx.promise.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(NonRetriableError);
    expect((error as Error).message).toContain('insufficient funds: balance 2, asked 5');
    expect((error as Error).cause).toBeInstanceOf(MutationRejectedError);
    await eventually(() => accounts.get('acc')?.balance === 2, "the server's balance in the follower");
    await other.close();
    await b.close();
    await a.close();
  });
});
