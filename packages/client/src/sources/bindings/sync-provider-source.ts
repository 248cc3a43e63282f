/**
 * Seed 004's `SyncProvider` as a client {@link Source} (ARCHITECTURE.md "Seed 004"):
 *
 * - `start`: catch up by cursor (`pull` page after page until `hasMore` is false; every page
 *   checked, then applied as HLC-stamped cells, then the cursor stored with `setMeta` and
 *   reported with `updateCursor`), then `subscribe` for live changes, then one more pull to
 *   close the gap between the last page and the subscription.
 * - live changes are applied at once; the cursor moves only by pull (a coalesced catch-up
 *   runs after each live batch), so a lost or reordered live message never skips a change.
 * - `persist`: one `PendingOp` per mutation, its id the mutation's stable id (a restart
 *   re-sends the same ids; the provider dedupes). A failed op the provider calls
 *   non-retryable fails the transaction with `NonRetriableError` (it rolls back); anything
 *   else (a throw, a garbage answer, a retryable failure) is a typed error the kernel
 *   retries with backoff, the outbox intact.
 */
import {
  type JsonValue,
  NonRetriableError,
  OmniSyncError,
  parseHlc,
  ProviderError,
  ValidationError,
  systemRandom,
} from '@omnisync/core';
import { backoffDelay, resolveBackoff } from '../../transport/backoff.js';
import type { PersistRequest, Source, SourceContext } from '../types.js';
import {
  SYNC_PROVIDER_PAGE_SIZE,
  type SyncProvider,
  type SyncProviderSourceOptions,
  type SyncScope,
} from './sync-provider-types.js';
import {
  changeCells,
  checkChanges,
  checkPullResponse,
  checkPushResult,
  mutationOps,
} from './sync-provider-validate.js';

/** A SyncProvider source: a {@link Source} that can also catch up on demand. */
export interface SyncProviderSource extends Source {
  /** Pull what is new now (`client.sync()` calls it). */
  sync(): Promise<void>;
  /** The last change-log position applied and stored. */
  readonly cursor: number;
}

const METHODS = ['subscribe', 'pull', 'push', 'updateCursor'] as const;

/**
 * Sync a client's collections with a seed 004 SyncProvider.
 * @example
 * const source = createSyncProviderSource(new ConvexSyncProvider(convex), { scope: { workspaceId: 'w1' } });
 * const todos = client.collection({ id: 'todos', source });
 */
