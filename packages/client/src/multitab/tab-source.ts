/**
 * The server source every tab's collections use in multi-tab mode. In the leader it is the
 * real OmniSync-server source, with every authoritative change it applies also sent to the
 * other tabs. In a follower, `persist` is relayed to the leader over the channel and waits
 * for its `settled` answer; incoming cells come from the leader instead of the network.
 */
import {
  type Cell,
  effect,
  type ErrorCode,
  fromWireError,
  type EffectHandle,
  type JsonValue,
  NetworkError,
  NonRetriableError,
  OmniSyncError,
  type ReadonlySignal,
  type Signal,
  signal,
  toError,
} from '@omnisync/core';
import type { PersistRequest, SourceContext } from '../sources/types.js';
import {
  META_CLIENT_ID,
  type OutboxItem,
  type ServerSource,
} from '../sources/omnisync-server/server-source-types.js';
import type { SyncQueryInput } from '../sources/omnisync-server/query-set.js';
import { initialStatus, type ServerSyncStatus } from '../sources/omnisync-server/sync-status.js';
import type { Transaction } from '../transactions/transaction.js';
import type { SettledError, TabMessage } from './messages.js';
import type { TabCoordinator } from './tab-coordinator.js';

/** Outcomes the leader remembers, so a late relay of an acknowledged write is answered without a push. */
const SETTLED_KEEP = 10_000;

type Mutator = { readonly name: string; readonly args?: JsonValue };
interface Relay {
  readonly msg: Extract<TabMessage, { t: 'persist' }>;
  readonly waiters: { resolve: () => void; reject: (e: Error) => void }[];
}

/** @internal Wrap the client's server source for multi-tab use. */
export function createTabSource(
  real: ServerSource,
  tabs: TabCoordinator,
  sharedId: () => string,
): ServerSource {
  return new TabSource(real, tabs, sharedId);
}

class TabSource implements ServerSource {
  readonly kind = 'remote' as const;
  readonly runsMutators = true as const;
  readonly #real: ServerSource;
  readonly #tabs: TabCoordinator;
  readonly #sharedId: () => string;
  readonly #status: Signal<ServerSyncStatus> = signal<ServerSyncStatus>(initialStatus());
  readonly #relays = new Map<string, Relay>();
  readonly #inflight = new Map<string, Promise<void>>();
  readonly #settled = new Map<string, SettledError | null>();
  readonly #syncs = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
  #ctx: SourceContext | undefined;
  #buffer: TabMessage[] = [];
  #started: Promise<void> | undefined;
  #stopStatus: EffectHandle | undefined;
  #syncSeq = 0;

