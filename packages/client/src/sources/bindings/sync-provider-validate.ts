/**
 * @internal Checks of what a SyncProvider answers (zod), and the mapping between seed 004's
 * changes/ops and OmniSync cells. A provider's answer is untrusted input: anything that is
 * not the documented shape becomes a {@link ProtocolError} (retried by the caller), before
 * anything of it is applied.
 */
import {
  type Cell,
  type CellValue,
  DELETED_FIELD,
  ID_FIELD,
  isValidHlc,
  type JsonValue,
  ProtocolError,
  describeIssue,
} from '@omnisync/core';
import * as z from 'zod/mini';
import type { PendingMutation } from '../../types.js';
import type { PendingOp, PullResponse, PushResult, SyncChange } from './sync-provider-types.js';

const hlc = z.string().check(z.refine(isValidHlc, { message: 'not an OmniSync HLC string' }));
const stamp = z.object({
  hlc,
  deviceId: z.string(),
  opId: z.string(),
  clock: z.optional(z.number()),
});
const version = z.int().check(z.nonnegative());
const change = z.object({
  tableName: z.string().check(z.minLength(1)),
  pk: z.string().check(z.minLength(1)),
  op: z.enum(['put', 'delete']),
  payload: z.optional(z.record(z.string(), z.unknown())),
  unset: z.optional(z.array(z.string())),
  serverVersion: version,
  stamp,
});
const changes = z.array(change);
const pullResponse = z.object({ changes, nextCursor: version, hasMore: z.boolean() });
const pushResult = z.object({
  results: z.array(
    z.object({
      opId: z.string(),
      success: z.boolean(),
      error: z.optional(z.string()),
      retryable: z.optional(z.boolean()),
      code: z.optional(z.string()),
    }),
  ),
  serverVersion: z.optional(version),
});

function refuse(provider: string, what: string, issue: string): ProtocolError {
  return new ProtocolError(
    `SyncProvider "${provider}" answered ${what} with something that is not what seed 004 specifies (${issue}). Nothing of it was applied and it is retried with backoff; fix the provider's ${what}().`,
    { details: { provider, call: what } },
  );
}

function firstIssue(e: z.core.$ZodError): string {
  const i = e.issues[0];
  return i === undefined ? 'invalid' : `${i.path.join('.') || '(root)'}: ${describeIssue(i)}`;
}

/** A checked pull answer for a pull from `cursor`. */
export function checkPullResponse(provider: string, cursor: number, raw: unknown): PullResponse {
  const r = pullResponse.safeParse(raw);
  if (!r.success) throw refuse(provider, 'pull', firstIssue(r.error));
  const res = r.data as PullResponse;
  let last = cursor;
  for (const [i, c] of res.changes.entries()) {
    if (c.serverVersion <= last)
      throw refuse(
        provider,
        'pull',
        `changes.${i}.serverVersion ${c.serverVersion} is not after ${last}: changes must come after the cursor, in increasing order`,
      );
    last = c.serverVersion;
  }
  if (res.nextCursor < last)
    throw refuse(provider, 'pull', `nextCursor ${res.nextCursor} is before the last change (${last})`);
  if (res.hasMore && res.nextCursor <= cursor)
    throw refuse(
      provider,
      'pull',
      `hasMore is true but nextCursor ${res.nextCursor} did not move past ${cursor}`,
    );
  return res;
}

/** Checked live changes. */
export function checkChanges(provider: string, raw: unknown): readonly SyncChange[] {
  const r = changes.safeParse(raw);
  if (!r.success) throw refuse(provider, 'subscribe', firstIssue(r.error));
  return r.data as SyncChange[];
}

/** A checked push answer: exactly one result per op sent. */
export function checkPushResult(provider: string, ops: readonly PendingOp[], raw: unknown): PushResult {
  const r = pushResult.safeParse(raw);
  if (!r.success) throw refuse(provider, 'push', firstIssue(r.error));
  const sent = new Set(ops.map((o) => o.id));
  const seen = new Set<string>();
  for (const res of r.data.results) {
    if (!sent.has(res.opId))
      throw refuse(provider, 'push', `a result for op ${res.opId}, which was not sent`);
    seen.add(res.opId);
  }
  for (const id of sent) if (!seen.has(id)) throw refuse(provider, 'push', `no result for op ${id}`);
  return r.data as PushResult;
}

/** The cells of changes (`stamp.hlc` is every cell's HLC; a delete is a tombstone cell). */
export function changeCells(provider: string, list: readonly SyncChange[]): Cell[] {
  const out: Cell[] = [];
  for (const c of list) {
    const at = { collection: c.tableName, id: c.pk, hlc: c.stamp.hlc };
    if (c.op === 'delete') {
      out.push({ ...at, field: DELETED_FIELD, value: true });
      continue;
    }
    const payload = c.payload ?? {};
    if (ID_FIELD in payload && payload[ID_FIELD] !== c.pk)
      throw refuse(provider, 'pull', `a change of ${c.tableName}/${c.pk} whose payload has another id`);
    // A put says the document exists: its id cell, whatever fields the payload brings.
    out.push({ ...at, field: ID_FIELD, value: c.pk });
    for (const field in payload)
      if (field !== ID_FIELD) out.push({ ...at, field, value: payload[field] as CellValue });
    for (const field of c.unset ?? []) out.push({ ...at, field, value: undefined });
  }
  return out;
}

/** One op per mutation: its cells, under the mutation's stable id. */
export function mutationOps(
  mutations: readonly PendingMutation[],
  cells: readonly Cell[],
  deviceId: string,
): PendingOp[] {
  const byWrite = new Map<string, Cell[]>();
  for (const c of cells) {
    const k = `${c.collection}/${c.id}/${c.hlc}`;
    const list = byWrite.get(k);
    if (list) list.push(c);
    else byWrite.set(k, [c]);
  }
  return mutations.map((m) => {
    const stamp = { hlc: m.hlc, deviceId, opId: m.mutationId };
    const base = { id: m.mutationId, tableName: m.collection, pk: m.key, stamp, createdAt: +m.created_at };
    if (m.type === 'delete') return { ...base, op: 'delete' as const };
    const payload: Record<string, JsonValue> = {};
    const unset: string[] = [];
    for (const c of byWrite.get(`${m.collection}/${m.key}/${m.hlc}`) ?? []) {
      if (c.field === DELETED_FIELD) continue;
      if (c.value === undefined) unset.push(c.field);
      else payload[c.field] = c.value;
    }
    return { ...base, op: 'put' as const, payload, ...(unset.length > 0 ? { unset } : {}) };
  });
}