export function createSyncProviderSource(
  provider: SyncProvider,
  options: SyncProviderSourceOptions = {},
): SyncProviderSource {
  if (provider === null || typeof provider !== 'object' || typeof provider.id !== 'string')
    throw new ValidationError('createSyncProviderSource needs a SyncProvider object with a string id.');
  for (const m of METHODS)
    if (typeof provider[m] !== 'function')
      throw new ValidationError(`SyncProvider "${provider.id}" has no ${m}() method; seed 004 requires it.`);
  const scope: SyncScope = options.scope ?? { workspaceId: 'default' };
  const pageSize = options.pageSize ?? SYNC_PROVIDER_PAGE_SIZE;
  if (!Number.isInteger(pageSize) || pageSize < 1)
    throw new ValidationError(`pageSize is ${String(pageSize)}; it must be a positive integer.`);
  const backoff = resolveBackoff({
    baseDelayMs: options.retryBaseDelayMs ?? 500,
    maxDelayMs: options.retryMaxDelayMs ?? 30_000,
  });
  const name = provider.id;

  let ctx: SourceContext | undefined;
  let cursor = 0;
  let tables: readonly string[] = options.tables ?? [];
  let deviceId = options.deviceId ?? '';
  let stopped = false;
  let unsubscribe: (() => void) | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let retryTimer: { cancel(): void } | undefined;
  let failures = 0;
  let wake: (() => void) | undefined;

  const call = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof OmniSyncError) throw e;
      throw new ProviderError(
        `SyncProvider "${name}" threw in ${what}(): ${e instanceof Error ? e.message : String(e)}. It is retried with backoff.`,
        { cause: e, details: { provider: name, call: what } },
      );
    }
  };

  const pullAll = async (c: SourceContext): Promise<void> => {
    const start = cursor;
    for (;;) {
      const from = cursor;
      const raw = await call('pull', () => provider.pull({ scope, cursor: from, limit: pageSize, tables }));
      if (stopped) return;
      const page = checkPullResponse(name, from, raw);
      const mine = page.changes.filter((ch) => tables.includes(ch.tableName));
      c.applyCells(changeCells(name, mine)); // validated as a whole: a bad cell applies nothing
      if (page.nextCursor !== from) {
        cursor = page.nextCursor;
        await c.setMeta('cursor', cursor as JsonValue);
      }
      if (!page.hasMore) break;
    }
    if (cursor !== start && !stopped)
      try {
        await call('updateCursor', () => provider.updateCursor(scope, deviceId, cursor));
      } catch (e) {
        c.reportError(e); // a checkpoint is advisory: the data is here
      }
  };

  /** One catch-up at a time; a request during one runs another after it. */
  const catchUp = (): Promise<void> => {
    const c = ctx;
    if (!c || stopped) return Promise.resolve();
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      try {
        do {
          again = false;
          await pullAll(c);
        } while (again && !stopped);
      } finally {
        running = undefined;
      }
    })();
    return running;
  };

  /** Catch up in the background; on failure report and try again with backoff. */
  const catchUpInBackground = (): void => {
    catchUp().then(
      () => (failures = 0),
      (e) => {
        if (stopped) return;
        ctx?.reportError(e);
        ctx?.setStatus('error');
        failures++;
        retryTimer?.cancel();
        retryTimer = ctx?.scheduler.setTimeout(
          () => {
            retryTimer = undefined;
            catchUpInBackground();
          },
          backoffDelay(backoff, failures, systemRandom),
        );
      },
    );
  };

  const onChanges = (raw: readonly unknown[]) => {
    const c = ctx;
    if (!c || stopped) return;
    try {
      const list = checkChanges(name, raw).filter((ch) => tables.includes(ch.tableName));
      c.applyCells(changeCells(name, list));
    } catch (e) {
      c.reportError(e); // the pull below brings the same changes in checked form
    }
    catchUpInBackground();
  };

  const untilDone = async (c: SourceContext, what: () => Promise<void>): Promise<boolean> => {
    for (let n = 1; ; n++) {
      try {
        await what();
        return true;
      } catch (e) {
        if (stopped) return false;
        c.reportError(e);
        c.setStatus('error');
        await new Promise<void>((resolve) => {
          wake = resolve;
          retryTimer = c.scheduler.setTimeout(resolve, backoffDelay(backoff, n, systemRandom));
        });
        wake = undefined;
        if (stopped) return false;
      }
    }
  };

  const source: SyncProviderSource = {
    id: options.id ?? `provider:${name}:${scope.workspaceId}`,
    kind: 'remote',
    get cursor() {
      return cursor;
    },
    async start(context) {
      ctx = context;
      if (options.tables === undefined) tables = [...context.collections];
      if (deviceId === '') deviceId = context.hlc.nodeId;
      const saved = context.getMeta('cursor');
      cursor = typeof saved === 'number' && Number.isInteger(saved) && saved >= 0 ? saved : 0;
      context.setStatus('syncing');
      if (!(await untilDone(context, catchUp))) return;
      context.setStatus('connecting');
      const subscribed = await untilDone(context, async () => {
        const off = await call('subscribe', () =>
          provider.subscribe(scope, tables, onChanges as (changes: readonly unknown[]) => void),
        );
        if (typeof off !== 'function')
          throw new ProviderError(
            `SyncProvider "${name}" subscribe() resolved without an unsubscribe function; it must return one.`,
          );
        if (stopped) off();
        else unsubscribe = off;
      });
      if (!subscribed) return;
      context.setStatus('connected');
      // Changes committed between the last page and the subscription.
      if (!(await untilDone(context, catchUp))) return;
      context.setStatus('ready');
    },
    async persist(req: PersistRequest) {
      const first = req.mutations[0];
      if (first === undefined) return;
      const device = deviceId || parseHlc(first.hlc).node;
      const ops = mutationOps(req.mutations, req.cells, device);
      const raw = await call('push', () => provider.push({ scope, deviceId: device, ops }));
      const result = checkPushResult(name, ops, raw);
      const failed = result.results.filter((r) => !r.success);
      if (failed.length === 0) return;
      const rejected = failed.find((r) => r.retryable === false);
      const r = rejected ?? failed[0]!;
      const op = ops.find((o) => o.id === r.opId)!;
      const details = {
        provider: name,
        opId: r.opId,
        table: op.tableName,
        pk: op.pk,
        ...(r.code ? { reason: r.code } : {}),
      };
      if (rejected)
        throw new NonRetriableError(
          `SyncProvider "${name}" rejected the ${op.op} of ${op.tableName}/${op.pk}: ${r.error ?? 'no reason given'}. The transaction was rolled back.`,
          { details },
        );
      throw new ProviderError(
        `SyncProvider "${name}" could not apply the ${op.op} of ${op.tableName}/${op.pk} now: ${r.error ?? 'no reason given'}. It is retried with backoff.`,
        { details },
      );
    },
    sync: () => catchUp(),
    stop() {
      stopped = true;
      retryTimer?.cancel();
      wake?.();
      const off = unsubscribe;
      unsubscribe = undefined;
      off?.();
    },
  };
  return source;
}
