/**
 * `@omnisync/client/testing` (seed 001's test harness): a collection wired to a controllable
 * sync and backend, on a manual scheduler and a seeded random, so tests drive time and
 * failures by hand and never wait for real.
 */
import { seededRandom } from '@omnisync/core';
import type { Collection } from '../collection/collection.js';
import { type Client, type ClientOptions, type CollectionConfig, createClient } from '../client.js';
import type { MutationFn, SyncConfig } from '../sources/sync-mutation.js';
import type { PersistResult, RemoteDocuments } from '../sources/types.js';
import type { Transaction } from '../transactions/transaction.js';
import { createTestScheduler, type TestScheduler } from './test-scheduler.js';

export { createTestScheduler } from './test-scheduler.js';
// (added by the React/Todo helper: the browser tests run the persistence suite in a page)
export { persistenceSuite, runPersistenceCases, persistenceCases } from '../persistence/testing.js';
export type { TestScheduler } from './test-scheduler.js';
// The provider conformance suite (seed 004 SyncProvider) and the in-memory reference backend.
export {
  providerConformanceSuite,
  providerCases,
  CONFORMANCE_REJECT_FIELD,
} from '../sources/bindings/provider-suite.js';
export type {
  ProviderCase,
  ProviderFixture,
  ProviderFixtureFactory,
  ProviderSuiteOptions,
} from '../sources/bindings/provider-suite.js';
export { createMemorySyncBackend } from '../sources/bindings/memory-sync-provider.js';
// The UI adapter conformance suite (issue 14): React, Vue, Svelte and Solid run the same scenarios.
export {
  adapterConformanceSuite,
  adapterCases,
  conformanceQuery,
  conformanceRows,
} from './adapter-conformance.js';
export type {
  AdapterCase,
  AdapterDriver,
  AdapterListProps,
  AdapterSuiteOptions,
  ConformanceRow,
  HeldServerClient,
  MountedAdapterList,
} from './adapter-conformance.js';
export type { MemorySyncBackend, OpRule } from '../sources/bindings/memory-sync-provider.js';

/** One call the harness's backend received. */
export interface PersistCall {
  readonly transactionId: string;
  readonly attempt: number;
  readonly changes: Record<string, any>;
  /** Scheduler time of the call. */
  readonly at: number;
  /** How it ended (`pending` while in flight). */
  outcome: 'pending' | 'ok' | 'failed';
}

/** Seed 001's sync control. */
export interface SyncControl {
  /** Deliver authoritative data, as the sync's `onUpdate` would (array of docs, or record id → doc | null). */
  emitUpdate(data: RemoteDocuments): void;
  /** Every persist from now on takes this long (scheduler time). */
  setNetworkDelay(ms: number): void;
  /** The next persist call (the next one to start) fails with `error` (default: a plain Error). */
  failNextPersist(error?: unknown): void;
  /** The next `times` persist calls fail with `error`. */
  failPersists(times: number, error?: unknown): void;
  /** Every persist call so far, in order. */
  readonly persistCalls: readonly PersistCall[];
  /** Move time forward, letting the client react. */
  advance(ms: number): Promise<void>;
  /** Let pending promise work run (no time passes). */
  settle(): Promise<void>;
  /** Run all timers until none is left. */
  runAll(): Promise<void>;
}

/** Options of {@link createTestCollection}. */
export interface TestCollectionOptions<T extends { id: string }> {
  /** The collection's documents when sync starts. */
  readonly initialData?: readonly T[] | Readonly<Record<string, T>>;
  /** A sync to wrap: its `setup` still runs, and `emitUpdate` feeds the same `onUpdate`. */
  readonly sync?: Partial<SyncConfig>;
  /** Backend behaviour after delay and injected failures (default: accept). */
  readonly mutationFn?: Partial<MutationFn>;
  /** Collection id (default `sync.id` or "test"). */
  readonly id?: string;
  readonly schema?: CollectionConfig<T>['schema'];
  readonly strategy?: CollectionConfig<T>['strategy'];
  /** Client options (scheduler and random default to a test scheduler and seededRandom(1)). */
  readonly client?: Omit<ClientOptions, 'scheduler'> & { scheduler?: TestScheduler };
}

