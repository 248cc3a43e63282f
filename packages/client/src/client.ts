/**
 * `createClient()`: one client holds the store (synced base + overlay), the transaction
 * engine, the HLC, the persistence, the scheduler, the event stream and the registry of
 * collections (one instance per collection id). Sources are started here and fed through
 * their {@link SourceContext}. (The server transport will add `app`, `server` and `auth`
 * options; nothing here assumes they are absent.)
 */
import {
  type Cell,
  cellWins,
  compileSyncQuery,
  DELETED_FIELD,
  type CollectionDef,
  defineCollection,
  type HlcClock,
  InvalidStateError,
  isValidCollectionName,
  type JsonValue,
  type Mutators,
  type PrincipalSource,
  type QueryAst,
  type Rules,
  PersistenceCorruptError,
  type Random,
  randomId,
  type ReadonlySignal,
  type Scheduler,
  SchemaError,
  systemRandom,
  systemScheduler,
  toError,
  untracked,
  validateCell,
  ValidationError,
} from '@omnisync/core';
import { ClientHlc } from './client-hlc.js';
import { ALL_FEATURES, type ClientFeatures } from './features.js';
import type { ClientInspector, InspectOptions, Inspector, SourceInspection } from './inspect/inspector.js';
import { existingQueryEngineOf } from './state/live.js';
import type { ClientRoom, Room } from './rooms/room.js';
import type { RoomLink } from './rooms/room-link.js';
import { Backoff, resolveBackoff } from './transport/backoff.js';
import { liveUrl } from './transport/live-session.js';
import type { WebSocketConstructor } from './transport/types.js';
import { HEARTBEAT_MS } from './sources/omnisync-server/server-source-types.js';
import { Collection } from './collection/collection.js';
import { EventHub, type EventStream } from './events.js';
import type { MutateArgs } from './mutators/mutate.js';
import { type ForgetMarkers, withForgetMarkers } from './persistence/forget-marker.js';
import type { Persistence } from './persistence/types.js';
import { createLocalOnlySource } from './sources/local-only.js';
import {
  type ServerClientOptions,
  serverSourceFromOptions,
  syncSources,
} from './sources/omnisync-server/client-options.js';
import type { ServerSource } from './sources/omnisync-server/server-source-types.js';
import { documentCells, remoteEntries, type RemoteEntry } from './sources/remote-documents.js';
import { createSyncSource, type MutationFn, type SyncConfig } from './sources/sync-mutation.js';
import type { RemoteDocuments, Source, SourceContext, SubscriptionStatus } from './sources/types.js';
import { ClientStore } from './store/client-store.js';
import { type EngineDeps, TransactionEngine } from './transactions/engine.js';
import { OutboxWriter } from './transactions/outbox-writer.js';
import { type HistoryOptions, resolveHistory } from './transactions/history.js';
import { resolveRetry } from './transactions/retry.js';
import { deserializeTransaction } from './transactions/serialize.js';
import type { TabCoordinator } from './multitab/tab-coordinator.js';
import type { MultiTabOptions, TabStatus } from './multitab/types.js';
import { loadedBaseOf } from './persistence/loaded-base.js';
import type { Transaction, TransactionOptions } from './transactions/transaction.js';
import type { MutationStrategy, RetryOptions } from './types.js';

/** Options of {@link createClient}. */
export interface ClientOptions<M extends Mutators = Mutators> extends ServerClientOptions {
  /**
   * Named mutations (seed 002): the same `defineMutators({...})` object the server runs.
   * `client.mutate(name, args)` runs one here optimistically; the server runs it again and
   * its result is what stays.
   */
  readonly mutators?: M;
  /**
   * The server's permission rules (the `defineRules({...})` object passed to
   * `createServer({ rules })`): every write to a collection synced with the OmniSync server
   * is checked before it is sent, and one the server would refuse fails at once with the
   * server's error (NonRetriableError, cause PermissionDeniedError), rolled back, never
   * queued. Only for failing fast: the server checks again and decides. Needs `principal`.
   */
  readonly rules?: Rules;
  /**
   * The claims the server reads from this client's token (`sub`, roles, custom claims), or
   * a function returning them (undefined while not known: writes then go unchecked).
   */
  readonly principal?: PrincipalSource;
  /** This client's replica id (HLC node id). Default: the persisted one, else a new random id. */
  readonly clientId?: string;
  /** Where the synced base, the outbox and meta are kept. Default: nothing (memory only). */
  readonly persistence?: Persistence;
  /** Time (default: the system's). Tests pass `createManualScheduler()`. */
  readonly scheduler?: Scheduler;
  /** Randomness for ids and retry jitter (default: the platform's). Tests pass `seededRandom(n)`. */
  readonly random?: Random;
  /** Retry policy of failed persists (seed 001 defaults: 4 retries, exponential backoff, jitter). */
  readonly retry?: RetryOptions;
  /**
   * Finished transactions kept for inspection, in memory and persistence: a count (default
   * 100), or `{ transactions, mutations }` (default 100 and 10,000 mutations in all).
   */
  readonly transactionHistory?: number | HistoryOptions;
  /** Refuse remote HLCs further ahead than this (default 5 minutes). */
  readonly maxDriftMs?: number;
  /**
   * Record what this replica sees for devtools from the start (`client.experimental_inspect`;
   * default off: it can also be enabled later). `true`, or the record's bounds.
   */
  readonly experimental_inspect?: boolean | InspectOptions;
  /** Errors nobody else hears (event handlers that throw, background failures with no `sync.error:action` listener). */
  readonly onError?: (error: Error) => void;
  /**
   * Share one replica between the tabs of this origin (needs the IndexedDB persistence they
   * share): one tab, the leader (Web Locks), talks to the server for all; every tab writes
   * and sees every tab's pending writes at once (BroadcastChannel). Where Web Locks or
   * BroadcastChannel are missing the tab warns and runs alone (`client.tabs` says `single`).
   * See README "Multiple tabs".
   */
  readonly multiTab?: boolean | MultiTabOptions;
}

