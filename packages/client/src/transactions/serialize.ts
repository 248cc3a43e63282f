/**
 * Transactions to and from the outbox's JSON form. Loading checks every field: persisted
 * data that does not read back is a {@link PersistenceCorruptError}, never dropped quietly.
 */
import {
  type Cell,
  type CellValue,
  type JsonValue,
  PersistenceCorruptError,
  validateCell,
} from '@omnisync/core';
import type { PersistedTransaction } from '../persistence/types.js';
import type { Attempt, Doc, MutationType, TransactionError, TransactionState } from '../types.js';
import { MutationRecord } from './mutation.js';
import type { TransactionSnapshot } from './reducer.js';
import { Transaction } from './transaction.js';

/** Version of the persisted transaction format. */
export const OUTBOX_FORMAT = 1;

const STATES: ReadonlySet<string> = new Set<TransactionState>([
  'queued',
  'pending',
  'persisting',
  'persisted_awaiting_sync',
  'completed',
  'failed',
]);
const TYPES: ReadonlySet<string> = new Set<MutationType>(['insert', 'update', 'delete']);

const errorJson = (e: Error): JsonValue => ({
  name: e.name,
  message: e.message,
  ...('code' in e && typeof e.code === 'string' ? { code: e.code } : {}),
});

/** Fields of a mutation, without the repeated collection/id/hlc: `[field, value]`, unset as `[field]`. */
const cellsJson = (data: readonly unknown[]): JsonValue => {
  const out: JsonValue[] = [];
  for (let i = 0; i < data.length; i += 2)
    out.push(data[i + 1] === undefined ? [data[i] as string] : [data[i] as string, data[i + 1] as JsonValue]);
  return out;
};

/** The outbox form of a transaction. */
export function serializeTransaction(tx: Transaction): PersistedTransaction {
  const s = tx.snapshot;
  const out: Record<string, JsonValue> = {
    id: s.id,
    v: OUTBOX_FORMAT,
    state: s.state,
    strategy: tx.strategy,
    optimistic: tx.optimistic,
    created_at: s.created_at.getTime(),
    updated_at: s.updated_at.getTime(),
    current_attempt: s.current_attempt,
    attempts: s.attempts.map((a) => {
      const o: Record<string, JsonValue> = { id: a.id, started_at: a.started_at.getTime() };
      if (a.completed_at) o.completed_at = a.completed_at.getTime();
      if (a.error) o.error = errorJson(a.error);
      if (a.retry_scheduled_for) o.retry_scheduled_for = a.retry_scheduled_for.getTime();
      return o;
    }),
    mutations: tx.records.map((m) => ({
      mutationId: m.mutationId,
      type: m.type,
      collection: m.collection,
      key: m.key,
      hlc: m.hlc,
      created_at: m.created_at.getTime(),
      original: toJson(m.original),
      modified: toJson(m.modified),
      changes: toJson(m.changes),
      metadata: toJson(m.metadata),
      cells: cellsJson(m.data),
    })),
  };
  if (s.queued_behind !== undefined) out.queued_behind = s.queued_behind;
  // Optional: outboxes written before schema versions existed read back unchanged.
  if (tx.schemaVersion !== undefined) out.schema_version = tx.schemaVersion;
  // Named mutation (optional: outboxes written before it existed read back unchanged).
  if (tx.mutator)
    out.mutator =
      tx.mutator.args === undefined
        ? { name: tx.mutator.name }
        : { name: tx.mutator.name, args: tx.mutator.args };
  if (s.error) {
    const e: Record<string, JsonValue> = { message: s.error.message, error: errorJson(s.error.error) };
    if (s.error.transaction_id !== undefined) e.transaction_id = s.error.transaction_id;
    out.error = e;
  }
  return out as PersistedTransaction;
}

/** JSON form of a document or metadata: Dates become ISO strings; what JSON cannot hold is dropped. */
function toJson(v: unknown): JsonValue {
  if (v === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(v)) as JsonValue;
  } catch {
    return null;
  }
}

/** A persisted error read back: an Error with the saved name, message and code. */
function errorFrom(j: unknown): Error {
  const o = (j ?? {}) as { name?: unknown; message?: unknown; code?: unknown };
  const e = new Error(typeof o.message === 'string' ? o.message : 'unknown error');
  if (typeof o.name === 'string') e.name = o.name;
  if (typeof o.code === 'string') (e as Error & { code: string }).code = o.code;
  return e;
}

/**
 * Rebuild a transaction. `seq` gives its creation order. Throws PersistenceCorruptError
 * naming what is wrong.
 */
