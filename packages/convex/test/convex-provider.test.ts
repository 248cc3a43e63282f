import { convexTest } from 'convex-test';
import { describe, expect, it } from 'vitest';
import { anyApi } from 'convex/server';
import { providerConformanceSuite } from '@omnisync/client/testing';
import { ConvexSyncProvider } from '../src/index.js';
import schema from './convex/schema.js';
import { convexTestClient } from './convex-test-client.js';

// convex-test finds the functions by path under the folder that holds `_generated`; the app
// here has no generated code (function references are `anyApi`), so that entry is empty.
const modules = {
  'convex/_generated/api.js': async () => ({}),
  'convex/schema.ts': () => import('./convex/schema.js'),
  'convex/sync.ts': () => import('./convex/sync.js'),
};

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
