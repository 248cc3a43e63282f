/**
 * The sync loop of the bridge (seed 004's OutboxManager + SubscriptionManager over protocol
 * v1 HTTP): push the outbox in commit order, idempotent by (clientId, mutation id), and
 * remove entries only once the server answered for them; then pull every page after the
 * stored cursor and merge it in. Any failure (a network cut mid-flush, a server answering
 * garbage) is a typed OmniSyncError, leaves the outbox as it was, and retries with capped
 * exponential backoff; a mutation the server rejected is dropped and reported.
 */
import {
  type BackoffOptions,
  backoffDelay,
  createHttpTransport,
  type FetchLike,
  resolveBackoff,
  type TokenFunction,
} from '@omnisync/client';
import {
  fromWireError,
  type OmniSyncError,
  ProtocolError,
  type PushResponse,
  QUERIES_MAX,
  type Random,
  type Scheduler,
  systemRandom,
  systemScheduler,
  type TimerHandle,
  toOmniSyncError,
  ValidationError,
  type WireCell,
} from '@omnisync/core';
import type { DexieBridge } from './bridge.js';
import type { OutboxEntry } from './stores.js';

/** Options of {@link createDexieSync}. */
export interface DexieSyncOptions {
  /** Base URL of the OmniSync server, e.g. `http://127.0.0.1:8787`. */
  readonly server: string;
  /** The app (tenant) id. */
  readonly app: string;
  /** Bearer token source. */
  readonly auth?: TokenFunction;
  /** Fetch implementation (default `globalThis.fetch`). */
  readonly fetch?: FetchLike;
  /** Timers (default the system scheduler; tests pass a manual one). */
  readonly scheduler?: Scheduler;
  /** Jitter source of the backoff (default Math.random). */
  readonly random?: Random;
  /** Retry policy after a failed round (default 500 ms doubling to 30 s, jitter 0.5). */
  readonly backoff?: BackoffOptions;
  /** Pause between rounds while healthy, in ms (default 2000); a local write starts one at once. */
  readonly pullIntervalMs?: number;
  /** Outbox entries per push (default 100). */
  readonly batchSize?: number;
  /** Called with every failed round's typed error (the loop retries it). */
  readonly onError?: (error: OmniSyncError) => void;
  /**
   * Called for each mutation the server rejected (with the server's typed error, e.g.
   * `forbidden`): it was rolled back to the server's state and removed from the outbox.
   */
  readonly onRejected?: (entry: OutboxEntry, error: OmniSyncError) => void;
}

/** Where the loop stands. */
export interface DexieSyncStatus {
  readonly started: boolean;
  /** Consecutive failed rounds (0 when the last one succeeded). */
  readonly failures: number;
  /** The error of the last failed round, until a round succeeds. */
  readonly lastError: OmniSyncError | undefined;
  /** The wait before the next try after a failure, in ms. */
  readonly retryInMs: number | undefined;
}

/** A running (or startable) sync loop for one bridge. */
export interface DexieSync {
  /** Start the loop: a round now, then after every local write and every `pullIntervalMs`. */
  start(): void;
  /** Stop scheduling rounds (one in flight finishes). */
  stop(): void;
  /** One round (flush, then pull); rejects with the round's typed error. */
  sync(): Promise<void>;
  /** Push the whole outbox; rejects with a typed error, leaving unacknowledged entries. */
  flush(): Promise<void>;
  /** Pull and merge every page after the stored cursor. */
  pull(): Promise<void>;
  readonly status: DexieSyncStatus;
}

/**
 * Create the sync loop of a bridge.
 * @example
 * const sync = createDexieSync(bridge, { server: 'http://127.0.0.1:8787', app: 'todo' });
 * sync.start();
 */