/** What {@link createTestCollection} returns. */
export interface TestCollection<T extends { id: string }> {
  readonly collection: Collection<T>;
  readonly syncControl: SyncControl;
  readonly client: Client;
  readonly scheduler: TestScheduler;
}

/**
 * A collection on a controllable sync and backend.
 * @example
 * const { collection, syncControl } = createTestCollection({ initialData: [{ id: '1', n: 0 }] });
 * await syncControl.settle();
 * syncControl.failNextPersist();
 * const tx = collection.update('1', { n: 1 });
 * await syncControl.advance(1000); // the retry ran
 */
export function createTestCollection<T extends { id: string } = { id: string } & Record<string, unknown>>(
  options: TestCollectionOptions<T> = {},
): TestCollection<T> {
  const scheduler = options.client?.scheduler ?? createTestScheduler();
  const client = createClient({ random: seededRandom(1), ...options.client, scheduler });
  const id = options.id ?? options.sync?.id ?? 'test';
  let onUpdate: ((data: RemoteDocuments) => void) | undefined;
  let delay = 0;
  const failures: unknown[] = [];
  const calls: PersistCall[] = [];
  const sync: SyncConfig = {
    id,
    async setup(params) {
      onUpdate = params.onUpdate;
      const user = options.sync?.setup ? await options.sync.setup(params) : undefined;
      const initial = options.initialData ?? [];
      if (!user) return { data: initial as RemoteDocuments };
      return { data: mergeData(initial as RemoteDocuments, user.data) };
    },
  };
  const mutationFn: MutationFn = {
    async persist(params) {
      const call: PersistCall = {
        transactionId: params.transaction.id,
        attempt: params.attempt,
        changes: params.changes,
        at: scheduler.now(),
        outcome: 'pending',
      };
      calls.push(call);
      // The failure belongs to the call made next, whatever the delay of calls in flight.
      const failure = failures.length > 0 ? { error: failures.shift() } : undefined;
      if (delay > 0) await new Promise<void>((resolve) => scheduler.setTimeout(resolve, delay));
      if (failure) {
        call.outcome = 'failed';
        throw failure.error;
      }
      try {
        const out: void | PersistResult = await options.mutationFn?.persist?.(params);
        call.outcome = 'ok';
        return out;
      } catch (e) {
        call.outcome = 'failed';
        throw e;
      }
    },
    ...(options.mutationFn?.awaitSync ? { awaitSync: options.mutationFn.awaitSync } : {}),
  };
  const collection = client.collection<T>({
    id,
    sync,
    mutationFn,
    ...(options.schema ? { schema: options.schema } : {}),
    ...(options.strategy ? { strategy: options.strategy } : {}),
  });
  const syncControl: SyncControl = {
    emitUpdate(data) {
      if (!onUpdate) throw new Error('emitUpdate before the sync started: await syncControl.settle() first.');
      onUpdate(data);
    },
    setNetworkDelay(ms) {
      delay = ms;
    },
    failNextPersist(error = new Error('Simulated persist failure')) {
      failures.push(error);
    },
    failPersists(times, error = new Error('Simulated persist failure')) {
      for (let i = 0; i < times; i++) failures.push(error);
    },
    persistCalls: calls,
    advance: (ms) => scheduler.advance(ms),
    settle: () => scheduler.settle(),
    runAll: () => scheduler.runAll(),
  };
  return { collection, syncControl, client, scheduler };
}

function mergeData(a: RemoteDocuments, b: RemoteDocuments): RemoteDocuments {
  const toRecord = (d: RemoteDocuments): Record<string, Record<string, unknown> | null> =>
    Array.isArray(d)
      ? Object.fromEntries((d as Record<string, unknown>[]).map((x) => [String(x.id), x]))
      : (d as Record<string, Record<string, unknown> | null>);
  return { ...toRecord(a), ...toRecord(b) };
}

/** Re-exported for tests that build transactions by hand. */
export type { Transaction };
