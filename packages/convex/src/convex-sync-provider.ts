/**
 * Seed 004's `ConvexSyncProvider`: a {@link SyncProvider} over the Convex functions of
 * `@omnisync/convex/server` (`sync.push`, `sync.pull`, `sync.watchChanges`,
 * `sync.updateCursor`), through a Convex client (`ConvexClient` from `convex/browser`, or
 * anything with its `query`, `mutation` and `onUpdate`).
 */
import { OmniSyncError, ProviderError } from '@omnisync/core';
import type {
  PullRequest,
  PullResponse,
  PushBatch,
  PushResult,
  SyncChange,
  SyncProvider,
  SyncScope,
} from '@omnisync/client';
import { anyApi, type FunctionReference } from 'convex/server';

type AnyQuery = FunctionReference<'query'>;
type AnyMutation = FunctionReference<'mutation'>;

/** What the provider needs of a Convex client (`ConvexClient` has it). */
export interface ConvexClientLike {
  query(ref: AnyQuery, args: Record<string, unknown>): Promise<any>;
  mutation(ref: AnyMutation, args: Record<string, unknown>): Promise<any>;
  /** A reactive query: `callback` runs with every new result; returns the unsubscribe. */
  onUpdate(
    ref: AnyQuery,
    args: Record<string, unknown>,
    callback: (result: any) => unknown,
    onError?: (e: Error) => unknown,
  ): unknown;
}

/** The function references (default: `api.sync.*`). */
export interface ConvexSyncFunctions {
  readonly push: AnyMutation;
  readonly pull: AnyQuery;
  readonly watchChanges: AnyQuery;
  readonly updateCursor: AnyMutation;
}

/** Options of {@link ConvexSyncProvider}. */
export interface ConvexSyncProviderOptions {
  /** Where the functions live (default: `convex/sync.ts`, i.e. `api.sync.*`). */
  readonly functions?: ConvexSyncFunctions;
}

const defaults = (): ConvexSyncFunctions => ({
  push: anyApi.sync!.push as unknown as AnyMutation,
  pull: anyApi.sync!.pull as unknown as AnyQuery,
  watchChanges: anyApi.sync!.watchChanges as unknown as AnyQuery,
  updateCursor: anyApi.sync!.updateCursor as unknown as AnyMutation,
});

/** A SyncProvider for Convex. */
export class ConvexSyncProvider implements SyncProvider {
  readonly id = 'convex';
  readonly mode = 'direct' as const;
  readonly #client: ConvexClientLike;
  readonly #fn: ConvexSyncFunctions;

  constructor(client: ConvexClientLike, options: ConvexSyncProviderOptions = {}) {
    this.#client = client;
    this.#fn = options.functions ?? defaults();
  }

  async #call<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (e) {
      if (e instanceof OmniSyncError) throw e;
      // Argument validation errors and a lost connection alike: the source retries with backoff.
      throw new ProviderError(`Convex sync.${what} failed: ${e instanceof Error ? e.message : String(e)}`, {
        cause: e,
        details: { provider: 'convex', call: what },
      });
    }
  }

  pull(request: PullRequest): Promise<PullResponse> {
    return this.#call('pull', () =>
      this.#client.query(this.#fn.pull, { ...request, tables: [...request.tables] }),
    );
  }

  push(batch: PushBatch): Promise<PushResult> {
    return this.#call('push', () => this.#client.mutation(this.#fn.push, { ...batch, ops: [...batch.ops] }));
  }

  async updateCursor(scope: SyncScope, deviceId: string, version: number): Promise<void> {
    await this.#call('updateCursor', () =>
      this.#client.mutation(this.#fn.updateCursor, { scope, deviceId, version }),
    );
  }

  /**
   * Live changes: starts at the log head and watches `sync.watchChanges` from there; when a
   * window fills up it moves on. Every change is delivered once.
   */
  async subscribe(
    scope: SyncScope,
    tables: readonly string[],
    onChanges: (changes: readonly SyncChange[]) => void,
  ): Promise<() => void> {
    const list = [...tables];
    const start = await this.#call(
      'watchChanges',
      () => this.#client.query(this.#fn.watchChanges, { scope, tables: list }) as Promise<{ head: number }>,
    );
    let delivered = start.head;
    let closed = false;
    let off: (() => void) | undefined;
    const watch = (from: number) => {
      off?.();
      const u = this.#client.onUpdate(
        this.#fn.watchChanges,
        { scope, tables: list, cursor: from },
        (res: { changes?: SyncChange[] }) => {
          if (closed || !res || !Array.isArray(res.changes)) {
            if (!closed) onChanges(res?.changes as never); // the source checks it and pulls
            return;
          }
          const fresh = res.changes.filter((c) => c.serverVersion > delivered);
          if (fresh.length === 0) return;
          delivered = fresh[fresh.length - 1]!.serverVersion;
          onChanges(fresh);
          if (res.changes.length >= 100) watch(delivered); // the window is full: move it
        },
        () => {
          if (!closed) onChanges([]); // an error on the subscription: the source pulls
        },
      );
      off =
        typeof u === 'function'
          ? (u as () => void)
          : () => (u as { unsubscribe?: () => void })?.unsubscribe?.();
    };
    watch(delivered);
    return () => {
      closed = true;
      off?.();
    };
  }
}
