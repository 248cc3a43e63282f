/**
 * @internal The provider conformance suite's harness: a recording (and, on demand,
 * misbehaving) wrapper around the provider under test, and a "device" (a real client with
 * its own persistence and a SyncProvider source) to drive it with.
 */
import { OmniSyncError } from '@omnisync/core';
import { createClient, type Client } from '../../client.js';
import type { Collection } from '../../collection/collection.js';
import { createMemoryPersistence, createMemoryPersistenceStore } from '../../persistence/memory.js';
import { createSyncProviderSource, type SyncProviderSource } from './sync-provider-source.js';
import type { PullRequest, PushBatch, SyncChange, SyncProvider, SyncScope } from './sync-provider-types.js';

/** What the suite needs from a provider under test. */
export interface ProviderFixture {
  /**
   * A provider for one more device, connected to the fixture's one backend. The backend
   * must accept any table name and refuse (non-retryable) every op writing
   * `mustReject: true` ({@link CONFORMANCE_REJECT_FIELD}).
   */
  provider(): SyncProvider | Promise<SyncProvider>;
  /** The cursor the backend holds for a device (if it can tell): checked against what was reported. */
  cursorOf?(scope: SyncScope, deviceId: string): number | undefined | Promise<number | undefined>;
  /** Release the fixture (servers, connections) after a case. */
  close?(): void | Promise<void>;
}

/** Builds a fresh fixture for one case. */
export type ProviderFixtureFactory = () => ProviderFixture | Promise<ProviderFixture>;

/** The field whose `true` value the backend under test must refuse, non-retryably. */
export const CONFORMANCE_REJECT_FIELD = 'mustReject';

/** A document of the suite's table. */
export type Item = { id: string; title?: string; n?: number; mustReject?: boolean };

type Hook<A extends unknown[], R> =
  ((n: number, real: () => Promise<R>, ...args: A) => Promise<unknown>) | undefined;

/** The provider under test, recorded; hooks replace its answers to simulate bad input. */
export class RecordingProvider implements SyncProvider {
  readonly id: string;
  readonly mode: 'direct' | 'gateway';
  readonly pulls: { req: PullRequest; res?: unknown }[] = [];
  readonly pushes: PushBatch[] = [];
  readonly cursors: { scope: SyncScope; deviceId: string; version: number }[] = [];
  /** Live changes delivered through subscribe. */
  readonly live: SyncChange[] = [];
  subscribes = 0;
  pullHook: Hook<[PullRequest], unknown> = undefined;
  pushHook: Hook<[PushBatch], unknown> = undefined;
  subscribeHook: Hook<[], () => void> = undefined;
  readonly #inner: SyncProvider;
  #held: (() => void)[] | undefined;

  /** Hold live deliveries (as if offline for reads) until the returned release is called. */
  holdLive(): () => void {
    const held: (() => void)[] = (this.#held = []);
    return () => {
      if (this.#held === held) this.#held = undefined;
      for (const deliver of held) deliver();
    };
  }

  constructor(inner: SyncProvider) {
    this.#inner = inner;
    this.id = inner.id;
    this.mode = inner.mode;
  }

  async subscribe(
    scope: SyncScope,
    tables: readonly string[],
    onChanges: (c: readonly SyncChange[]) => void,
  ) {
    const n = ++this.subscribes;
    const real = () =>
      this.#inner.subscribe(scope, tables, (changes) => {
        const deliver = () => {
          if (Array.isArray(changes)) this.live.push(...changes);
          onChanges(changes);
        };
        if (this.#held) this.#held.push(deliver);
        else deliver();
      });
    return (this.subscribeHook ? this.subscribeHook(n, real) : real()) as Promise<() => void>;
  }

  async pull(req: PullRequest) {
    const entry: { req: PullRequest; res?: unknown } = { req: structuredClone(req) };
    this.pulls.push(entry);
    const real = () => this.#inner.pull(req);
    entry.res = await (this.pullHook ? this.pullHook(this.pulls.length, real, req) : real());
    return entry.res as never;
  }

  async push(batch: PushBatch) {
    this.pushes.push(structuredClone(batch));
    const real = () => this.#inner.push(batch);
    return (this.pushHook ? this.pushHook(this.pushes.length, real, batch) : real()) as never;
  }

  async updateCursor(scope: SyncScope, deviceId: string, version: number) {
    this.cursors.push({ scope, deviceId, version });
    await this.#inner.updateCursor(scope, deviceId, version);
  }
}

/** One simulated device: a real client, its own persistence, one synced collection `items`. */
export interface Device {
  readonly client: Client;
  readonly items: Collection<Item>;
  readonly source: SyncProviderSource;
  readonly provider: RecordingProvider;
  /** Every error the client reported (sync.error:action). */
  readonly errors: Error[];
  close(): Promise<void>;
}

/** Open a device on `scope`; pass the same `store` again to restart it. */
export async function openDevice(
  fixture: ProviderFixture,
  scope: SyncScope,
  options: {
    store?: ReturnType<typeof createMemoryPersistenceStore>;
    pageSize?: number;
    setup?: (p: RecordingProvider) => void;
  } = {},
): Promise<Device> {
  const provider = new RecordingProvider(await fixture.provider());
  options.setup?.(provider);
  const client = createClient({
    persistence: createMemoryPersistence({ store: options.store ?? createMemoryPersistenceStore() }),
    retry: { baseDelay: 5, maxDelay: 40, retries: 1000, jitter: 0 },
  });
  const errors: Error[] = [];
  client.events.on('sync.error:action', (e) => errors.push(e.error));
  const source = createSyncProviderSource(provider, {
    scope,
    tables: ['items'],
    pageSize: options.pageSize ?? 100,
    retryBaseDelayMs: 5,
    retryMaxDelayMs: 40,
  });
  const items = client.collection<Item>({ id: 'items', source });
  return { client, items, source, provider, errors, close: () => client.close() };
}

/** Wait (polling, up to 15 s) until `cond()` holds; throws naming `what` otherwise. */
export async function waitFor(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`Timed out waiting until ${what}.`);
}

/** A collection is ready (its source caught up and subscribed). */
export async function ready(d: Device): Promise<void> {
  await waitFor(() => d.items.status.peek() === 'ready', 'the collection is ready');
}

/** Throw with `message` unless `ok`. */
export function check(ok: unknown, message: string): asserts ok {
  if (!ok) throw new Error(`Provider conformance: ${message}`);
}

/** The error's OmniSync code ('' for a foreign error). */
export const codeOf = (e: unknown): string => (e instanceof OmniSyncError ? e.code : '');

/** Every change of a scope's log (pulled from 0 through every page). */
export async function fullLog(p: SyncProvider, scope: SyncScope): Promise<SyncChange[]> {
  const out: SyncChange[] = [];
  let cursor = 0;
  for (let i = 0; i < 1000; i++) {
    const page = await p.pull({ scope, cursor, limit: 100, tables: ['items'] });
    out.push(...page.changes);
    cursor = page.nextCursor;
    if (!page.hasMore) return out;
  }
  throw new Error('Provider conformance: the log never ended (hasMore stayed true)');
}

/** A scope of its own for one case. */
export function freshScope(caseIndex: number): SyncScope {
  return {
    workspaceId: `conformance-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}-${caseIndex}`,
  };
}