/** What a collection is made from. */
export interface CollectionConfig<T extends { id: string } = { id: string }> {
  /** The collection's name: letters, digits, `_`, `-`, starting with a letter or `_`. Default: `sync.id`. */
  readonly id?: string;
  /** A source adapter (default: seed 001's adapter when `sync`/`mutationFn` are given, else local-only). */
  readonly source?: Source;
  /** Seed 001: where data comes from. */
  readonly sync?: SyncConfig;
  /** Seed 001: where writes go. */
  readonly mutationFn?: MutationFn;
  /** A Standard Schema (zod, valibot, arktype, `t.object`) or a core `defineCollection(...)` result. */
  readonly schema?: CollectionDef<string, T, any> | { readonly '~standard': unknown };
  /** `ordered` (default) or `parallel` with an optional merge (seed 001). */
  readonly strategy?: MutationStrategy | 'ordered' | 'parallel';
}

/** A running client (`M`: its mutators, for typed `mutate`). */
export interface Client<M extends Mutators = Mutators> {
  /** This client's replica id. */
  readonly clientId: string;
  /** The synced base + optimistic overlay (the query engine reads this). */
  readonly store: ClientStore;
  /** Typed events: seed 004's hooks and transaction state changes. */
  readonly events: EventStream;
  readonly hlc: HlcClock;
  readonly scheduler: Scheduler;
  /** Active and recently finished transactions, oldest first (for `useTransactions`). */
  readonly transactions: ReadonlySignal<readonly Transaction[]>;
  /**
   * Inspection for devtools (experimental): transactions and their state changes, sources
   * with status, cursor and outbox, live queries, and per field the writes seen with HLC and
   * origin. Records nothing until `enable()` (or the option `experimental_inspect`).
   */
  readonly experimental_inspect: ClientInspector;
  /** Resolves once persistence is loaded and recovery ran; rejects (typed) if it could not be read. */
  readonly ready: Promise<void>;
  /** The collection with this id, created from `config` the first time (one instance per id). */
  collection<T extends { id: string } = { id: string } & Record<string, unknown>>(
    config: CollectionConfig<T>,
  ): Collection<T>;
  /** An already created collection. */
  getCollection<T extends { id: string } = { id: string } & Record<string, unknown>>(
    id: string,
  ): Collection<T> | undefined;
  /** Run `fn`, collecting every write it makes (to any collection) into one all-or-nothing transaction. */
  transaction(fn: (tx: Transaction) => unknown, options?: TransactionOptions): Transaction;
  /** Seed 000's `Omni.write`: like `transaction`, resolving when every write completed (`optimistic: false`: nothing shows until then). */
  write(fn: (tx: Transaction) => unknown, options?: TransactionOptions): Promise<Transaction>;
  /**
   * Run a named mutation (seed 002): the mutator runs here at once against what this client
   * shows, and its writes become one optimistic transaction (returned at once; they show as
   * soon as the mutator's awaits are done). The outbox keeps the name and args, and the
   * server runs the mutator again; its cells are what stays: `tx.promise` resolves once they
   * are here, or rejects with NonRetriableError (rolled back) when the server rejects it.
   * A mutator that throws here, or calls `tx.reject`, fails the transaction with that error
   * and sends nothing. Throws, writing nothing: NotFoundError (unknown name),
   * InvalidValueError (args that are not JSON), InvalidStateError (inside `transaction(fn)`).
   * @example
   * const client = createClient({ app: 'todo', server, mutators });
   * const tx = client.mutate('toggle', { id: 't1' });
   * await tx.promise; // the server ran it; every client shows its result
   */
  mutate<K extends keyof M & string>(name: K, ...args: MutateArgs<M[K]>): Transaction;
  /** The OmniSync-server source built from `server`/`app`/`auth`, used by collections without a source of their own. */
  readonly server: ServerSource | undefined;
  /** With `multiTab`: this tab's role (`leader`, `follower`, or `single` with the reason multi-tab is off). */
  readonly tabs: ReadonlySignal<TabStatus> | undefined;
  /**
   * The room `name` of the app on the server (seed 003; one instance per name): `join()`,
   * presence as signals, `broadcast(event)` and `on(event)` in HLC order. Rooms share one
   * WebSocket of their own, opened with the first join. Throws ValidationError without
   * `server`, or for a name that is not 1-256 characters.
   * @example
   * const room = client.room<{ name: string }>('todo-list');
   * await room.join({ name: 'Ada' });
   * room.presence.others.get(); // [{ user: 'u2', state: { name: 'Grace' } }]
   * room.on('cursor', (e) => draw(e.from, e.payload));
   */
  room<P extends JsonValue = JsonValue>(name: string): Room<P>;
  /** Sync on demand: push what is pending and pull what is new, on every source that can. */
  sync(): Promise<void>;
  /** Resolves when every queued persistence write is stored. */
  flush(): Promise<void>;
  /** Stop sources, store what is queued, close the persistence. */
  close(): Promise<void>;
}

