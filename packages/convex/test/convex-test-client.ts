/** A Convex client over convex-test, for the provider tests and the backend bench. */
import type { convexTest } from 'convex-test';
import type { ConvexClientLike } from '../src/index.js';

/**
 * A Convex client over convex-test's in-memory backend. convex-test runs the real functions
 * but has no reactive subscriptions, so `onUpdate` re-runs its query after every mutation
 * made through this client (what Convex's reactivity would push), delivering changed results.
 */
export function convexTestClient(t: ReturnType<typeof convexTest>) {
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
