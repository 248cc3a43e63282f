// What an app without OmniSync writes: Convex functions on its own table.
import { mutationGeneric, queryGeneric } from 'convex/server';
import { v } from 'convex/values';

const row = v.object({ key: v.string(), title: v.string(), n: v.number() });

export const insertMany = mutationGeneric({
  args: { rows: v.array(row) },
  handler: async (ctx, { rows }) => {
    for (const r of rows) await ctx.db.insert('rows', r);
  },
});

export const list = queryGeneric({ args: {}, handler: (ctx) => ctx.db.query('rows').collect() });

export const setN = mutationGeneric({
  args: { keys: v.array(v.string()), n: v.number() },
  handler: async (ctx, { keys, n }) => {
    for (const key of keys) {
      const doc = await ctx.db
        .query('rows')
        .withIndex('by_key', (q) => q.eq('key', key))
        .unique();
      if (doc) await ctx.db.patch(doc._id, { n });
    }
  },
});