interface SourceEntry {
  readonly source: Source;
  readonly collections: string[];
  readonly members: Collection<any>[];
  status: SubscriptionStatus;
  state: 'idle' | 'starting' | 'ready' | 'error';
  error?: Error;
}

class OmniSyncClient implements Client<any> {
  readonly store = new ClientStore();
  readonly hlc: ClientHlc;
  readonly scheduler: Scheduler;
  readonly ready: Promise<void>;
  readonly server: ServerSource | undefined;
  readonly #events: EventHub;
  readonly #engine: TransactionEngine;
  readonly #writer: OutboxWriter;
  readonly #persistence: Persistence | undefined;
  /** The persistence as the writer sees it: forgets ride it as markers (snapshots that replace the base). */
  readonly #forgets: ForgetMarkers | undefined;
  readonly #random: Random;
  readonly #options: ClientOptions;
  readonly #mutators: Mutators | undefined;
  readonly #collections = new Map<string, Collection<any>>();
  readonly #sources = new Map<Source, SourceEntry>();
  readonly #meta: Record<string, JsonValue> = {};
  #clientId: string;
  #loaded = false;
  #loadFailed: Error | undefined;
  #closed = false;
  readonly #rooms = new Map<string, ClientRoom<never>>();
  #roomLink: RoomLink | undefined;
  readonly #inspector: Inspector | undefined;
  readonly #features: ClientFeatures;
  readonly tabs: ReadonlySignal<TabStatus> | undefined;
  readonly #tabs: TabCoordinator | undefined;

