/**
 * The small interfaces the multi-tab coordinator runs on. The browser gives Web Locks and
 * BroadcastChannel (`browser-tabs.ts`); unit tests give Node's BroadcastChannel and an
 * in-process lock (`in-process-lock.ts`), so the coordinator never touches a global itself.
 */

/** An exclusive named lock held for as long as `fn`'s promise is pending (Web Locks' `request`). */
export interface TabLock {
  request<T>(name: string, fn: () => Promise<T>): Promise<T>;
}

/** A broadcast message bus between the tabs of one origin (a BroadcastChannel). */
export interface TabChannel {
  postMessage(message: unknown): void;
  /** Set the one handler of incoming messages (messages a tab posts never reach itself). */
  onMessage(handler: (message: unknown) => void): void;
  close(): void;
}

/** What a tab is (a signal on `client.tabs`). */
export interface TabStatus {
  /**
   * `leader`: this tab talks to the server for every tab. `follower`: another tab does;
   * writes here are relayed to it. `single`: multi-tab is off here (`reason` says why):
   * this tab syncs on its own, like a client without `multiTab`.
   */
  readonly role: 'leader' | 'follower' | 'single';
  /** This tab's id (random per page load). */
  readonly tabId: string;
  /** Why multi-tab is off (role `single`). */
  readonly reason?: string;
}

/** The `multiTab` option of `createClient`. */
export interface MultiTabOptions {
  /**
   * Names the lock and the channel: tabs with the same name share one replica. Default: the
   * IndexedDB persistence's name.
   */
  readonly name?: string;
  /** The lock (default: `navigator.locks`). Tests pass `createInProcessTabLock()`. */
  readonly lock?: TabLock;
  /** The channel factory (default: `new BroadcastChannel(name)`). */
  readonly channel?: (name: string) => TabChannel;
}
