/**
 * The client's live queries: one query engine per client over its store (fed with every
 * visible change), and the loading state of a query tied to its collection's readiness,
 * so a query of a collection that has no data yet suspends until the source delivered it.
 */
import { createQueryEngine, type LiveQuery, type Query, type QueryEngine } from '@omnisync/core';
import type { Client } from '../client.js';
import type { ServerSource } from '../sources/omnisync-server/server-source-types.js';
import type { Source } from '../sources/types.js';

/**
 * A live query read but not (yet) subscribed stays materialised this long: a render reads
 * it and its commit subscribes a moment later, so it is built once, not twice.
 */
export const ENGINE_GC_TIME_MS = 1_000;

const engines = new WeakMap<Client, QueryEngine>();
const watched = new WeakSet<LiveQuery<unknown>>();
/** Live queries holding their sync scope on a query-scoped source (want called, release not yet). */
const holding = new WeakSet<LiveQuery<unknown>>();

/** The query engine of `client` (created on first use, then shared). */
export function queryEngineOf(client: Client): QueryEngine {
  let e = engines.get(client);
  if (e === undefined) {
    const engine = createQueryEngine(client.store, {
      scheduler: client.scheduler,
      gcTimeMs: ENGINE_GC_TIME_MS,
      // A query-scoped source syncs a query while a live query of it is in use: released when
      // it stops, wanted again when it restarts (after a long pause, its data syncs anew).
      onActivate: (lq) => {
        if (holding.has(lq)) return;
        const source = scopedSourceOf(client, lq);
        if (source === undefined) return;
        holding.add(lq);
        const covered = source.isSynced(lq.ast);
        const synced = source.want(lq.ast);
        if (!covered) {
          lq.setCompleteness('optimistic');
          synced.then(
            () => lq.setCompleteness('complete'),
            () => {},
          );
        }
      },
      onDeactivate: (lq) => {
        if (!holding.has(lq)) return;
        holding.delete(lq);
        scopedSourceOf(client, lq)?.release(lq.ast);
      },
    });
    client.store.subscribe((changes) => engine.applyChanges(changes));
    engines.set(client, (e = engine));
  }
  return e;
}

/** The query engine of `client` if one was created (live queries were used), else undefined. */
export function existingQueryEngineOf(client: Client): QueryEngine | undefined {
  return engines.get(client);
}

/**
 * The live query of `query` on `client` (the same instance for the same query while held).
 * Its status is `loading` while its collection's source has not delivered its first data
 * and nothing of that collection is present locally: data loaded from persistence shows as
 * soon as it is loaded (offline too). `error` if the source failed to start first.
 */
export function liveQuery<T>(client: Client, query: Query<T, any>): LiveQuery<T> {
  const lq = queryEngineOf(client).live(query);
  if (!watched.has(lq as LiveQuery<unknown>)) {
    watched.add(lq as LiveQuery<unknown>);
    const collection = client.getCollection(lq.ast.collection);
    // Completeness (issue 4): a local-only collection is complete; a synced one shows only
    // local data (persisted and optimistic) until its source delivered the initial sync.
    // The OmniSync-server source replicates whole collections, so once ready a result is
    // complete; a source that fetches pages would report 'partial' instead. One that syncs
    // by query (`scope: 'queries'`) is asked for this query's documents, and the result is
    // complete once they are here.
    const byQuery = collection !== undefined ? queryScoped(collection.source) : undefined;
    const synced = byQuery?.want(lq.ast);
    if (synced !== undefined) {
      holding.add(lq as LiveQuery<unknown>);
      lq.setCompleteness('optimistic');
      synced.then(
        () => lq.setCompleteness('complete'),
        () => {},
      );
      // Nothing of the collection here yet: loading until this query's documents arrived (or,
      // offline first, until the source's first sync attempt, or persisted data, showed up).
      const col = collection!;
      if (col.count() === 0) {
        lq.setStatus('loading');
        const settle = (status: 'ready' | 'error', e?: unknown) => {
          if (lq.status === 'loading') lq.setStatus(status, e);
        };
        synced.then(
          () => settle('ready'),
          () => {},
        );
        if (col.status.peek() === 'loading')
          col.ready.then(
            () => settle('ready'),
            (e: unknown) => settle('error', e),
          );
        client.ready.then(
          () => {
            if (col.count() > 0) settle('ready');
          },
          () => {},
        );
      }
    } else if (
      collection !== undefined &&
      collection.source.kind === 'remote' &&
      collection.status.peek() !== 'ready'
    ) {
      lq.setCompleteness('optimistic');
      collection.ready.then(
        () => lq.setCompleteness('complete'),
        () => {},
      );
    }
    if (
      synced === undefined &&
      collection !== undefined &&
      collection.status.peek() === 'loading' &&
      collection.count() === 0
    ) {
      lq.setStatus('loading');
      const settle = (status: 'ready' | 'error', e?: unknown) => {
        if (lq.status === 'loading') lq.setStatus(status, e);
      };
      collection.ready.then(
        () => settle('ready'),
        (e: unknown) => settle('error', e),
      );
      // Local first: data loaded from persistence shows without waiting for the source.
      client.ready.then(
        () => {
          if (collection.count() > 0) settle('ready');
        },
        () => {},
      );
    }
  }
  return lq;
}

function scopedSourceOf(client: Client, lq: LiveQuery): ServerSource | undefined {
  const collection = client.getCollection(lq.ast.collection);
  return collection !== undefined ? queryScoped(collection.source) : undefined;
}

/** The server source of a collection when it syncs by query (else undefined). */
function queryScoped(source: Source): ServerSource | undefined {
  const s = source as Partial<ServerSource>;
  return s.scope === 'queries' && typeof s.want === 'function' ? (source as ServerSource) : undefined;
}
