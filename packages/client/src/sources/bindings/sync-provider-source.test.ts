import { describe, expect, it } from 'vitest';
import { createClient } from '../../client.js';
import { createTestScheduler } from '../../testing/test-scheduler.js';
import { createMemorySyncBackend } from './memory-sync-provider.js';
import { providerConformanceSuite } from './provider-suite.js';
import { createSyncProviderSource } from './sync-provider-source.js';
import type { SyncProvider } from './sync-provider-types.js';

const rule = (op: { payload?: Readonly<Record<string, unknown>> }) =>
  op.payload?.mustReject === true ? 'mustReject is refused by this backend' : undefined;

// The in-memory reference backend (a complete implementation, in process) through the suite.
providerConformanceSuite(
  'in-memory reference SyncProvider backend',
  () => {
    const backend = createMemorySyncBackend({ rule });
    return {
      provider: () => backend.provider(),
      cursorOf: (scope, device) => backend.cursors(scope).get(device),
    };
  },
  { describe, it },
);

describe('createSyncProviderSource input', () => {
  it('refuses a provider without the seed 004 methods, naming the missing one', () => {
    const p = createMemorySyncBackend().provider();
    const { push: _push, ...noPush } = p;
    expect(() => createSyncProviderSource(noPush as unknown as SyncProvider)).toThrow(/no push\(\) method/);
    expect(() => createSyncProviderSource(null as unknown as SyncProvider)).toThrow(
      expect.objectContaining({ code: 'invalid_input' }),
    );
    expect(() => createSyncProviderSource(p, { pageSize: 0 })).toThrow(/pageSize is 0/);
  });

  it('ops carry the mutation ids, HLCs and fields of a transaction', async () => {
    const backend = createMemorySyncBackend();
    const p = backend.provider();
    const batches: Parameters<SyncProvider['push']>[0][] = [];
    const spy: SyncProvider = { ...p, push: (b) => (batches.push(b), p.push(b)) };
    const client = createClient();
    const items = client.collection<{ id: string; title?: string; n?: number | undefined }>({
      id: 'items',
      source: createSyncProviderSource(spy, { scope: { workspaceId: 'w' } }),
    });
    await client.ready;
    const tx = client.transaction(() => {
      items.insert({ id: 'a', title: 'x', n: 1 });
      items.update('a', { n: undefined });
      items.delete('a');
    });
    await tx.promise;
    const ops = batches[0]!.ops;
    expect(ops.map((o) => [o.op, o.id, o.stamp.hlc, o.stamp.opId])).toEqual(
      tx.mutations.map((m) => [m.type === 'delete' ? 'delete' : 'put', m.mutationId, m.hlc, m.mutationId]),
    );
    expect(ops[0]!.payload).toEqual({ id: 'a', title: 'x', n: 1 });
    expect(ops[1]!.unset).toEqual(['n']);
    expect(batches[0]!.deviceId).toBe(client.hlc.nodeId);
    await client.close();
  });

  it('a failing catch-up is retried on the client scheduler with growing backoff (fake time)', async () => {
    const backend = createMemorySyncBackend();
    const p = backend.provider();
    let pulls = 0;
    const flaky: SyncProvider = {
      ...p,
      pull: async (r) => {
        if (++pulls <= 2) throw new Error('backend down');
        return p.pull(r);
      },
    };
    const scheduler = createTestScheduler();
    const client = createClient({ scheduler });
    const errors: string[] = [];
    client.events.on('sync.error:action', (e) => errors.push((e.error as { code?: string }).code ?? ''));
    const items = client.collection({
      id: 'items',
      source: createSyncProviderSource(flaky, { retryBaseDelayMs: 100, retryMaxDelayMs: 1000 }),
    });
    await scheduler.settle();
    expect(pulls).toBe(1);
    expect(errors).toEqual(['provider_failed']);
    await scheduler.advance(49); // the first delay is 100 ms with up to 50 % jitter off
    expect(pulls).toBe(1);
    await scheduler.advance(51);
    expect(pulls).toBe(2);
    // The second failure came at 50..100 ms; the second delay is 100..200 ms: no pull before 150.
    await scheduler.advance(49);
    expect(pulls).toBe(2);
    await scheduler.advance(300);
    expect(pulls).toBeGreaterThanOrEqual(3);
    await scheduler.settle();
    expect(items.status.peek()).toBe('ready');
    await client.close();
  });
});