export function deserializeTransaction(p: PersistedTransaction, seq: number, where: string): Transaction {
  const bad = (what: string): never => {
    throw new PersistenceCorruptError(
      `${where}: outbox transaction ${JSON.stringify(p?.id)} is unreadable (${what}). The local data is damaged; nothing was dropped. Inspect or clear the persistence.`,
      { details: { transaction_id: p?.id, problem: what } },
    );
  };
  const o = p as unknown as Record<string, unknown>;
  if (typeof o !== 'object' || o === null) bad('not an object');
  if (typeof o.id !== 'string' || o.id.length === 0) bad('no id');
  if (o.v !== OUTBOX_FORMAT) bad(`format ${String(o.v)}, expected ${OUTBOX_FORMAT}`);
  if (typeof o.state !== 'string' || !STATES.has(o.state)) bad(`state ${JSON.stringify(o.state)}`);
  if (o.strategy !== 'ordered' && o.strategy !== 'parallel') bad('strategy');
  const num = (x: unknown, name: string): number =>
    typeof x === 'number' && Number.isFinite(x) ? x : bad(name);
  const created = num(o.created_at, 'created_at');
  const updated = num(o.updated_at, 'updated_at');
  if (!Array.isArray(o.attempts)) bad('attempts');
  if (!Array.isArray(o.mutations)) bad('mutations');
  const attempts: Attempt[] = (o.attempts as unknown[]).map((a, i) => {
    const r = a as Record<string, unknown>;
    if (typeof r !== 'object' || r === null || typeof r.id !== 'string') bad(`attempt #${i}`);
    let at: Attempt = { id: r.id as string, started_at: new Date(num(r.started_at, `attempt #${i}`)) };
    if (r.completed_at !== undefined)
      at = { ...at, completed_at: new Date(num(r.completed_at, `attempt #${i}`)) };
    if (r.error !== undefined) at = { ...at, error: errorFrom(r.error) };
    if (r.retry_scheduled_for !== undefined)
      at = { ...at, retry_scheduled_for: new Date(num(r.retry_scheduled_for, `attempt #${i}`)) };
    return at;
  });
  let snap: TransactionSnapshot = {
    id: o.id as string,
    state: o.state as TransactionState,
    created_at: new Date(created),
    updated_at: new Date(updated),
    attempts,
    current_attempt: num(o.current_attempt, 'current_attempt'),
  };
  if (typeof o.queued_behind === 'string') snap = { ...snap, queued_behind: o.queued_behind };
  if (o.error !== undefined) {
    const e = o.error as Record<string, unknown>;
    if (typeof e !== 'object' || e === null || typeof e.message !== 'string') bad('error');
    let err: TransactionError = { message: e.message as string, error: errorFrom(e.error) };
    if (typeof e.transaction_id === 'string') err = { ...err, transaction_id: e.transaction_id };
    snap = { ...snap, error: err };
  }
  const tx = new Transaction(snap.id, created, seq, {
    strategy: o.strategy as 'ordered' | 'parallel',
    optimistic: o.optimistic !== false,
  });
  if (o.schema_version !== undefined) {
    const v = o.schema_version;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) bad('schema_version');
    tx.schemaVersion = v as number;
  }
  if (o.mutator !== undefined) {
    const mu = o.mutator as Record<string, unknown>;
    if (typeof mu !== 'object' || mu === null || typeof mu.name !== 'string' || mu.name.length === 0)
      bad('mutator');
    tx.mutator =
      mu.args === undefined
        ? { name: mu.name as string }
        : { name: mu.name as string, args: mu.args as JsonValue };
  }
  tx.records = [];
  (o.mutations as unknown[]).forEach((mu, i) => {
    const m = mu as Record<string, unknown>;
    const at = `mutation #${i}`;
    if (typeof m !== 'object' || m === null) bad(at);
    if (typeof m.mutationId !== 'string' || typeof m.type !== 'string' || !TYPES.has(m.type))
      bad(`${at} kind`);
    if (typeof m.collection !== 'string' || typeof m.key !== 'string' || typeof m.hlc !== 'string')
      bad(`${at} target`);
    if (!Array.isArray(m.cells)) bad(`${at} cells`);
    const data: unknown[] = [];
    (m.cells as unknown[]).forEach((c, j) => {
      if (!Array.isArray(c) || typeof c[0] !== 'string' || c.length > 2) bad(`${at} cell #${j}`);
      const arr = c as unknown[];
      const cell: Cell = {
        collection: m.collection as string,
        id: m.key as string,
        field: arr[0] as string,
        value: (arr.length === 2 ? arr[1] : undefined) as CellValue,
        hlc: m.hlc as string,
      };
      try {
        validateCell(cell, j);
      } catch (err) {
        bad(`${at} cell #${j}: ${(err as Error).message}`);
      }
      data.push(cell.field, cell.value);
    });
    const obj = (x: unknown, name: string): Record<string, any> =>
      typeof x === 'object' && x !== null && !Array.isArray(x)
        ? (x as Record<string, any>)
        : bad(`${at} ${name}`);
    tx.records.push(
      new MutationRecord(
        tx,
        m.mutationId as string,
        m.type as MutationType,
        m.collection as string,
        m.key as string,
        m.hlc as string,
        obj(m.original, 'original'),
        obj(m.modified, 'modified') as Doc,
        obj(m.changes, 'changes'),
        data,
        m.metadata ?? undefined,
        new Date(num(m.created_at, `${at} created_at`)),
      ),
    );
  });
  tx.setSnapshot(snap);
  return tx;
}
