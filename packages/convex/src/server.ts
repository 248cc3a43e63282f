/**
 * `@omnisync/convex/server`: the server side of seed 004's SyncProvider protocol as Convex
 * functions. In your app's `convex/` folder:
 *
 *     // convex/schema.ts
 *     import { defineSchema } from 'convex/server';
 *     import { syncTables } from '@omnisync/convex/server';
 *     export default defineSchema({ ...syncTables });
 *
 *     // convex/sync.ts  (the names the ConvexSyncProvider calls: sync.push, sync.pull…)
 *     import { defineSyncFunctions } from '@omnisync/convex/server';
 *     export const { push, pull, watchChanges, updateCursor } = defineSyncFunctions();
 *
 * Per scope one ordered change log (`version` 1, 2, …, in commit order; every entry stamped
 * by the server's HLC, which has received every writer's HLC), applied op ids (a repeated op
 * answers success and changes nothing), per field the HLC of the value held (last-write-wins
 * per field) and tombstones (delete wins). A push is one Convex mutation, so one
 * serializable transaction: every op is checked first and one refused op applies nothing.
 */
import { createHlc, DELETED_FIELD, isValidHlc } from '@omnisync/core';
import type { PendingOp, PullResponse, PushResult, SyncChange } from '@omnisync/client';
import {
  type DataModelFromSchemaDefinition,
  type defineSchema,
  defineTable,
  type GenericDatabaseReader,
  type GenericDatabaseWriter,
  mutationGeneric,
  queryGeneric,
} from 'convex/server';
import { v } from 'convex/values';

/** The tables the sync functions use: spread them into your schema. */
export const syncTables = {
  sync_heads: defineTable({ scope: v.string(), version: v.number(), hlc: v.string() }).index('by_scope', [
    'scope',
  ]),
  sync_changes: defineTable({
    scope: v.string(),
    version: v.number(),
    tableName: v.string(),
    pk: v.string(),
    op: v.union(v.literal('put'), v.literal('delete')),
    /** JSON of the fields set (field paths are not always valid Convex field names). */
    payload: v.optional(v.string()),
    unset: v.optional(v.array(v.string())),
    hlc: v.string(),
    deviceId: v.string(),
    opId: v.string(),
    serverHlc: v.string(),
  }).index('by_scope_version', ['scope', 'version']),
  sync_ops: defineTable({ scope: v.string(), opId: v.string() }).index('by_scope_op', ['scope', 'opId']),
  sync_fields: defineTable({
    scope: v.string(),
    tableName: v.string(),
    pk: v.string(),
    field: v.string(),
    /** JSON of the value; absent when the field is unset. */
    value: v.optional(v.string()),
    hlc: v.string(),
  }).index('by_key', ['scope', 'tableName', 'pk', 'field']),
  sync_tombstones: defineTable({
    scope: v.string(),
    tableName: v.string(),
    pk: v.string(),
    hlc: v.string(),
  }).index('by_key', ['scope', 'tableName', 'pk']),
  sync_cursors: defineTable({ scope: v.string(), deviceId: v.string(), version: v.number() }).index(
    'by_device',
    ['scope', 'deviceId'],
  ),
};

/** A server rule: the reason to refuse an op (non-retryable), or undefined to accept it. */
export type ConvexOpRule = (op: PendingOp) => string | undefined;

/** Options of {@link defineSyncFunctions}. */
export interface SyncFunctionsOptions {
  /** Refuse ops (permissions, validation); a refused op fails its whole batch. */
  readonly rule?: ConvexOpRule;
  /** Largest pull page (default 500). */
  readonly maxLimit?: number;
}

const scope = v.object({ workspaceId: v.string() });
const stamp = v.object({
  hlc: v.string(),
  deviceId: v.string(),
  opId: v.string(),
  clock: v.optional(v.number()),
});
const op = v.object({
  id: v.string(),
  tableName: v.string(),
  pk: v.string(),
  op: v.union(v.literal('put'), v.literal('delete')),
  payload: v.optional(v.any()),
  unset: v.optional(v.array(v.string())),
  stamp,
  createdAt: v.number(),
});

