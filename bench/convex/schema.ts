// The Convex app of bench/backend-convex.bench.ts: the sync tables and a plain `rows` table
// that the direct side writes with its own functions.
import { defineSchema, defineTable } from 'convex/server';
import { v } from 'convex/values';
import { syncTables } from '../../packages/convex/src/server.ts';

export default defineSchema({
  ...syncTables,
  rows: defineTable({ key: v.string(), title: v.string(), n: v.number() }).index('by_key', ['key']),
});
