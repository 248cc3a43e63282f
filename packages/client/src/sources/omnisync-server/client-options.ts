/**
 * What `createClient({ app, server, auth })` needs from the server transport, ready for the
 * client to use: the options, building the shared server source from them, and `sync()`
 * over every source that can. (The client wires these in; this file keeps the transport's
 * side of that contract in one place.)
 */
import { type Random, type Scheduler, ValidationError } from '@omnisync/core';
import type { TokenFunction } from '../../transport/types.js';
import type { Source } from '../types.js';
import { createServerSource } from './server-source.js';
import type { ServerSource, ServerSourceOptions } from './server-source-types.js';

/** The client options that connect it to an OmniSync server. */
export interface ServerClientOptions {
  /** The app (tenant) on the sync server. Required with `server`. */
  readonly app?: string;
  /** Base URL of an OmniSync sync server: collections without a source of their own sync with it. */
  readonly server?: string;
  /** Token function: called before each request and on each reconnect (seed 000). */
  readonly auth?: TokenFunction;
  /** The schema version this build writes (sent with every push; see ServerSourceOptions.schemaVersion). */
  readonly schemaVersion?: number;
  /** Further server source options (WebSocket constructor, fetch, polling, batch size…). */
  readonly serverOptions?: Omit<ServerSourceOptions, 'app' | 'server' | 'auth'>;
}

/**
 * The client's shared server source, or undefined without `server`. Throws
 * {@link ValidationError} when `server` is given without `app` (or with a bad URL).
 */
export function serverSourceFromOptions(
  options: ServerClientOptions,
  scheduler: Scheduler,
  random: Random,
): ServerSource | undefined {
  if (options.server === undefined) {
    if (options.app !== undefined || options.auth !== undefined)
      throw new ValidationError('`app` and `auth` go with `server`: pass the sync server URL too.');
    return undefined;
  }
  if (options.app === undefined)
    throw new ValidationError(
      '`server` needs `app`: the app (tenant) id on that server, e.g. createClient({ app: "todo", server }).',
    );
  return createServerSource({
    scheduler,
    random,
    ...options.serverOptions,
    app: options.app,
    server: options.server,
    ...(options.auth ? { auth: options.auth } : {}),
    ...(options.schemaVersion !== undefined ? { schemaVersion: options.schemaVersion } : {}),
  });
}

/** `client.sync()`: push and pull now with every source that supports it. */
export async function syncSources(sources: Iterable<Source>): Promise<void> {
  const runs: Promise<void>[] = [];
  for (const s of sources) {
    const sync = (s as { sync?: () => Promise<void> }).sync;
    if (typeof sync === 'function') runs.push(sync.call(s));
  }
  await Promise.all(runs);
}