type SyncDataModel = DataModelFromSchemaDefinition<ReturnType<typeof defineSchema<typeof syncTables>>>;
type Db = GenericDatabaseReader<SyncDataModel>;
type DbWriter = GenericDatabaseWriter<SyncDataModel>;
type Doc = Record<string, any>;

const toChange = (d: Doc): SyncChange => ({
  tableName: d.tableName,
  pk: d.pk,
  op: d.op,
  ...(d.payload !== undefined ? { payload: JSON.parse(d.payload) } : {}),
  ...(d.unset !== undefined ? { unset: d.unset } : {}),
  serverVersion: d.version,
  stamp: { hlc: d.hlc, deviceId: d.deviceId, opId: d.opId },
});

async function page(
  db: Db,
  s: string,
  cursor: number,
  limit: number,
  tables: readonly string[],
): Promise<PullResponse> {
  const rows = await db
    .query('sync_changes')
    .withIndex('by_scope_version', (q) => q.eq('scope', s).gt('version', cursor))
    .take(limit + 1);
  const hasMore = rows.length > limit;
  const taken = rows.slice(0, limit);
  const nextCursor = taken.length > 0 ? (taken[taken.length - 1] as Doc).version : cursor;
  const changes = taken.map(toChange).filter((c) => tables.includes(c.tableName));
  return { changes, nextCursor, hasMore };
}

function refusal(o: PendingOp, rule: ConvexOpRule | undefined): string | undefined {
  if (!isValidHlc(o.stamp.hlc)) return 'stamp.hlc is not an OmniSync HLC';
  if (o.stamp.opId !== o.id) return 'stamp.opId must equal the op id';
  if (
    o.payload !== undefined &&
    (o.payload === null || typeof o.payload !== 'object' || Array.isArray(o.payload))
  )
    return 'payload must be an object of field paths';
  if (o.payload && DELETED_FIELD in o.payload) return `${DELETED_FIELD} is reserved for deletes`;
  return rule?.(o);
}

async function applyPush(
  db: DbWriter,
  s: string,
  ops: PendingOp[],
  rule: ConvexOpRule | undefined,
): Promise<PushResult> {
  const fresh: PendingOp[] = [];
  const reasons: (string | undefined)[] = [];
  for (const o of ops) {
    const done = await db
      .query('sync_ops')
      .withIndex('by_scope_op', (q) => q.eq('scope', s).eq('opId', o.id))
      .first();
    reasons.push(done ? undefined : refusal(o, rule));
    if (!done && !fresh.some((f) => f.id === o.id)) fresh.push(o);
  }
  if (reasons.some((r) => r !== undefined))
    return {
      results: ops.map((o, i) => ({
        opId: o.id,
        success: false,
        retryable: false,
        ...(reasons[i] !== undefined
          ? { error: reasons[i]!, code: 'forbidden' }
          : { error: 'another op of the batch was refused' }),
      })),
    };
  const head = await db
    .query('sync_heads')
    .withIndex('by_scope', (q) => q.eq('scope', s))
    .first();
  const clock = createHlc({ nodeId: 'convex', ...(head ? { restore: head.hlc as string } : {}) });
  try {
    for (const o of fresh) clock.receive(o.stamp.hlc);
  } catch (e) {
    // A writer clock too far ahead: nothing applied; the client retries (its clock may be fixed).
    const error = e instanceof Error ? e.message : String(e);
    return {
      results: ops.map((o) => ({ opId: o.id, success: false, retryable: true, error, code: 'clock_drift' })),
    };
  }
  let version = head ? (head.version as number) : 0;
  for (const o of fresh) {
    await db.insert('sync_ops', { scope: s, opId: o.id });
    const tomb = await db
      .query('sync_tombstones')
      .withIndex('by_key', (q) => q.eq('scope', s).eq('tableName', o.tableName).eq('pk', o.pk))
      .first();
    if (tomb) continue; // delete wins
    const base = {
      scope: s,
      tableName: o.tableName,
      pk: o.pk,
      hlc: o.stamp.hlc,
      deviceId: o.stamp.deviceId,
      opId: o.id,
    };
    if (o.op === 'delete') {
      await db.insert('sync_tombstones', { scope: s, tableName: o.tableName, pk: o.pk, hlc: o.stamp.hlc });
      await db.insert('sync_changes', { ...base, op: 'delete', version: ++version, serverHlc: clock.now() });
      continue;
    }
    const payload: Record<string, unknown> = {};
    const unset: string[] = [];
    const wins = async (field: string, value: string | undefined) => {
      const held = await db
        .query('sync_fields')
        .withIndex('by_key', (q) =>
          q.eq('scope', s).eq('tableName', o.tableName).eq('pk', o.pk).eq('field', field),
        )
        .first();
      if (held && (held.hlc as string) >= o.stamp.hlc) return false;
      const row = {
        scope: s,
        tableName: o.tableName,
        pk: o.pk,
        field,
        hlc: o.stamp.hlc,
        ...(value !== undefined ? { value } : {}),
      };
      if (held) await db.replace(held._id, row);
      else await db.insert('sync_fields', row);
      return true;
    };
    for (const [f, val] of Object.entries(o.payload ?? {}))
      if (await wins(f, JSON.stringify(val))) payload[f] = val;
    for (const f of o.unset ?? []) if (await wins(f, undefined)) unset.push(f);
    if (Object.keys(payload).length === 0 && unset.length === 0) continue;
    await db.insert('sync_changes', {
      ...base,
      op: 'put',
      payload: JSON.stringify(payload),
      ...(unset.length > 0 ? { unset } : {}),
      version: ++version,
      serverHlc: clock.now(),
    });
  }
  const headRow = { scope: s, version, hlc: clock.last };
  if (head) await db.replace(head._id, headRow);
  else await db.insert('sync_heads', headRow);
  return { results: ops.map((o) => ({ opId: o.id, success: true })), serverVersion: version };
}