export function createDexieSync(bridge: DexieBridge, options: DexieSyncOptions): DexieSync {
  const http = createHttpTransport({
    server: options.server,
    app: options.app,
    ...(options.auth ? { auth: options.auth } : {}),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.scheduler ? { scheduler: options.scheduler } : {}),
  });
  const scheduler = options.scheduler ?? systemScheduler;
  const random = options.random ?? systemRandom;
  const policy = resolveBackoff(options.backoff);
  const interval = options.pullIntervalMs ?? 2000;
  const batchSize = options.batchSize ?? 100;
  if (!(interval >= 0) || !(batchSize >= 1))
    throw new ValidationError('pullIntervalMs must be ≥ 0 and batchSize ≥ 1.');
  const queries = bridge.tables.map((collection) => ({ collection }));

  let started = false;
  let failures = 0;
  let lastError: OmniSyncError | undefined;
  let retryInMs: number | undefined;
  let timer: TimerHandle | undefined;
  let running = false;
  let again = false;
  // Rounds never overlap: each runs after the previous one settled.
  let chain: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = chain.then(fn, fn);
    chain = next.catch(() => {});
    return next;
  };

  async function pushBatch(batch: OutboxEntry[]): Promise<void> {
    const clientId = batch[0]!.clientId;
    // Entries of one replica per push (another tab's entries carry their own clientId).
    let n = 0;
    while (n < batch.length && batch[n]!.clientId === clientId) n++;
    const run = batch.slice(0, n);
    const res: PushResponse = await http.push({
      clientId,
      mutations: run.map((e) => ({ id: e.mutationId, changes: e.cells as WireCell[] })),
    });
    if (res.results.length !== run.length || res.results.some((r, i) => r.id !== run[i]!.mutationId))
      throw new ProtocolError(
        `The server answered the push of ${run.length} mutations with results for ${res.results.length} that do not match them; the outbox is kept and the push retried.`,
        { details: { transient: true, endpoint: 'push' } },
      );
    // A rejected mutation is rolled back to the server's state before the outbox lets go of
    // it (a crash in between pushes it again, is rejected again, and reverts again).
    const rejected: [OutboxEntry, OmniSyncError][] = [];
    res.results.forEach((r, i) => {
      if (r.status === 'rejected')
        rejected.push([run[i]!, fromWireError(r.error as Parameters<typeof fromWireError>[0])]);
    });
    for (const [entry] of rejected) {
      const docs = new Map(entry.cells.map((c) => [`${c.collection}\u0000${c.id}`, c]));
      const queries = [...docs.values()].map((c) => ({ collection: c.collection, where: { id: c.id } }));
      const cells: WireCell[] = [];
      for (let i = 0; i < queries.length; i += QUERIES_MAX)
        cells.push(...(await http.snapshot({ queries: queries.slice(i, i + QUERIES_MAX) })).cells);
      await bridge.revert(entry, cells);
    }
    await bridge.acknowledge(run.map((e) => e.seq!));
    for (const [entry, error] of rejected) options.onRejected?.(entry, error);
  }

  async function flushNow(): Promise<void> {
    for (;;) {
      const batch = await bridge.outbox(batchSize);
      if (batch.length === 0) return;
      try {
        await pushBatch(batch);
      } catch (err) {
        // Too large together (the server's body limit): each entry goes alone, in order, so
        // only an entry too large by itself stays failing.
        if (batch.length === 1 || toOmniSyncError(err).code !== 'payload_too_large') throw err;
        for (const entry of batch) await pushBatch([entry]);
      }
    }
  }

  async function pullNow(): Promise<void> {
    let cursor = await bridge.cursor();
    for (;;) {
      const page = await http.pull({ cursor, queries });
      if ('reset' in page) {
        const snap = await http.snapshot({ queries });
        await bridge.applyRemote(snap.cells, snap.cursor);
        return;
      }
      await bridge.applyRemote(page.changes, page.cursor);
      cursor = page.cursor;
      if (!page.hasMore) return;
    }
  }

  const wrap = (fn: () => Promise<void>) => () =>
    exclusive(async () => {
      try {
        await fn();
      } catch (err) {
        throw toOmniSyncError(err, 'network');
      }
    });
  const flush = wrap(flushNow);
  const pull = wrap(pullNow);
  const sync = wrap(async () => {
    await flushNow();
    await pullNow();
  });

  function schedule(ms: number): void {
    timer?.cancel();
    timer = scheduler.setTimeout(round, ms);
  }

  function round(): void {
    timer = undefined;
    if (!started) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    again = false;
    sync().then(
      () => {
        running = false;
        failures = 0;
        lastError = undefined;
        retryInMs = undefined;
        if (started) schedule(again ? 0 : interval);
      },
      (err: OmniSyncError) => {
        running = false;
        failures++;
        lastError = err;
        retryInMs = backoffDelay(policy, failures, random);
        if (started) schedule(retryInMs);
        options.onError?.(err);
      },
    );
  }

  const unsubscribe = { fn: undefined as (() => void) | undefined };
  return {
    start() {
      if (started) return;
      started = true;
      // A local write starts a round at once, unless the loop is backing off.
      unsubscribe.fn = bridge.onCaptured(() => {
        if (!started || failures > 0) return;
        if (running) again = true;
        else schedule(0);
      });
      schedule(0);
    },
    stop() {
      started = false;
      timer?.cancel();
      timer = undefined;
      unsubscribe.fn?.();
    },
    sync,
    flush,
    pull,
    get status(): DexieSyncStatus {
      return { started, failures, lastError, retryInMs };
    },
  };
}