  constructor(options: ClientOptions, features: ClientFeatures) {
    this.#options = options;
    this.#features = features;
    this.scheduler = options.scheduler ?? systemScheduler;
    this.#random = options.random ?? systemRandom;
    if (options.mutators !== undefined && !features.mutators)
      throw missingFeature('mutators', 'mutatorsFeature');
    this.#mutators = features.mutators?.checkMutators(options.mutators);
    this.#clientId = options.clientId ?? randomId(this.#random, 16);
    if (options.multiTab && !features.multiTab) throw missingFeature('multiTab', 'multiTabFeature');
    const tabs =
      options.multiTab && features.multiTab
        ? features.multiTab.resolveTabs(options.multiTab, options.persistence, this.#random, (e) =>
            this.#reportError(e),
          )
        : undefined;
    this.tabs = tabs?.status;
    this.#tabs = tabs?.coordinator;
    this.#persistence =
      this.#tabs && options.persistence
        ? this.#tabs.wrapPersistence(options.persistence, () => randomId(this.#random, 16))
        : options.persistence;
    const server = serverSourceFromOptions(options, this.scheduler, this.#random);
    if (server && this.#tabs && server.scope === 'queries')
      throw new ValidationError(
        'multiTab does not support serverOptions.scope "queries" yet (followers cannot add sync scopes to the leader): sync whole collections, or drop multiTab.',
      );
    this.server =
      server && this.#tabs && features.multiTab
        ? features.multiTab.createTabSource(server, this.#tabs, () => this.#clientId)
        : server;
    this.hlc = new ClientHlc(this.#clientId, {
      clock: this.scheduler,
      ...(options.maxDriftMs !== undefined ? { maxDriftMs: options.maxDriftMs } : {}),
    });
    this.store.restamp = () => this.hlc.now();
    const onError = (e: unknown) => {
      const err = toError(e);
      if (options.onError) options.onError(err);
      else console.error('[omnisync]', err);
    };
    this.#events = new EventHub(onError);
    this.#forgets = this.#persistence ? withForgetMarkers(this.#persistence) : undefined;
    this.#writer = new OutboxWriter(this.#forgets?.persistence, () => {
      const accepted = this.hlc.accepted;
      return {
        hlc: this.hlc.last,
        ...(accepted !== undefined ? { hlcAccepted: accepted } : {}),
        hlcSuspect: this.hlc.suspect ? true : null,
      };
    });
    const history = resolveHistory(options.transactionHistory);
    this.#engine = new TransactionEngine({
      store: this.store,
      scheduler: this.scheduler,
      hlc: this.hlc,
      random: this.#random,
      retry: resolveRetry(options.retry, this.#random),
      events: this.#events,
      writer: this.#writer,
      history,
      sourceOf: (c) => this.#collections.get(c)?.source,
      mutatorSource: () => this.server,
      storable: (cells) => this.#storable(cells),
      onError,
      // Writes to collections an OmniSync server syncs (the one that enforces the rules).
      precheck: rulesPrecheck(options, (c) => this.#collections.get(c)?.source.runsMutators === true),
    });
    this.store.onOverlap = (collection, id) => {
      if (!this.#loaded || !this.#events.wants('sync.conflict:action:detected')) return;
      this.#events.emit({
        type: 'sync.conflict:action:detected',
        collection,
        id,
        pending: this.store.pending(collection, id),
      });
    };
    if (options.experimental_inspect && !features.inspect)
      throw missingFeature('experimental_inspect', 'inspectFeature');
    this.#inspector = features.inspect?.create({
      store: this.store,
      events: this.#events,
      scheduler: this.scheduler,
      transactions: this.#engine.transactions,
      sources: () => [...this.#sources.values()].map((e) => this.#inspectSource(e)),
      statusSignals: () => {
        const out: ReadonlySignal<unknown>[] = [];
        for (const s of this.#sources.keys()) {
          const status = (s as Partial<ServerSource>).status;
          if (status !== undefined) out.push(status);
        }
        return out;
      },
      liveQueries: () =>
        (existingQueryEngineOf(this)?.activeQueries() ?? []).map((lq) => ({
          hash: lq.hash,
          collection: lq.ast.collection,
          ast: lq.ast,
          status: lq.status,
          completeness: lq.completeness,
          rows: Array.isArray(lq.value) ? lq.value.length : undefined,
          ...(lq.error !== undefined ? { error: lq.error.message } : {}),
        })),
    });
    if (options.experimental_inspect)
      this.#inspector?.enable(options.experimental_inspect === true ? {} : options.experimental_inspect);
    this.ready = this.#load();
    this.ready.catch((e) => {
      this.#loadFailed = toError(e);
      // Never write over stored data this client could not read (a corrupt or failing store):
      // writes stay in memory; the way out is the app's explicit clear() or a fixed store.
      this.#writer.close();
      this.#reportError(e);
      for (const entry of this.#sources.values())
        for (const c of entry.members) c.setStatus('error', this.#loadFailed);
    });
  }

  get clientId(): string {
    return this.#clientId;
  }
  get events(): EventStream {
    return this.#events;
  }
  get transactions(): ReadonlySignal<readonly Transaction[]> {
    return this.#engine.transactions;
  }
  get experimental_inspect(): ClientInspector {
    if (!this.#inspector) throw missingFeature('experimental_inspect', 'inspectFeature');
    return this.#inspector;
  }

  #inspectSource(e: SourceEntry): SourceInspection {
    const s = e.source as Source & Partial<ServerSource>;
    const prefix = `source:${s.id}:`;
    const meta: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(this.#meta))
      if (k.startsWith(prefix)) meta[k.slice(prefix.length)] = v;
    return {
      id: s.id,
      kind: s.kind,
      collections: [...e.collections],
      status: e.status,
      state: e.state,
      ...(e.error !== undefined ? { error: e.error } : {}),
      ...(s.status !== undefined ? { server: s.status.peek() } : {}),
      ...(typeof s.experimental_outbox === 'function' ? { outbox: s.experimental_outbox() } : {}),
      meta,
    };
  }
  /** @internal */
  get engine(): TransactionEngine {
    return this.#engine;
  }

  async #load(): Promise<void> {
    const p = this.#persistence;
    if (!p) {
      this.#loaded = true;
      this.#engine.setReady();
      return;
    }
    const state = await p.load();
    Object.assign(this.#meta, state.meta);
    const savedId = state.meta.clientId;
    const nodeId = this.#options.clientId ?? (typeof savedId === 'string' ? savedId : this.#clientId);
    const savedAccepted = state.meta.hlcAccepted;
    try {
      if (savedAccepted !== undefined && typeof savedAccepted !== 'string')
        throw new Error('hlcAccepted is not a string');
      this.hlc.restore(
        nodeId,
        typeof state.meta.hlc === 'string' ? state.meta.hlc : undefined,
        savedAccepted,
        state.meta.hlcSuspect === true,
      );
    } catch (e) {
      throw new PersistenceCorruptError(
        `${p.name}: the saved clock ${JSON.stringify(state.meta.hlc)} / ${JSON.stringify(savedAccepted)} does not read back (${toError(e).message}).`,
        {
          cause: e,
        },
      );
    }
    this.#clientId = nodeId;
    if (this.#tabs) {
      // Tabs share the replica id (pushes, idempotency) but each stamps with its own HLC
      // node, so two tabs never issue one stamp for different writes.
      this.hlc.restore(
        `${nodeId.slice(0, 50)}_${this.#tabs.tabId}`,
        typeof state.meta.hlc === 'string' ? state.meta.hlc : undefined,
      );
    }
    try {
      const columns = loadedBaseOf(state);
      if (columns) this.store.loadBase(columns, () => state.cells);
      else this.store.applyBase(state.cells);
    } catch (e) {
      throw new PersistenceCorruptError(
        `${p.name}: a stored cell is invalid (${toError(e).message}). Nothing was dropped; inspect or clear the persistence.`,
        {
          cause: e,
        },
      );
    }
    const txs = state.transactions.map((t, i) => deserializeTransaction(t, i, p.name));
    this.#engine.recover(txs);
    if (savedId !== nodeId)
      this.#writer.write({ meta: { clientId: nodeId } }).catch((e) => this.#reportError(e));
    this.#loaded = true;
    this.#engine.setReady();
    this.#tabs?.attach({
      recover: (tx) => this.#engine.recover([deserializeTransaction(tx, 0, p.name)]),
    });
  }

  collection<T extends { id: string }>(config: CollectionConfig<T>): Collection<T> {
    const id = config.id ?? config.sync?.id;
    if (!isValidCollectionName(id))
      throw new ValidationError(
        `collection id ${JSON.stringify(id)} is not valid: use letters, digits, _ or -, starting with a letter or _ (e.g. "todos").`,
      );
    const existing = this.#collections.get(id);
    if (existing) return existing as Collection<T>;
    if (this.#closed) throw new ValidationError('This client is closed; create a new one.');
    const source =
      config.source ??
      (config.sync || config.mutationFn
        ? createSyncSource({
            collection: id,
            ...(config.sync ? { sync: config.sync } : {}),
            ...(config.mutationFn ? { mutationFn: config.mutationFn } : {}),
          })
        : (this.server ?? createLocalOnlySource(`local:${id}`)));
    const col = new Collection<T>(this, {
      id,
      source,
      def: resolveSchema(id, config.schema),
      strategy: resolveStrategy(config.strategy),
    });
    this.#collections.set(id, col);
    let entry = this.#sources.get(source);
    const fresh = entry === undefined;
    if (!entry) {
      entry = { source, collections: [], members: [], status: 'idle', state: 'idle' };
      this.#sources.set(source, entry);
    }
    entry.collections.push(id);
    entry.members.push(col);
    if (fresh) void this.#startSource(entry);
    else if (entry.state === 'ready') col.setStatus('ready');
    else if (entry.state === 'error') col.setStatus('error', entry.error);
    this.#engine.resume();
    return col;
  }

  getCollection<T extends { id: string }>(id: string): Collection<T> | undefined {
    return this.#collections.get(id) as Collection<T> | undefined;
  }

  async #startSource(entry: SourceEntry): Promise<void> {
    const ready = (state: 'ready' | 'error', error?: Error) => {
      entry.state = state;
      if (error) entry.error = error;
      for (const c of entry.members) c.setStatus(state, error);
    };
    try {
      await this.ready;
    } catch (e) {
      ready('error', toError(e));
      return;
    }
    const s = entry.source;
    if (!s.start || this.#closed) {
      ready('ready');
      return;
    }
    entry.state = 'starting';
    try {
      await s.start(this.#context(entry));
      ready('ready');
    } catch (e) {
      const err = toError(e);
      ready('error', err);
      this.#setStatus(entry, 'error');
      this.#reportError(err, s.id);
    }
  }

  #context(entry: SourceEntry): SourceContext {
    const s = entry.source;
    const metaKey = (key: string) => `source:${s.id}:${key}`;
    return {
      collections: entry.collections,
      hlc: this.hlc,
      scheduler: this.scheduler,
      applyDocuments: (collection, docs) => this.#applyDocuments(s, collection, docs),
      applyCells: (cells) => this.#applyCells(s, cells),
      forgetAbsent: (queries, present) => this.#forgetAbsent(queries, present),
      forgetUnmatched: (queries, cells) => this.#forgetUnmatched(queries, cells),
      forgetScope: (dropped, remaining) => this.#forgetScope(dropped, remaining),
      forgetDocuments: (docs) => this.#forgetDocuments(docs),
      setStatus: (status) => this.#setStatus(entry, status),
      reportError: (e) => this.#reportError(e, s.id),
      getMeta: (key) => this.#meta[metaKey(key)],
      setMeta: (key, value) => {
        this.#meta[metaKey(key)] = value;
        return this.#writer.write({ meta: { [metaKey(key)]: value } });
      },
    };
  }

  #setStatus(entry: SourceEntry, status: SubscriptionStatus): void {
    const previous = entry.status;
    if (previous === status) return;
    entry.status = status;
    if (this.#events.wants('sync.subscription:action:statusChange'))
      this.#events.emit({
        type: 'sync.subscription:action:statusChange',
        source: entry.source.id,
        status,
        previous,
      });
  }

  #applyDocuments(source: Source, collection: string, docs: RemoteDocuments): void {
    if (this.#closed) return;
    const col = this.#collections.get(collection);
    const refMany = col?.def && col.def.refMany.size > 0 ? col.def.refMany : undefined;
    const byId = new Map<string, RemoteEntry>();
    for (const e of remoteEntries(collection, docs)) byId.set(e[0], e); // the last of an id wins
    const stamp = this.hlc.now();
    const engine = this.#engine;
    const anyHeld = engine.locks.anyHeld(collection);
    const pass: Cell[] = [];
    const base = this.store.base;
    for (const e of byId.values()) {
      if (anyHeld && engine.isHeld(collection, e[0])) {
        // Stored now, shown when the lock is released: a source may checkpoint its cursor as
        // soon as this returns, so held data must be as durable as applied data.
        const cells = documentCells(base, collection, e, stamp, refMany);
        if (this.#inspector?.enabled) this.#inspector.remote(source.id, cells);
        this.#persistCells(cells);
        engine.hold(collection, e[0], cells);
        this.#conflict(collection, e[0]);
        continue;
      }
      for (const c of documentCells(base, collection, e, stamp, refMany)) pass.push(c);
    }
    if (this.#inspector?.enabled && pass.length > 0) this.#inspector.remote(source.id, pass);
    if (pass.length > 0) this.#applyToBase(pass);
    if (this.#events.wants('sync.pull:action:received'))
      this.#events.emit({
        type: 'sync.pull:action:received',
        source: source.id,
        collection,
        count: byId.size,
      });
  }

  #applyCells(source: Source, cells: readonly Cell[]): void {
    if (this.#closed) return;
    if (!Array.isArray(cells)) throw new ValidationError('applyCells takes an array of cells.');
    let max: string | undefined;
    for (let i = 0; i < cells.length; i++) {
      validateCell(cells[i], i);
      if (max === undefined || cells[i]!.hlc > max) max = cells[i]!.hlc;
    }
    if (max !== undefined) this.hlc.receive(max); // too far ahead: throws, nothing applied
    if (this.#inspector?.enabled) this.#inspector.remote(source.id, cells);
    const engine = this.#engine;
    const pass: Cell[] = [];
    let held: Map<string, Cell[]> | undefined;
    for (const c of cells) {
      if (engine.locks.anyHeld(c.collection) && engine.isHeld(c.collection, c.id)) {
        const k = c.collection + '/' + c.id;
        let list = (held ??= new Map()).get(k);
        if (!list) held.set(k, (list = []));
        list.push(c);
      } else pass.push(c);
    }
    // Held cells are stored now (a source may checkpoint its cursor past them) and shown on release.
    if (held)
      for (const list of held.values()) {
        this.#persistCells(list);
        engine.hold(list[0]!.collection, list[0]!.id, list);
        this.#conflict(list[0]!.collection, list[0]!.id);
      }
    if (pass.length > 0) this.#applyToBase(pass);
    if (this.#events.wants('sync.pull:action:received'))
      this.#events.emit({ type: 'sync.pull:action:received', source: source.id, count: cells.length });
  }

  /** Remote data reached a document with pending local writes (held, or merged under them). */
  #conflict(collection: string, id: string): void {
    if (this.#events.wants('sync.conflict:action:detected'))
      this.#events.emit({
        type: 'sync.conflict:action:detected',
        collection,
        id,
        pending: this.store.pending(collection, id),
      });
  }

  #applyToBase(cells: readonly Cell[]): void {
    this.store.applyBase(cells, true);
    this.#persistCells(cells);
  }

  /**
   * A snapshot of `queries` replaced the base (seed 002): synced documents matching one of
   * them that the snapshot lacks are forgotten, in memory and, in order with every other
   * write, in persistence (a restart must not bring them back). Pending writes stay. A
   * document holding sync data back for an ordered write keeps its base: the held data is
   * released onto it later.
   */
  #forgetAbsent(queries: readonly QueryAst[], present: readonly Cell[]): void {
    if (this.#closed) return;
    // Fields of each document in the snapshot.
    const here = new Map<string, Set<string>>();
    for (const c of present) {
      const k = `${c.collection}\u0000${c.id}`;
      let fields = here.get(k);
      if (!fields) here.set(k, (fields = new Set()));
      fields.add(c.field);
    }
    const base = this.store.base;
    for (const [collection, matchers] of syncTests(queries)) {
      const gone: string[] = [];
      for (const id of base.ids(collection)) {
        const fields = here.get(`${collection}\u0000${id}`);
        if (fields === undefined) {
          const doc = base.get(collection, id)!;
          if (matchers.some((test) => test(doc))) gone.push(id);
          continue;
        }
        // In the snapshot: a base field the server no longer has means the document was
        // deleted and re-created there (its tombstone compacted); rebuild it from the snapshot.
        for (const f of base.fields(collection, id)!.keys())
          if (!fields.has(f)) {
            gone.push(id);
            break;
          }
      }
      this.#forgetBase(collection, gone);
    }
  }

  /** Synced documents `dropped` matches and none of `remaining` does: forget them (not those with pending writes). */
  #forgetScope(dropped: QueryAst, remaining: readonly QueryAst[]): boolean {
    if (this.#closed) return true;
    const drop = compileSyncQuery(dropped);
    const keep = syncTests(remaining).get(drop.collection) ?? [];
    const base = this.store.base;
    const gone: string[] = [];
    let keptBack = false;
    for (const id of base.ids(drop.collection)) {
      const doc = base.get(drop.collection, id)!;
      if (!drop.test(doc) || keep.some((test) => test(doc))) continue;
      // A pending write would confirm onto an empty base (a partial document): not yet.
      if (this.store.pending(drop.collection, id).length > 0) keptBack = true;
      else gone.push(id);
    }
    if (gone.length > 0) this.#forgetBase(drop.collection, gone);
    return !keptBack;
  }

  /** Documents touched by `cells` that match none of `queries` of their collection left the scope: forget them. */
  #forgetUnmatched(queries: readonly QueryAst[], cells: readonly Cell[]): void {
    if (this.#closed || cells.length === 0) return;
    const tests = syncTests(queries);
    const base = this.store.base;
    const gone = new Map<string, Set<string>>();
    for (const c of cells) {
      const doc = base.get(c.collection, c.id);
      if (doc === undefined) continue; // absent or tombstoned: nothing to forget (tombstones stay)
      const matchers = tests.get(c.collection);
      if (matchers?.some((test) => test(doc))) continue;
      let ids = gone.get(c.collection);
      if (!ids) gone.set(c.collection, (ids = new Set()));
      ids.add(c.id);
    }
    for (const [collection, ids] of gone) this.#forgetBase(collection, [...ids]);
  }

  /** Documents the server evicted (rules on reads): forget their synced base, nothing else. */
  #forgetDocuments(docs: readonly { readonly collection: string; readonly id: string }[]): void {
    if (this.#closed || docs.length === 0) return;
    const byCollection = new Map<string, string[]>();
    for (const d of docs) {
      if (!this.store.base.has(d.collection, d.id)) continue; // not held (or a tombstone: it stays)
      let ids = byCollection.get(d.collection);
      if (!ids) byCollection.set(d.collection, (ids = []));
      ids.push(d.id);
    }
    for (const [collection, ids] of byCollection) this.#forgetBase(collection, ids);
  }

  /**
   * Forget synced documents in memory and, in order with every other write, in persistence
   * (a restart must not bring them back). A document holding sync data back for an ordered
   * write keeps its base: the held data is released onto it later.
   */
  #forgetBase(collection: string, ids: readonly string[]): void {
    const engine = this.#engine;
    const keep = engine.locks.anyHeld(collection) ? ids.filter((id) => !engine.isHeld(collection, id)) : ids;
    if (keep.length === 0) return;
    this.store.forgetBase(collection, keep);
    const forgets = this.#forgets;
    if (forgets && this.#writer.enabled)
      this.#writer
        .write({ cells: keep.map((id) => forgets.marker(collection, id)) })
        .catch((e) => this.#reportError(e));
  }

  #persistCells(cells: readonly Cell[]): void {
    if (cells.length === 0 || !this.#writer.enabled) return;
    const keep = this.#storable(cells);
    if (keep.length > 0) this.#writer.write({ cells: keep }).catch((e) => this.#reportError(e));
  }

  /**
   * The cells that may be written to persistence. Persistence stores a cell by its key in
   * commit order, while memory keeps the last writer by HLC: a cell that lost in memory (to a
   * newer cell, a tombstone, or a held sync update) must not overwrite the stored winner.
   */
  #storable(cells: readonly Cell[]): Cell[] {
    const base = this.store.base;
    const engine = this.#engine;
    const out: Cell[] = [];
    for (const c of cells) {
      if (c.field !== DELETED_FIELD) {
        if (base.isDeleted(c.collection, c.id)) continue;
        const slot = base.cell(c.collection, c.id, c.field);
        if (slot !== undefined && slot.hlc !== c.hlc && !cellWins(c.hlc, c.value, slot)) continue;
      }
      if (engine.heldBeats(c)) continue;
      out.push(c);
    }
    return out;
  }

  #reportError(e: unknown, source?: string): void {
    const error = toError(e);
    if (this.#events.wants('sync.error:action'))
      this.#events.emit({ type: 'sync.error:action', error, retryable: true, ...(source ? { source } : {}) });
    else if (this.#options.onError) this.#options.onError(error);
    else console.error('[omnisync]', error);
  }

  transaction(fn: (tx: Transaction) => unknown, options?: TransactionOptions): Transaction {
    return untracked(() => this.#engine.run(fn, options));
  }

  write(fn: (tx: Transaction) => unknown, options?: TransactionOptions): Promise<Transaction> {
    try {
      return this.transaction(fn, options).promise;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Bound: `const { mutate } = client` works. */
  readonly mutate = (name: string, args?: unknown): Transaction => {
    if (!this.#features.mutators) throw missingFeature('client.mutate', 'mutatorsFeature');
    return this.#features.mutators.mutate(
      {
        store: this.store,
        engine: this.#engine,
        pushClientId: () => this.server?.clientId ?? this.#clientId,
        getCollection: (id) => this.#collections.get(id),
        mutatorSource: this.server,
      },
      this.#mutators,
      name,
      args,
    );
  };

  /** @internal */
  now(): number {
    return this.scheduler.now();
  }

  room<P extends JsonValue = JsonValue>(name: string): Room<P> {
    if (typeof name !== 'string' || name.length === 0 || name.length > 256)
      throw new ValidationError(`A room name is 1-256 characters, got ${JSON.stringify(name)}.`);
    const existing = this.#rooms.get(name);
    if (existing) return existing as unknown as Room<P>;
    const rooms = this.#features.rooms;
    if (!rooms) throw missingFeature('client.room', 'roomsFeature');
    const o = this.#options;
    if (o.server === undefined || o.app === undefined)
      throw new ValidationError(
        'Rooms live on the sync server: create the client with { app, server } to use client.room().',
      );
    const server = o.server;
    const app = o.app;
    const link = () => {
      if (this.#closed) throw new InvalidStateError('This client is closed; create a new one.');
      if (this.#roomLink) return this.#roomLink;
      const so = o.serverOptions;
      const WS =
        so?.WebSocket === undefined
          ? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
          : so.WebSocket;
      if (!WS)
        throw new ValidationError(
          'Rooms need a WebSocket: pass serverOptions.WebSocket (on Node 20, the `ws` package).',
        );
      return (this.#roomLink = rooms.link({
        url: liveUrl(server, app),
        WebSocket: WS,
        scheduler: this.scheduler,
        ...(o.auth ? { auth: o.auth } : {}),
        clientId: () => this.#clientId,
        heartbeatMs: so?.heartbeatMs ?? HEARTBEAT_MS,
        backoff: new Backoff(resolveBackoff(so?.backoff), this.#random),
        onError: (e) => this.#reportError(e),
      }));
    };
    const room = rooms.room(name, link, (e) => this.#reportError(e));
    this.#rooms.set(name, room);
    return room as unknown as Room<P>;
  }

  sync(): Promise<void> {
    return syncSources(this.#sources.keys());
  }

  flush(): Promise<void> {
    return this.#writer.drain();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#roomLink?.stop();
    for (const entry of this.#sources.values()) {
      try {
        await entry.source.stop?.();
      } catch (e) {
        this.#reportError(e, entry.source.id);
      }
    }
    // Hand the leadership on now: the next tab takes over while this one finishes writing.
    this.#tabs?.close();
    await this.ready.catch(() => {});
    await this.#writer.drain();
    this.#writer.close();
    await this.#persistence?.close();
    void this.#loadFailed;
  }
}

/** Compiled sync filters by collection (core `compileSyncQuery`). */
function syncTests(
  queries: readonly QueryAst[],
): Map<string, ((doc: Readonly<Record<string, unknown>>) => boolean)[]> {
  const tests = new Map<string, ((doc: Readonly<Record<string, unknown>>) => boolean)[]>();
  for (const q of queries) {
    const s = compileSyncQuery(q);
    const list = tests.get(s.collection);
    if (list) list.push(s.test);
    else tests.set(s.collection, [s.test]);
  }
  return tests;
}

function resolveSchema(
  id: string,
  schema: CollectionConfig['schema'],
): CollectionDef<string, any, any> | undefined {
  if (schema === undefined) return undefined;
  const s = schema as Partial<CollectionDef<string, any, any>> & { '~standard'?: unknown };
  if (
    typeof s === 'object' &&
    s !== null &&
    s.schema !== undefined &&
    s.refMany instanceof Set &&
    typeof s.name === 'string'
  ) {
    if (s.name !== id)
      throw new SchemaError(
        `Collection "${id}" was given the schema of collection "${s.name}"; pass the matching defineCollection() result.`,
        {
          details: { collection: id },
        },
      );
    return s as CollectionDef<string, any, any>;
  }
  return defineCollection({ name: id, schema: schema as never });
}

function resolveStrategy(strategy: CollectionConfig['strategy']): MutationStrategy {
  if (strategy === undefined || strategy === 'ordered') return { type: 'ordered' };
  if (strategy === 'parallel') return { type: 'parallel' };
  if (strategy.type !== 'ordered' && strategy.type !== 'parallel')
    throw new ValidationError(
      `strategy.type is ${JSON.stringify(strategy.type)}; use "ordered" or "parallel".`,
    );
  if (strategy.merge !== undefined && typeof strategy.merge !== 'function')
    throw new ValidationError(
      'strategy.merge must be a function (syncedData, pendingMutations) => document.',
    );
  return strategy;
}

/**
 * Create a client.
 * @example
 * const client = createClient({ persistence: createMemoryPersistence() });
 * const todos = client.collection<Todo>({ id: 'todos' });
 * const tx = todos.insert({ id: 'a', title: 'Buy milk', done: false });
 * await tx.promise;
 */
export function createClient<M extends Mutators = Mutators>(options: ClientOptions<M> = {}): Client<M> {
  return new OmniSyncClient(options, ALL_FEATURES) as Client<any> as Client<M>;
}

/**
 * Create a client with only the optional parts it is given (see features.ts): the same
 * client as {@link createClient}, but multi-tab, rooms, devtools inspection and named
 * mutations ship only when named, so an app that uses none of them bundles smaller. Using a
 * part it was not given throws a ValidationError that names the feature to pass.
 * @example
 * const client = createLeanClient({ app, server, persistence }, { rooms: roomsFeature });
 */
export function createLeanClient<M extends Mutators = Mutators>(
  options: ClientOptions<M> = {},
  features: ClientFeatures = {},
): Client<M> {
  return new OmniSyncClient(options, features) as Client<any> as Client<M>;
}

/**
 * The rules pre-check of `createClient({ rules, principal })`, from the rules object itself
 * (an app that passes no rules ships no evaluator); `include`: collections the server syncs.
 */
function rulesPrecheck(o: ClientOptions, include: (collection: string) => boolean): EngineDeps['precheck'] {
  if (o.rules === undefined) return undefined;
  if (typeof o.rules.precheck !== 'function')
    throw new ValidationError('createClient({ rules }): pass the defineRules({...}) result the server uses.');
  // Without a principal (or with a bad one) this throws a ValidationError saying what to pass.
  return o.rules.precheck(o.principal!, include);
}

function missingFeature(what: string, feature: string): ValidationError {
  return new ValidationError(
    `${what} needs ${feature}: use createClient, or pass it as createLeanClient(options, { …, ${feature.replace('Feature', '')}: ${feature} }).`,
  );
}
