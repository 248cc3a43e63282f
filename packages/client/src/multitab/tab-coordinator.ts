/**
 * One coordinator per tab: it elects the leader (an exclusive lock held for the tab's whole
 * life), carries messages between tabs, and wraps the shared persistence so that every tab
 * learns of every other tab's pending transactions. See ARCHITECTURE.md beside this file.
 */
import { type ReadonlySignal, type Signal, signal, toError } from '@omnisync/core';
import type { PersistedTransaction, Persistence, PersistenceBatch } from '../persistence/types.js';
import { isTabMessage, type TabMessage } from './messages.js';
import type { TabChannel, TabLock, TabStatus } from './types.js';

/** What the coordinator needs from its client once persistence is loaded. */
export interface TabHooks {
  /** Show and send a pending transaction another tab wrote (the engine's recovery path). */
  recover(tx: PersistedTransaction): void;
}

/** Options of {@link TabCoordinator}. */
export interface TabCoordinatorOptions {
  readonly name: string;
  readonly tabId: string;
  readonly lock: TabLock;
  readonly channel: TabChannel;
  readonly onError: (error: Error) => void;
}

const isFinished = (tx: PersistedTransaction): boolean => tx.state === 'completed' || tx.state === 'failed';

/** @internal The per-tab side of multi-tab: election, messages, the shared outbox. */
export class TabCoordinator {
  readonly tabId: string;
  readonly #status: Signal<TabStatus>;
  readonly #o: TabCoordinatorOptions;
  /** Transaction ids this tab holds (its own, loaded, or recovered from another tab). */
  readonly #known = new Set<string>();
  /** Of those, the ones another tab (or an earlier page load) wrote: their owner stores their pending states. */
  readonly #foreign = new Set<string>();
  readonly #handlers: ((m: TabMessage) => void)[] = [];
  readonly #onLead: (() => void)[] = [];
  #hooks: TabHooks | undefined;
  #early: PersistedTransaction[] = [];
  #release: (() => void) | undefined;
  #closed = false;

  constructor(options: TabCoordinatorOptions) {
    this.#o = options;
    this.tabId = options.tabId;
    this.#status = signal<TabStatus>({ role: 'follower', tabId: options.tabId });
    options.channel.onMessage((m) => {
      if (this.#closed || !isTabMessage(m) || m.from === this.tabId) return;
      if (m.t === 'txs') this.#foreignTxs(m.txs);
      for (const h of this.#handlers) {
        try {
          h(m);
        } catch (e) {
          options.onError(toError(e));
        }
      }
    });
  }

  /** This tab's role. */
  get status(): ReadonlySignal<TabStatus> {
    return this.#status;
  }

  get isLeader(): boolean {
    return this.#status.peek().role === 'leader';
  }

  /** Send to every other tab. */
  post(m: TabMessage): void {
    if (this.#closed) return;
    try {
      this.#o.channel.postMessage(m);
    } catch (e) {
      this.#o.onError(toError(e));
    }
  }

  /** Hear every other tab's messages. */
  on(handler: (m: TabMessage) => void): void {
    this.#handlers.push(handler);
  }

  /** Called once this tab became the leader. */
  onLead(fn: () => void): void {
    this.#onLead.push(fn);
  }

  /**
   * The shared persistence as this tab uses it. `load` runs under a short lock so the first
   * tab of an empty database settles the replica id every tab pushes under (`newId`); a
   * commit's new pending transactions are announced to the other tabs once stored; the
   * pending states of a transaction another tab owns are not written over (its owner writes
   * them; this tab writes only its end: finished or deleted).
   */
  wrapPersistence(inner: Persistence, newId: () => string): Persistence {
    return {
      name: inner.name,
      load: () =>
        this.#o.lock.request(`omnisync:${this.#o.name}:init`, async () => {
          const state = await inner.load();
          if (typeof state.meta.clientId !== 'string') {
            const id = newId();
            await inner.commit({ meta: { clientId: id } });
            state.meta.clientId = id;
          }
          for (const tx of state.transactions) {
            this.#known.add(tx.id);
            this.#foreign.add(tx.id);
          }
          return state;
        }),
      commit: async (batch: PersistenceBatch) => {
        const puts = batch.putTransactions;
        let out = batch;
        let announce: PersistedTransaction[] = [];
        if (puts && puts.length > 0) {
          const keep = puts.filter((tx) => !this.#foreign.has(tx.id) || isFinished(tx));
          for (const tx of keep) if (!this.#foreign.has(tx.id)) this.#known.add(tx.id);
          announce = keep.filter((tx) => !this.#foreign.has(tx.id) && !isFinished(tx));
          if (keep.length !== puts.length) out = { ...batch, putTransactions: keep };
        }
        await inner.commit(out);
        if (announce.length > 0) this.post({ t: 'txs', from: this.tabId, txs: announce });
      },
      clear: () => inner.clear(),
      close: () => inner.close(),
    };
  }

  /** Persistence is loaded: recover what other tabs announced meanwhile, and stand for leader. */
  attach(hooks: TabHooks): void {
    if (this.#closed || this.#hooks) return;
    this.#hooks = hooks;
    const early = this.#early;
    this.#early = [];
    for (const tx of early) this.#recover(tx);
    this.#o.lock
      .request(`omnisync:${this.#o.name}:leader`, () => {
        if (this.#closed) return Promise.resolve();
        this.#status.set({ role: 'leader', tabId: this.tabId });
        this.post({ t: 'leader', from: this.tabId });
        for (const fn of this.#onLead) {
          try {
            fn();
          } catch (e) {
            this.#o.onError(toError(e));
          }
        }
        // Held until the tab closes (or dies: the browser releases it then).
        return new Promise<void>((resolve) => (this.#release = resolve));
      })
      .catch((e: unknown) => this.#o.onError(toError(e)));
  }

  #foreignTxs(txs: readonly PersistedTransaction[]): void {
    for (const tx of txs) {
      if (typeof tx?.id !== 'string' || this.#known.has(tx.id) || isFinished(tx)) continue;
      this.#known.add(tx.id);
      this.#foreign.add(tx.id);
      if (this.#hooks) this.#recover(tx);
      else this.#early.push(tx);
    }
  }

  #recover(tx: PersistedTransaction): void {
    try {
      this.#hooks!.recover(tx);
    } catch (e) {
      this.#o.onError(toError(e));
    }
  }

  /** Leave: release the leadership (another tab takes over at once) and close the channel. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release?.();
    this.#o.channel.close();
  }
}
