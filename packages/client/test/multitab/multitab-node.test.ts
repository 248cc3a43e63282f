/**
 * Multi-tab clients in one Node process against a real in-process OmniSync server over
 * loopback: the "tabs" share one memory persistence (standing in for the origin's IndexedDB,
 * which Node lacks) and run on Node's real BroadcastChannel and the in-process lock (a test
 * double of navigator.locks). The browser runs are in multitab.chromium.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { createClient, type Client } from '../../src/client.js';
import { createMemoryPersistence } from '../../src/persistence/memory.js';
import type { Persistence } from '../../src/persistence/types.js';
import { broadcastChannels } from '../../src/multitab/browser-tabs.js';
import { createInProcessTabLock } from '../../src/multitab/in-process-lock.js';
import type { TabLock } from '../../src/multitab/types.js';
import { eventually, inProcessServer, serverDocuments } from '../sync/helpers.js';

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
