/**
 * Apps (tenants) and their per-app state: storage, write lock, live hub, rooms. An app is
 * opened lazily on first use; its name is validated before it ever becomes a file name.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { NotFoundError, OmniSyncError, ValidationError } from '@omnisync/core';
import { createSqliteStorage } from '../storage/sqlite-storage.js';
import type { StorageFactory, SyncStorage } from '../storage/storage.js';
import { Mutex } from '../util/mutex.js';
import type { CommitFeed } from './commit-feed.js';
import type { SyncServerOptions } from './options.js';

const APP_RE = /^[A-Za-z0-9_-]{1,64}$/;

/** Throws unless `app` is a valid app name (1-64 of A-Z a-z 0-9 _ -) that exists. */
export function checkAppName(app: string, allow: ReadonlySet<string> | undefined): void {
  if (!APP_RE.test(app))
    throw new ValidationError(
      `App name ${JSON.stringify(app.slice(0, 80))} is not valid: use 1-64 characters of A-Z, a-z, 0-9, _ or -.`,
    );
  if (allow && !allow.has(app))
    throw new NotFoundError(`There is no app ${JSON.stringify(app)} on this server.`);
}

/** One app's server-side state. */
export interface AppState {
  readonly app: string;
  readonly storage: SyncStorage;
  /** Serializes push (commit + fan-out), so fan-out follows commit order. */
  readonly lock: Mutex;
  /**
   * On a storage other processes write too: the ordered fan-out of every process's commits
   * (see commit-feed.ts). Absent: this process's commits are published as they commit.
   */
  readonly feed: CommitFeed | undefined;
}

/** Lazily opened apps. */
export class AppRegistry {
  /** Makes the commit feed of an app whose storage other processes write too. */
  onShared: ((app: string, storage: SyncStorage) => CommitFeed) | undefined;
  readonly #open = new Map<string, Promise<AppState>>();
  readonly #factory: StorageFactory;
  readonly #allow: ReadonlySet<string> | undefined;
  #closed = false;

  constructor(options: SyncServerOptions) {
    this.#allow = options.apps ? new Set(options.apps) : undefined;
    if (options.storage) this.#factory = options.storage;
    else {
      const dir = resolve(options.dataDir ?? './data');
      let made = false;
      this.#factory = (app) => {
        if (!made) {
          mkdirSync(dir, { recursive: true });
          made = true;
        }
        return createSqliteStorage({
          file: join(dir, `${app}.sqlite`),
          ...(options.durability ? { durability: options.durability } : {}),
        });
      };
    }
  }

  /** Throws unless `app` is a valid name of an existing app (400/404). Opens nothing. */
  check(app: string): void {
    checkAppName(app, this.#allow);
  }

  /** Validate the name (400/404) and open the app. */
  get(app: string): Promise<AppState> {
    checkAppName(app, this.#allow);
    if (this.#closed)
      return Promise.reject(new OmniSyncError('closed', 'The server is shutting down; retry in a moment.'));
    let p = this.#open.get(app);
    if (!p) {
      p = (async () => {
        const storage = await this.#factory(app);
        const feed = storage.watchCommits ? this.onShared?.(app, storage) : undefined;
        await feed?.ready;
        return { app, storage, lock: new Mutex(), feed };
      })();
      this.#open.set(app, p);
      // A failed open is retried by the next request rather than cached.
      p.catch(() => this.#open.delete(app));
    }
    return p;
  }

  /** The apps opened (or opening) so far. */
  opened(): Iterable<Promise<AppState>> {
    return this.#open.values();
  }

  /** Each open app's storage size, where its storage can tell (a failing one is left out). */
  async sizes(): Promise<[app: string, bytes: number][]> {
    const out: [string, number][] = [];
    for (const opening of [...this.#open.values()]) {
      try {
        const state = await opening;
        if (state.storage.sizeBytes) out.push([state.app, await state.storage.sizeBytes()]);
      } catch {
        // not open (or closed meanwhile): nothing to report
      }
    }
    return out;
  }

  /** Wait for in-flight commits, then close every storage. */
  async closeAll(): Promise<void> {
    this.#closed = true;
    const apps = await Promise.allSettled(this.#open.values());
    this.#open.clear();
    await Promise.all(
      apps.map(async (r) => {
        if (r.status !== 'fulfilled') return;
        await r.value.lock.idle();
        await r.value.storage.close();
      }),
    );
  }
}
