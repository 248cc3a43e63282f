import { convexTest } from 'convex-test';
import { describe, expect, it } from 'vitest';
import { anyApi } from 'convex/server';
import { providerConformanceSuite } from '@omnisync/client/testing';
import { ConvexSyncProvider, type ConvexClientLike } from '../src/index.js';
import schema from './convex/schema.js';

// convex-test finds the functions by path under the folder that holds `_generated`; the app
// here has no generated code (function references are `anyApi`), so that entry is empty.
const modules = {
  'convex/_generated/api.js': async () => ({}),
  'convex/schema.ts': () => import('./convex/schema.js'),
  'convex/sync.ts': () => import('./convex/sync.js'),
};

/**
 * A Convex client over convex-test's in-memory backend. convex-test runs the real functions
 * but has no reactive subscriptions, so `onUpdate` re-runs its query after every mutation
 * made through this client (what Convex's reactivity would push), delivering changed results.
 */
function convexTestClient(t: ReturnType<typeof convexTest>) {
  const watchers = new Set<() => Promise<void>>();
  const rerun = async () => {
    for (const w of [...watchers]) await w();
  };
  const client: ConvexClientLike = {
    query: (ref, args) => t.query(ref, args),
    async mutation(ref, args) {
      const out = await t.mutation(ref, args);
      await rerun();
      return out;
    },
    onUpdate(ref, args, callback, onError) {
      let last = '';
      const w = async () => {
        try {
          const res = await t.query(ref, args);
          const key = JSON.stringify(res);
          if (key !== last && watchers.has(w)) {
            last = key;
            callback(res);
          }
        } catch (e) {
          onError?.(e as Error);
        }
      };
      watchers.add(w);
      void w();
      return () => void watchers.delete(w);
    },
  };
  return client;
}

providerConformanceSuite(
  'ConvexSyncProvider on convex-test (in-memory Convex backend; queries re-run after each mutation, convex-test has no subscriptions)',
  () => {
    const t = convexTest(schema, modules);
    const client = convexTestClient(t);
    return {
      provider: () => new ConvexSyncProvider(client),
      cursorOf: async (scope, deviceId) =>
        (
          await t.run((ctx) =>
            ctx.db
              .query('sync_cursors')
              .withIndex('by_device', (q) => q.eq('scope', scope.workspaceId).eq('deviceId', deviceId))
              .first(),
          )
        )?.version,
    };
  },
  { describe, it },
);

describe('Convex sync functions: bad input', () => {
  it('refuse arguments of the wrong shape (validators) and ops with a bad HLC, applying nothing', async () => {
    const t = convexTest(schema, modules);
    await expect(t.mutation(anyApi.sync!.push as any, { scope: { workspaceId: 'w' } })).rejects.toThrow(
      /Validator|validator|missing/i,
    );
    const op = {
      id: 'o1',
      tableName: 'items',
      pk: 'a',
      op: 'put',
      payload: { id: 'a' },
      stamp: { hlc: 'not-an-hlc', deviceId: 'd', opId: 'o1' },
      createdAt: 0,
    };
    const res = await t.mutation(anyApi.sync!.push as any, {
      scope: { workspaceId: 'w' },
      deviceId: 'd',
      ops: [op],
    });
    expect(res).toMatchObject({ results: [{ opId: 'o1', success: false, retryable: false }] });
    const rows = await t.run((ctx) => ctx.db.query('sync_changes').collect());
    expect(rows).toEqual([]);
  });

  it('a failing Convex call reaches the source as a typed ProviderError', async () => {
    const t = convexTest(schema, modules);
    const p = new ConvexSyncProvider(convexTestClient(t));
    await expect(
      p.pull({ scope: { workspaceId: 'w' }, cursor: 'x' as never, limit: 1, tables: [] }),
    ).rejects.toMatchObject({ name: 'ProviderError', code: 'provider_failed' });
  });
});
