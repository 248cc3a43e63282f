/**
 * The transaction state machine: a tagged union of actions and one reducer (STYLE.md 4).
 * Every state change of a transaction goes through {@link reduceTransaction}; the engine
 * decides *when* to dispatch, the reducer decides *what* the new state is, and refuses a
 * transition that the machine does not have.
 *
 *     pending ──commit──► queued ──unblocked──► pending
 *        │                  │
 *        └──attempt:start───┴─► persisting ──persisted──► persisted_awaiting_sync ──synced──► completed
 *                                 │  ▲                           │
 *              attempt:failed ────┘  └── (retry timer)           │
 *                                 │                              │
 *                                 └──────────fail────────────────┴──► failed
 *
 * A transaction keeps the `persisting` state while it waits for a retry, so it holds its
 * locks (seed 001's getLockedObjects counts `persisting`) and nothing overtakes it.
 */
import { InvalidStateError } from '@omnisync/core';
import type { Attempt, TransactionError, TransactionState } from '../types.js';

/** The immutable state of one transaction: a new object after every action. */
export interface TransactionSnapshot {
  readonly id: string;
  readonly state: TransactionState;
  readonly created_at: Date;
  readonly updated_at: Date;
  readonly attempts: readonly Attempt[];
  readonly current_attempt: number;
  readonly queued_behind?: string;
  readonly error?: TransactionError;
}

/** Everything that can happen to a transaction. `at` is the scheduler's time in ms. */
export type TransactionAction =
  | { readonly type: 'queue'; readonly at: number; readonly behind: string }
  | { readonly type: 'unqueue'; readonly at: number }
  | { readonly type: 'attempt:start'; readonly at: number; readonly attemptId: string }
  | { readonly type: 'attempt:failed'; readonly at: number; readonly error: Error; readonly retryAt?: number }
  | { readonly type: 'persisted'; readonly at: number }
  | { readonly type: 'synced'; readonly at: number }
  /** `persisted` then `synced` at once (a local commit confirms both): one snapshot, not two. */
  | { readonly type: 'settled'; readonly at: number }
  /**
   * `attempt:start` then `settled` at once: a local-only commit that nobody watches state by
   * state (its one attempt starts and completes at `at`).
   */
  | { readonly type: 'committed'; readonly at: number; readonly attemptId: string }
  | { readonly type: 'fail'; readonly at: number; readonly error: TransactionError };

// Transactions changing state in the same millisecond share one Date (they are read-only).
let lastMs = NaN;
let lastDate = new Date(0);
const dateAt = (ms: number): Date => (ms === lastMs ? lastDate : ((lastMs = ms), (lastDate = new Date(ms))));

/** Which actions each state accepts. */
const ALLOWED: Record<TransactionState, ReadonlySet<TransactionAction['type']>> = {
  pending: new Set(['queue', 'attempt:start', 'committed', 'fail']),
  queued: new Set(['queue', 'unqueue', 'fail']),
  persisting: new Set(['attempt:start', 'attempt:failed', 'persisted', 'settled', 'fail']),
  persisted_awaiting_sync: new Set(['synced', 'settled', 'fail']),
  completed: new Set(),
  failed: new Set(),
};

/** True when `action` is allowed in `state`. */
export function canTransition(state: TransactionState, action: TransactionAction['type']): boolean {
  return ALLOWED[state].has(action);
}

/** A new pending transaction. */
export function initialSnapshot(id: string, at: number): TransactionSnapshot {
  const d = dateAt(at);
  return { id, state: 'pending', created_at: d, updated_at: d, attempts: [], current_attempt: 0 };
}

function withoutQueue(s: TransactionSnapshot): TransactionSnapshot {
  if (s.queued_behind === undefined) return s;
  const { queued_behind: _, ...rest } = s;
  return rest;
}

function closeLastAttempt(
  attempts: readonly Attempt[],
  at: Date,
  error?: Error,
  retryAt?: Date,
): readonly Attempt[] {
  const n = attempts.length;
  const last = attempts[n - 1];
  if (!last || last.completed_at !== undefined) return attempts;
  const closed: { -readonly [K in keyof Attempt]: Attempt[K] } = {
    id: last.id,
    started_at: last.started_at,
    completed_at: at,
  };
  if (error !== undefined) closed.error = error;
  if (retryAt !== undefined) closed.retry_scheduled_for = retryAt;
  if (n === 1) return [closed];
  const out = attempts.slice();
  out[n - 1] = closed;
  return out;
}

/**
 * The one reducer. Throws {@link InvalidStateError} for a transition the machine does not
 * have (a bug in the engine, or a finished transaction being driven again).
 */
export function reduceTransaction(s: TransactionSnapshot, action: TransactionAction): TransactionSnapshot {
  if (!ALLOWED[s.state].has(action.type))
    throw new InvalidStateError(
      `Transaction ${s.id} cannot take "${action.type}" in state "${s.state}". A finished transaction cannot be changed; create a new one.`,
      { details: { transaction_id: s.id, state: s.state, action: action.type } },
    );
  const at = dateAt(action.at);
  switch (action.type) {
    case 'queue':
      return { ...s, state: 'queued', queued_behind: action.behind, updated_at: at };
    case 'unqueue':
      return { ...withoutQueue(s), state: 'pending', updated_at: at };
    case 'attempt:start':
      return {
        ...withoutQueue(s),
        state: 'persisting',
        updated_at: at,
        attempts: [...closeLastAttempt(s.attempts, at), { id: action.attemptId, started_at: at }],
        current_attempt: s.current_attempt + 1,
      };
    case 'attempt:failed':
      return {
        ...s,
        updated_at: at,
        attempts: closeLastAttempt(
          s.attempts,
          at,
          action.error,
          action.retryAt === undefined ? undefined : new Date(action.retryAt),
        ),
      };
    case 'persisted':
      return {
        ...s,
        state: 'persisted_awaiting_sync',
        updated_at: at,
        attempts: closeLastAttempt(s.attempts, at),
      };
    case 'synced':
      return { ...s, state: 'completed', updated_at: at };
    case 'settled':
      return { ...s, state: 'completed', updated_at: at, attempts: closeLastAttempt(s.attempts, at) };
    case 'committed': {
      // From pending, which holds no queue mark and no error: the snapshot is built whole.
      const attempt: Attempt = { id: action.attemptId, started_at: at, completed_at: at };
      return {
        id: s.id,
        state: 'completed',
        created_at: s.created_at,
        updated_at: at,
        attempts: s.attempts.length === 0 ? [attempt] : [...s.attempts, attempt],
        current_attempt: s.current_attempt + 1,
      };
    }
    case 'fail':
      return {
        ...withoutQueue(s),
        state: 'failed',
        updated_at: at,
        attempts: closeLastAttempt(s.attempts, at, action.error.error),
        error: action.error,
      };
  }
}