/**
 * The four sync functions (export them from `convex/sync.ts`):
 * `push` (mutation), `pull` (query), `watchChanges` (reactive query), `updateCursor` (mutation).
 */
export function defineSyncFunctions(options: SyncFunctionsOptions = {}) {
  const maxLimit = options.maxLimit ?? 500;
  return {
    push: mutationGeneric({
      args: { scope, deviceId: v.string(), ops: v.array(op) },
      handler: (ctx, args) =>
        applyPush(ctx.db as DbWriter, args.scope.workspaceId, args.ops as PendingOp[], options.rule),
    }),
    pull: queryGeneric({
      args: { scope, cursor: v.number(), limit: v.number(), tables: v.array(v.string()) },
      handler: (ctx, a) =>
        page(
          ctx.db,
          a.scope.workspaceId,
          Math.max(0, a.cursor),
          Math.max(1, Math.min(a.limit, maxLimit)),
          a.tables,
        ),
    }),
    /**
     * Reactive: the changes after `cursor` (up to 100) and the log head. Without a cursor,
     * only the head (where a new subscription starts).
     */
    watchChanges: queryGeneric({
      args: { scope, tables: v.array(v.string()), cursor: v.optional(v.number()) },
      handler: async (ctx, a) => {
        const head = await (ctx.db as Db)
          .query('sync_heads')
          .withIndex('by_scope', (q) => q.eq('scope', a.scope.workspaceId))
          .first();
        const at = head ? (head.version as number) : 0;
        if (a.cursor === undefined) return { head: at, changes: [] as SyncChange[] };
        const p = await page(ctx.db as Db, a.scope.workspaceId, a.cursor, 100, a.tables);
        return { head: at, changes: p.changes };
      },
    }),
    updateCursor: mutationGeneric({
      args: { scope, deviceId: v.string(), version: v.number() },
      handler: async (ctx, a) => {
        const s = a.scope.workspaceId;
        const db = ctx.db as DbWriter;
        const row = await db
          .query('sync_cursors')
          .withIndex('by_device', (q) => q.eq('scope', s).eq('deviceId', a.deviceId))
          .first();
        if (row) {
          if (row.version < a.version) await db.patch(row._id, { version: a.version });
        } else await db.insert('sync_cursors', { scope: s, deviceId: a.deviceId, version: a.version });
        return null;
      },
    }),
  };
}