  constructor(real: ServerSource, tabs: TabCoordinator, sharedId: () => string) {
    this.#real = real;
    this.#tabs = tabs;
    this.#sharedId = sharedId;
    tabs.on((m) => this.#receive(m));
    tabs.onLead(() => this.#lead());
    tabs.post({ t: 'hello', from: tabs.tabId });
  }

  get id(): string {
    return this.#real.id;
  }
  get scope(): 'collections' | 'queries' {
    return this.#real.scope;
  }
  get status(): ReadonlySignal<ServerSyncStatus> {
    return this.#status;
  }
  get clientId(): string | undefined {
    return this.#sharedId();
  }
  /** The real source's outbox (the leader's; a follower's own writes wait in the leader's). */
  experimental_outbox(): readonly OutboxItem[] {
    return this.#real.experimental_outbox();
  }

  async start(ctx: SourceContext): Promise<void> {
    this.#ctx = ctx;
    const early = this.#buffer;
    this.#buffer = [];
    for (const m of early) this.#receive(m);
    // A follower is ready with what persistence holds; the leader once its first sync ran.
    if (this.#tabs.isLeader) await this.#startReal();
  }

  #startReal(): Promise<void> {
    if (this.#started) return this.#started;
    const ctx = this.#ctx!;
    this.#stopStatus = effect(() => {
      const s = this.#real.status.get();
      this.#status.set(s);
      this.#postStatus(s);
    });
    this.#started = this.#real.start(this.#leaderContext(ctx));
    return this.#started;
  }

  /** The context the real source runs on: what it applies reaches the other tabs too. */
  #leaderContext(c: SourceContext): SourceContext {
    const from = this.#tabs.tabId;
    return {
      collections: c.collections,
      hlc: c.hlc,
      scheduler: c.scheduler,
      applyDocuments: (collection, docs) => c.applyDocuments(collection, docs),
      applyCells: (cells) => {
        c.applyCells(cells);
        this.#tabs.post({ t: 'cells', from, cells });
      },
      forgetAbsent: (queries, present) => {
        c.forgetAbsent?.(queries, present);
        this.#tabs.post({ t: 'forgetAbsent', from, queries, present });
      },
      forgetUnmatched: (queries, cells) => {
        c.forgetUnmatched?.(queries, cells);
        this.#tabs.post({ t: 'forgetUnmatched', from, queries, cells });
      },
      forgetScope: (dropped, remaining) => c.forgetScope?.(dropped, remaining) ?? true,
      forgetDocuments: (docs) => {
        c.forgetDocuments?.(docs);
        this.#tabs.post({ t: 'forgetDocuments', from, docs });
      },
      setStatus: (s) => c.setStatus(s),
      reportError: (e) => c.reportError(e),
      // Every tab pushes under the one replica id the shared persistence holds, so a
      // transaction re-sent by a new leader is recognised by the server's idempotency key.
      getMeta: (key) => (key === META_CLIENT_ID ? this.#sharedId() : c.getMeta(key)),
      setMeta: (key, value) => c.setMeta(key, value),
    };
  }

  #postStatus(s: ServerSyncStatus): void {
    const { error, ...rest } = s;
    this.#tabs.post({
      t: 'status',
      from: this.#tabs.tabId,
      status: error ? { ...rest, errorMessage: error.message } : rest,
    });
  }

  /** This tab just became the leader: its open relays are now its own pushes. */
  #lead(): void {
    const relays = [...this.#relays.values()];
    this.#relays.clear();
    for (const r of relays) {
      const done = this.#leaderPersist(r.msg.id, r.msg.cells, r.msg.mutator);
      for (const w of r.waiters) done.then(w.resolve, w.reject);
    }
    if (this.#ctx) this.#startReal().catch((e: unknown) => this.#ctx?.reportError(e));
  }

  persist(request: PersistRequest): Promise<void> {
    const tx = request.transaction;
    if (request.cells.length === 0 && !tx.mutator) return Promise.resolve();
    if (this.#tabs.isLeader) return this.#leaderPersist(tx.id, request.cells, tx.mutator);
    return new Promise<void>((resolve, reject) => {
      let relay = this.#relays.get(tx.id);
      if (!relay) {
        const msg: Relay['msg'] = {
          t: 'persist',
          from: this.#tabs.tabId,
          id: tx.id,
          cells: request.cells,
          ...(tx.mutator ? { mutator: tx.mutator } : {}),
        };
        this.#relays.set(tx.id, (relay = { msg, waiters: [] }));
        this.#tabs.post(msg);
      }
      relay.waiters.push({ resolve, reject });
    });
  }

  /**
   * Send one transaction through the real source, once however many tabs ask: joined while
   * in flight, answered from memory once settled. Every tab hears the outcome.
   */
  #leaderPersist(id: string, cells: readonly Cell[], mutator: Mutator | undefined): Promise<void> {
    const known = this.#settled.get(id);
    if (known !== undefined) {
      this.#tabs.post({ t: 'settled', from: this.#tabs.tabId, id, ...(known ? { error: known } : {}) });
      return known ? Promise.reject(settledError(known)) : Promise.resolve();
    }
    const running = this.#inflight.get(id);
    if (running) return running;
    // The real source reads only the id and the mutator of the transaction.
    const request: PersistRequest = {
      transaction: { id, mutator } as unknown as Transaction,
      mutations: [],
      cells,
      changes: {},
      attempt: 1,
    };
    const done = this.#real.persist(request).then(() => this.#real.awaitSync(request));
    this.#inflight.set(id, done);
    done.then(
      () => this.#settle(id, null),
      (e: unknown) => this.#settle(id, errorData(e)),
    );
    return done;
  }

  #settle(id: string, error: SettledError | null): void {
    this.#inflight.delete(id);
    if (error === null || !error.retryable) {
      this.#settled.set(id, error);
      if (this.#settled.size > SETTLED_KEEP) this.#settled.delete(this.#settled.keys().next().value!);
    }
    this.#tabs.post({ t: 'settled', from: this.#tabs.tabId, id, ...(error ? { error } : {}) });
  }

  #receive(m: TabMessage): void {
    const leader = this.#tabs.isLeader;
    switch (m.t) {
      case 'persist':
        if (leader) this.#leaderPersist(m.id, m.cells, m.mutator).catch(() => {});
        return;
      case 'settled': {
        const relay = this.#relays.get(m.id);
        if (!relay) return;
        this.#relays.delete(m.id);
        for (const w of relay.waiters) {
          if (m.error) w.reject(settledError(m.error));
          else w.resolve();
        }
        return;
      }
      case 'cells':
      case 'forgetAbsent':
      case 'forgetUnmatched':
      case 'forgetDocuments': {
        if (leader) return;
        const ctx = this.#ctx;
        if (!ctx) {
          this.#buffer.push(m);
          return;
        }
        try {
          if (m.t === 'cells') ctx.applyCells(m.cells);
          else if (m.t === 'forgetAbsent') ctx.forgetAbsent?.(m.queries, m.present);
          else if (m.t === 'forgetDocuments') ctx.forgetDocuments?.(m.docs);
          else ctx.forgetUnmatched?.(m.queries, m.cells);
        } catch (e) {
          ctx.reportError(e);
        }
        return;
      }
      case 'status':
        if (!leader) this.#status.set(m.status as ServerSyncStatus);
        return;
      case 'leader':
        // A new leader: it has not heard what this tab is waiting for.
        for (const r of this.#relays.values()) this.#tabs.post(r.msg);
        return;
      case 'hello':
        if (leader) this.#postStatus(this.#real.status.peek());
        return;
      case 'sync':
        if (leader)
          this.#real.sync().then(
            () => this.#tabs.post({ t: 'synced', from: this.#tabs.tabId, req: m.req }),
            (e: unknown) =>
              this.#tabs.post({ t: 'synced', from: this.#tabs.tabId, req: m.req, error: toError(e).message }),
          );
        return;
      case 'synced': {
        const w = this.#syncs.get(m.req);
        if (!w) return;
        this.#syncs.delete(m.req);
        if (m.error) w.reject(new NetworkError(m.error));
        else w.resolve();
        return;
      }
      default:
        return;
    }
  }

  awaitSync(): Promise<void> {
    // The leader waited for it before it answered `persist`.
    return Promise.resolve();
  }

  sync(): Promise<void> {
    if (this.#tabs.isLeader) return this.#real.sync();
    const req = `${this.#tabs.tabId}:${++this.#syncSeq}`;
    return new Promise<void>((resolve, reject) => {
      this.#syncs.set(req, { resolve, reject });
      this.#tabs.post({ t: 'sync', from: this.#tabs.tabId, req });
    });
  }

  want(query: SyncQueryInput): Promise<void> {
    return this.#real.want(query);
  }
  release(query: SyncQueryInput): void {
    this.#real.release(query);
  }
  isSynced(query: SyncQueryInput): boolean {
    return this.#real.isSynced(query);
  }

  async stop(): Promise<void> {
    this.#stopStatus?.stop();
    if (this.#started) await this.#real.stop();
  }
}

function errorData(e: unknown): SettledError {
  const err = toError(e);
  const code = err instanceof OmniSyncError ? err.code : 'internal';
  const cause =
    err.cause instanceof OmniSyncError ? { code: err.cause.code, message: err.cause.message } : undefined;
  return {
    code,
    message: err.message,
    retryable: !(err instanceof NonRetriableError),
    ...(cause ? { cause } : {}),
  };
}

function settledError(s: SettledError): Error {
  if (!s.retryable)
    return new NonRetriableError(s.message, {
      details: { code: s.cause?.code ?? s.code },
      ...(s.cause
        ? { cause: fromWireError({ code: s.cause.code as ErrorCode, message: s.cause.message }) }
        : {}),
    });
  return new Error(s.message);
}
