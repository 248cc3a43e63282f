/**
 * What tabs say to each other over the channel (a tagged union; every message is plain
 * structured-cloneable data). `from` is the sender's tab id.
 */
import type { Cell, JsonValue, QueryAst } from '@omnisync/core';
import type { PersistedTransaction } from '../persistence/types.js';
import type { ServerSyncStatus } from '../sources/omnisync-server/sync-status.js';

/** A mutation's outcome as it crosses tabs: nothing (applied) or the error's data. */
export interface SettledError {
  readonly code: string;
  readonly message: string;
  readonly retryable: boolean;
  /** The server's own error (e.g. a mutator's rejection), when there is one. */
  readonly cause?: { readonly code: string; readonly message: string };
}

/** A message between tabs. */
export type TabMessage =
  /** Transactions a tab just stored: other tabs show pending ones in their overlay. */
  | { readonly t: 'txs'; readonly from: string; readonly txs: readonly PersistedTransaction[] }
  /** Send this transaction (to the leader; every tab re-sends its open ones to a new leader). */
  | {
      readonly t: 'persist';
      readonly from: string;
      readonly id: string;
      readonly cells: readonly Cell[];
      readonly mutator?: { readonly name: string; readonly args?: JsonValue };
    }
  /** The leader has the server's answer for transaction `id`. */
  | { readonly t: 'settled'; readonly from: string; readonly id: string; readonly error?: SettledError }
  /** Authoritative cells the leader applied. */
  | { readonly t: 'cells'; readonly from: string; readonly cells: readonly Cell[] }
  | {
      readonly t: 'forgetAbsent';
      readonly from: string;
      readonly queries: readonly QueryAst[];
      readonly present: readonly Cell[];
    }
  /** Documents the server evicted (rules on reads), forgotten by the leader. */
  | {
      readonly t: 'forgetDocuments';
      readonly from: string;
      readonly docs: readonly { readonly collection: string; readonly id: string }[];
    }
  | {
      readonly t: 'forgetUnmatched';
      readonly from: string;
      readonly queries: readonly QueryAst[];
      readonly cells: readonly Cell[];
    }
  /** The leader's server status (its error as a message only). */
  | {
      readonly t: 'status';
      readonly from: string;
      readonly status: Omit<ServerSyncStatus, 'error'> & { readonly errorMessage?: string };
    }
  /** A tab became the leader: re-send open relays to it. */
  | { readonly t: 'leader'; readonly from: string }
  /** A tab opened: the leader answers with its status. */
  | { readonly t: 'hello'; readonly from: string }
  /** `client.sync()` in a follower. */
  | { readonly t: 'sync'; readonly from: string; readonly req: string }
  | { readonly t: 'synced'; readonly from: string; readonly req: string; readonly error?: string };

/** True for something shaped like a {@link TabMessage} (the channel is shared with other code). */
export function isTabMessage(m: unknown): m is TabMessage {
  return (
    typeof m === 'object' &&
    m !== null &&
    typeof (m as { t?: unknown }).t === 'string' &&
    typeof (m as { from?: unknown }).from === 'string'
  );
}
