/**
 * Seed 001's adapter: a developer-provided `sync` (initial data + updates) and `mutationFn`
 * (persist, optional awaitSync), turned into a {@link Source}.
 */
import type { Transaction } from '../transactions/transaction.js';
import type { PersistResult, RemoteDocuments, Source, SourceContext } from './types.js';

/** Seed 001's sync configuration. `data` is an array of documents or a record id → document. */
export interface SyncConfig {
  readonly id: string;
  readonly setup: (params: {
    onUpdate: (data: RemoteDocuments) => void;
  }) => Promise<{ data: RemoteDocuments }>;
}

/** The sync a mutationFn can coordinate with (seed 001's "sync instance"). */
export interface SyncInstance {
  readonly id: string;
  /** Number of updates received so far (initial data included). */
  readonly updates: number;
  /** Resolves with the data of the next update. */
  nextUpdate(): Promise<RemoteDocuments>;
}

/** Seed 001's mutation function. */
export interface MutationFn {
  readonly persist: (params: {
    changes: Record<string, any>;
    attempt: number;
    transaction: Transaction;
  }) => Promise<void | PersistResult>;
  readonly awaitSync?: (params: {
    changes: Record<string, any>;
    transaction: Transaction;
    sync: SyncInstance;
  }) => Promise<void>;
}

/** Options of {@link createSyncSource}. */
export interface SyncSourceOptions {
  /** The collection this sync feeds. */
  readonly collection: string;
  readonly sync?: SyncConfig;
  readonly mutationFn?: MutationFn;
}

/**
 * Seed 001's `sync` + `mutationFn` as a source. Without a `mutationFn` writes stay local
 * (confirmed by persistence); without a `sync` nothing comes in.
 */
export function createSyncSource(options: SyncSourceOptions): Source {
  const { collection, sync, mutationFn } = options;
  let updates = 0;
  let waiters: ((data: RemoteDocuments) => void)[] = [];
  const instance: SyncInstance = {
    id: sync?.id ?? collection,
    get updates() {
      return updates;
    },
    nextUpdate: () => new Promise((resolve) => waiters.push(resolve)),
  };
  const received = (data: RemoteDocuments) => {
    updates++;
    const w = waiters;
    waiters = [];
    for (const resolve of w) resolve(data);
  };
  let stopped = false;
  const source: Source = {
    id: `sync:${sync?.id ?? collection}`,
    kind: mutationFn ? 'remote' : 'local',
    async start(ctx: SourceContext) {
      if (!sync) return;
      ctx.setStatus('connecting');
      const onUpdate = (data: RemoteDocuments) => {
        if (stopped) return;
        ctx.applyDocuments(collection, data);
        received(data);
      };
      const { data } = await sync.setup({ onUpdate });
      if (stopped) return;
      if (data !== undefined && data !== null) ctx.applyDocuments(collection, data);
      received(data ?? []);
      ctx.setStatus('ready');
    },
    async persist({ changes, attempt, transaction }) {
      if (!mutationFn) return;
      const out = await mutationFn.persist({ changes, attempt, transaction });
      return out && typeof out === 'object' ? out : undefined;
    },
    stop() {
      stopped = true;
    },
  };
  if (mutationFn?.awaitSync) {
    const awaitSync = mutationFn.awaitSync;
    (source as { awaitSync?: Source['awaitSync'] }).awaitSync = ({ changes, transaction }) =>
      awaitSync({ changes, transaction, sync: instance });
  }
  return source;
}
