/**
 * A complete seed 004 backend in memory, with its {@link SyncProvider} client: the reference
 * the provider conformance suite is checked against, and a backend for tests and demos.
 *
 * Per scope it keeps one ordered change log (`serverVersion` 1, 2, …), the applied op ids
 * (a repeated op answers success and changes nothing), per field the HLC of its value
 * (last-write-wins per field), and tombstones (a delete wins over every write, earlier or
 * later). A batch is checked whole before anything of it is applied: one rejected op and
 * nothing of the batch is applied.
 */
import { DELETED_FIELD, type JsonValue } from '@omnisync/core';
import type {
  PendingOp,
  PullRequest,
  PullResponse,
  PushBatch,
  PushOpResult,
  PushResult,
  SyncChange,
  SyncProvider,
  SyncScope,
} from './sync-provider-types.js';

/** A backend rule: the reason to refuse an op (non-retryable), or undefined to accept it. */
export type OpRule = (op: PendingOp) => string | undefined;

interface ScopeState {
  readonly log: SyncChange[];
  readonly applied: Set<string>;
  /** `table/pk/field` → HLC of the value held. */
  readonly fieldHlc: Map<string, string>;
  readonly deleted: Set<string>;
  readonly cursors: Map<string, number>;
  readonly listeners: Set<(changes: readonly SyncChange[]) => void>;
}

/** The in-memory backend. */
export interface MemorySyncBackend {
  /** A provider (one per device) talking to this backend. */
  provider(): SyncProvider;
  /** The cursor each device reported, per scope. */
  cursors(scope: SyncScope): ReadonlyMap<string, number>;
}

/** Create an in-memory seed 004 backend; `rule` refuses ops (e.g. a permission check). */
export function createMemorySyncBackend(options: { rule?: OpRule } = {}): MemorySyncBackend {
  const scopes = new Map<string, ScopeState>();
  const stateOf = (scope: SyncScope): ScopeState => {
    let s = scopes.get(scope.workspaceId);
    if (!s)
      scopes.set(
        scope.workspaceId,
        (s = {
          log: [],
          applied: new Set(),
          fieldHlc: new Map(),
          deleted: new Set(),
          cursors: new Map(),
          listeners: new Set(),
        }),
      );
    return s;
  };

  const apply = (s: ScopeState, op: PendingOp): SyncChange | undefined => {
    const doc = `${op.tableName}/${op.pk}`;
    if (s.deleted.has(doc)) return undefined; // delete wins
    const base = { tableName: op.tableName, pk: op.pk, stamp: op.stamp };
    if (op.op === 'delete') {
      s.deleted.add(doc);
      return { ...base, op: 'delete', serverVersion: s.log.length + 1 };
    }
    const payload: Record<string, JsonValue> = {};
    const unset: string[] = [];
    const wins = (field: string) => {
      const k = `${doc}/${field}`;
      const held = s.fieldHlc.get(k);
      if (held !== undefined && held >= op.stamp.hlc) return false;
      s.fieldHlc.set(k, op.stamp.hlc);
      return true;
    };
    for (const [f, v] of Object.entries(op.payload ?? {})) if (wins(f)) payload[f] = v;
    for (const f of op.unset ?? []) if (wins(f)) unset.push(f);
    if (Object.keys(payload).length === 0 && unset.length === 0) return undefined; // nothing won
    return {
      ...base,
      op: 'put',
      payload,
      ...(unset.length > 0 ? { unset } : {}),
      serverVersion: s.log.length + 1,
    };
  };

  const push = (batch: PushBatch): PushResult => {
    const s = stateOf(batch.scope);
    const results: PushOpResult[] = [];
    const reasons = batch.ops.map((op) =>
      s.applied.has(op.id)
        ? undefined
        : op.payload && DELETED_FIELD in op.payload
          ? `${DELETED_FIELD} is not a field`
          : options.rule?.(op),
    );
    if (reasons.some((r) => r !== undefined)) {
      // All or nothing: the refused op fails, the others are not applied either.
      batch.ops.forEach((op, i) => {
        const reason = reasons[i];
        results.push(
          reason === undefined
            ? { opId: op.id, success: false, error: 'another op of the batch was refused', retryable: false }
            : { opId: op.id, success: false, error: reason, retryable: false, code: 'forbidden' },
        );
      });
      return { results };
    }
    const fresh: SyncChange[] = [];
    for (const op of batch.ops) {
      if (!s.applied.has(op.id)) {
        s.applied.add(op.id);
        const change = apply(s, op);
        if (change) {
          s.log.push(change);
          fresh.push(change);
        }
      }
      results.push({ opId: op.id, success: true });
    }
    if (fresh.length > 0) for (const l of [...s.listeners]) l(structuredClone(fresh));
    return { results, serverVersion: s.log.length };
  };

  const pull = (req: PullRequest): PullResponse => {
    const s = stateOf(req.scope);
    const after = s.log.slice(req.cursor).filter((c) => req.tables.includes(c.tableName));
    const changes = after.slice(0, req.limit);
    const hasMore = after.length > changes.length;
    const nextCursor = hasMore ? changes[changes.length - 1]!.serverVersion : s.log.length;
    return structuredClone({ changes, nextCursor: Math.max(nextCursor, req.cursor), hasMore });
  };

  return {
    provider: () => ({
      id: 'memory',
      mode: 'direct',
      async subscribe(scope, tables, onChanges) {
        const l = (changes: readonly SyncChange[]) => {
          const mine = changes.filter((c) => tables.includes(c.tableName));
          if (mine.length > 0) queueMicrotask(() => onChanges(mine));
        };
        const s = stateOf(scope);
        s.listeners.add(l);
        return () => void s.listeners.delete(l);
      },
      pull: async (req) => pull(req),
      push: async (batch) => push(structuredClone(batch)),
      async updateCursor(scope, deviceId, version) {
        stateOf(scope).cursors.set(deviceId, version);
      },
    }),
    cursors: (scope) => stateOf(scope).cursors,
  };
}
