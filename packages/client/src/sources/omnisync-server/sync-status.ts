/**
 * The server source's status: one immutable value, changed only through {@link reduceStatus}
 * (a tagged union of actions, STYLE.md 4), published as a signal for UIs.
 *
 *     connecting ──reached──► online ◄──idle── syncing ◄──busy── online
 *         │                     │  ▲
 *         └──unreachable──► offline ──(60 s)──► offline + partitioned
 *                               │
 *     any ──failed (401 twice, 403)──► error ──reached──► online
 */
import type { OmniSyncError } from '@omnisync/core';
import type { SubscriptionStatus } from '../types.js';

/** Seed 003's partition timeout: after this long offline the status says `partitioned`. */
export const PARTITION_TIMEOUT_MS = 60_000;

/** Where the source stands. */
export type ServerSyncState = 'connecting' | 'online' | 'syncing' | 'offline' | 'error';

/** What the server source reports about itself. */
export interface ServerSyncStatus {
  /** `connecting` before the first answer; `syncing` while work is in flight; `offline` while unreachable; `error` after an auth failure. */
  readonly state: ServerSyncState;
  /** The server answered the last request (or the live connection is up). */
  readonly online: boolean;
  /** Transactions waiting for the server's acknowledgement (the outbox). */
  readonly pending: number;
  /** Offline for {@link PARTITION_TIMEOUT_MS} or longer (seed 003's partition). */
  readonly partitioned: boolean;
  /** When the source went offline (scheduler time, ms), while offline. */
  readonly offlineSince?: number;
  /** When the source last caught up with the server. */
  readonly lastSyncedAt?: number;
  /** The server cursor every change up to which is applied here. */
  readonly cursor?: number;
  /** How changes arrive: over the live WebSocket, or by polling. */
  readonly transport: 'websocket' | 'polling';
  /** The last error (cleared when the server answers again). */
  readonly error?: OmniSyncError;
}

/** Everything that changes the status. `at` is scheduler time in ms. */
export type StatusAction =
  | { readonly type: 'busy'; readonly busy: boolean }
  | { readonly type: 'reached'; readonly at: number }
  | { readonly type: 'unreachable'; readonly at: number; readonly error: OmniSyncError }
  | { readonly type: 'failed'; readonly at: number; readonly error: OmniSyncError }
  | { readonly type: 'partition-check'; readonly at: number; readonly timeoutMs: number }
  | { readonly type: 'pending'; readonly count: number }
  | { readonly type: 'synced'; readonly at: number; readonly cursor: number | undefined }
  | { readonly type: 'cursor'; readonly cursor: number }
  | { readonly type: 'transport'; readonly transport: 'websocket' | 'polling' };

/** The reducer's state: the public status plus whether work is in flight (folded into `state`). */
export interface StatusState extends ServerSyncStatus {
  readonly busy: boolean;
}

/** The state before the first request. */
export function initialStatus(cursor?: number): StatusState {
  return {
    state: 'connecting',
    online: false,
    pending: 0,
    partitioned: false,
    transport: 'polling',
    busy: false,
    ...(cursor === undefined ? {} : { cursor }),
  };
}

/** The public status of a reducer state (without `busy`). */
export function publicStatus(s: StatusState): ServerSyncStatus {
  const { busy: _busy, ...status } = s;
  return status;
}

function derive(s: StatusState): ServerSyncState {
  if (s.error !== undefined && s.state === 'error') return 'error';
  if (!s.online) return s.offlineSince === undefined ? 'connecting' : 'offline';
  return s.busy ? 'syncing' : 'online';
}

function without(s: StatusState, ...keys: ('offlineSince' | 'error')[]): StatusState {
  const copy: Record<string, unknown> = { ...s };
  for (const k of keys) delete copy[k];
  return copy as unknown as StatusState;
}

/** The one reducer of the status. Returns the same object when nothing changed. */
export function reduceStatus(s: StatusState, action: StatusAction): StatusState {
  let next: StatusState;
  switch (action.type) {
    case 'busy':
      if (s.busy === action.busy) return s;
      next = { ...s, busy: action.busy };
      break;
    case 'reached':
      if (s.online && s.error === undefined) return s;
      next = { ...without(s, 'offlineSince', 'error'), online: true, partitioned: false, state: 'online' };
      break;
    case 'unreachable':
      next = {
        ...s,
        online: false,
        offlineSince: s.offlineSince ?? action.at,
        error: action.error,
        state: 'offline',
      };
      break;
    case 'failed':
      // The server answered (401/403), so it is reachable; it just will not let us in.
      next = {
        ...without(s, 'offlineSince'),
        online: true,
        partitioned: false,
        error: action.error,
        state: 'error',
      };
      break;
    case 'partition-check':
      if (s.partitioned || s.online || s.offlineSince === undefined) return s;
      if (action.at - s.offlineSince < action.timeoutMs) return s;
      next = { ...s, partitioned: true };
      break;
    case 'pending':
      if (s.pending === action.count) return s;
      next = { ...s, pending: action.count };
      break;
    case 'synced':
      next = {
        ...s,
        lastSyncedAt: action.at,
        ...(action.cursor === undefined ? {} : { cursor: action.cursor }),
      };
      break;
    case 'cursor':
      if (s.cursor === action.cursor) return s;
      next = { ...s, cursor: action.cursor };
      break;
    case 'transport':
      if (s.transport === action.transport) return s;
      next = { ...s, transport: action.transport };
      break;
  }
  const state = derive(next);
  return state === next.state ? next : { ...next, state };
}

/** The kernel's subscription status for a server status (seed 004's status-change hook). */
export function subscriptionStatusOf(s: ServerSyncStatus): SubscriptionStatus {
  switch (s.state) {
    case 'connecting':
      return 'connecting';
    case 'offline':
      return 'disconnected';
    case 'error':
      return 'error';
    case 'syncing':
      return 'syncing';
    case 'online':
      return 'ready';
  }
}
