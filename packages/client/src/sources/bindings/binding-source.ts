/**
 * @internal A backend binding (seed 000 §3) as a collection source, with query-scoped reads
 * and stale-while-revalidate (seed 000 §9):
 *
 * - the first read of a query fetches it (`binding.read(binding.buildQuery(...))`); until
 *   that answer arrives the query is loading and suspends, on one promise per query;
 * - afterwards the cached result shows at once; when a query gets its first consumer again
 *   (a component mounts) and its data is older than `staleTime`, it is refetched in the
 *   background (unless `refetchOnMount: false`);
 * - with `sync: true` and a binding that can `subscribe`, the query is kept live instead.
 *
 * Writes go to `binding.write` (retried by the client with backoff; `NonRetriableError`
 * fails the transaction and rolls it back).
 */
import { type Predicate, type Query, type QueryAst, type Scheduler, toError } from '@omnisync/core';
import type { PersistRequest, RemoteDocuments, Source, SourceContext } from '../types.js';
import type { BackendBinding, QueryOptions } from './binding.js';
import type { SyncedOptions } from '../../state/define-state.js';

interface QueryEntry {
  status: 'loading' | 'ready' | 'error';
  error: Error | null;
  promise: Promise<void>;
  fetchedAt: number;
  inFlight: boolean;
  consumers: number;
  /** The first consumer reads what the first fetch brought: no refetch for it. */
  consumedBefore: boolean;
  unsubscribe: (() => void) | undefined;
  readonly listeners: Set<() => void>;
}

/** @internal A binding source: a {@link Source} plus per-query fetch state. */
export interface BindingSource extends Source {
  /** The fetch state of a query (fetching it on first use). */
  queryState(query: Query<any, any>): {
    readonly status: 'loading' | 'ready' | 'error';
    readonly error: Error | null;
    readonly promise: Promise<void>;
  };
  /** A consumer starts reading the query (revalidates stale data); returns its release. */
  consume(query: Query<any, any>, onChange: () => void): () => void;
}

/** Seed 000's QueryOptions from a query's AST (equality filters, sort, window, pk). */
export function toQueryOptions(ast: QueryAst): QueryOptions {
  const out: { -readonly [K in keyof QueryOptions]: QueryOptions[K] } = {};
  const where = equalities(ast.where);
  if (where !== undefined) out.where = where;
  if (ast.orderBy !== undefined) out.orderBy = Object.fromEntries(ast.orderBy.map((t) => [t.field, t.dir]));
  if (ast.limit !== undefined) out.limit = ast.limit;
  if (ast.offset !== undefined) out.offset = ast.offset;
  if (ast.get !== undefined) out.pk = ast.get;
  return out;
}

function equalities(p: Predicate | undefined): Record<string, unknown> | undefined {
  if (p === undefined) return undefined;
  const terms = p.op === 'and' ? p.args : [p];
  const out: Record<string, unknown> = {};
  for (const t of terms) {
    if (t.op === 'eq') out[t.field] = t.value;
    else if (t.op === 'in') out[t.field] = { _in: t.values };
    else out[`_${t.op}`] = t; // anything else is handed over as it is, for bindings that understand it
  }
  return out;
}

/** @internal Build the source of a binding-backed collection. */
export function createBindingSource(
  collection: string,
  binding: BackendBinding<any>,
  options: SyncedOptions,
  scheduler: Scheduler,
): BindingSource {
  const staleTime = options.staleTime ?? 0;
  const refetchOnMount = options.refetchOnMount !== false;
  const live = options.sync === true && typeof binding.subscribe === 'function';
  const entries = new Map<string, QueryEntry>();
  let ctx: SourceContext | undefined;
  let started: () => void = () => {};
  const startedP = new Promise<void>((resolve) => (started = resolve));

  const notify = (e: QueryEntry) => {
    for (const l of [...e.listeners]) l();
  };

  const fetchInto = (e: QueryEntry, query: Query<any, any>): Promise<void> => {
    e.inFlight = true;
    const request = binding.buildQuery(collection, toQueryOptions(query.ast));
    const p = startedP
      .then(() => binding.read(request))
      .then(
        (data) => {
          const docs = data === null || data === undefined ? [] : Array.isArray(data) ? data : [data];
          ctx?.applyDocuments(collection, docs as Record<string, unknown>[]);
          e.status = 'ready';
          e.error = null;
          e.fetchedAt = scheduler.now();
        },
        (err: unknown) => {
          e.error = toError(err);
          // Data already shown stays shown; only a first load becomes an error.
          if (e.status === 'loading') e.status = 'error';
          ctx?.reportError(e.error);
        },
      )
      .finally(() => {
        e.inFlight = false;
        notify(e);
      });
    return p;
  };

  const entryOf = (query: Query<any, any>): QueryEntry => {
    let e = entries.get(query.hash);
    if (e !== undefined) return e;
    e = {
      status: 'loading',
      error: null,
      promise: Promise.resolve(),
      fetchedAt: 0,
      inFlight: false,
      consumers: 0,
      consumedBefore: false,
      unsubscribe: undefined,
      listeners: new Set(),
    };
    entries.set(query.hash, e);
    e.promise = fetchInto(e, query);
    return e;
  };

  return {
    id: `binding:${collection}`,
    kind: 'remote',
    start(context) {
      ctx = context;
      started();
    },
    async persist(req: PersistRequest) {
      const types: Record<string, 'insert' | 'update' | 'delete'> = {};
      const changes: Record<string, Record<string, unknown>> = {};
      for (const m of req.mutations) {
        if (m.collection !== collection) continue;
        types[m.key] = types[m.key] === 'insert' && m.type !== 'delete' ? 'insert' : m.type;
        changes[m.key] = req.changes[m.key] ?? {};
      }
      await binding.write({ collection, changes, types, attempt: req.attempt });
    },
    stop() {
      for (const e of entries.values()) e.unsubscribe?.();
      entries.clear();
    },
    queryState: (query) => entryOf(query),
    consume(query, onChange) {
      const e = entryOf(query);
      e.listeners.add(onChange);
      e.consumers++;
      if (e.consumers === 1) {
        if (live && e.unsubscribe === undefined) {
          e.unsubscribe = binding.subscribe!(
            binding.buildQuery(collection, toQueryOptions(query.ast)),
            (data) => {
              ctx?.applyDocuments(collection, data as RemoteDocuments);
              e.fetchedAt = scheduler.now();
            },
            (err) => ctx?.reportError(err),
          );
        } else if (
          e.consumedBefore &&
          refetchOnMount &&
          !e.inFlight &&
          e.status !== 'loading' &&
          scheduler.now() - e.fetchedAt >= staleTime
        ) {
          void fetchInto(e, query);
        }
      }
      e.consumedBefore = true;
      let released = false;
      return () => {
        if (released) return;
        released = true;
        e.listeners.delete(onChange);
        if (--e.consumers === 0 && e.unsubscribe !== undefined) {
          e.unsubscribe();
          e.unsubscribe = undefined;
        }
      };
    },
  };
}
