/**
 * Seed 000's backend bindings: a backend the app already has (GraphQL, SQL over an API,
 * Firebase…) read and written per query, with dynamic headers. The state API turns a
 * binding into a collection source (see binding-source.ts); this file is the contract.
 */

/** Options of a query as a binding sees it (seed 000 §3.1). */
export interface QueryOptions {
  readonly where?: Record<string, unknown>;
  readonly orderBy?: Record<string, 'asc' | 'desc'>;
  readonly limit?: number;
  readonly offset?: number;
  /** Primary key lookup. */
  readonly pk?: string | number;
}

/** Opaque to OmniSync: what a binding builds and then reads (`{ query, variables }`, `{ sql, params }`…). */
export type QueryRequest = Record<string, unknown>;

/** One write as a binding receives it: a transaction's changes to one collection. */
export interface MutationRequest {
  readonly collection: string;
  /** Per document id, the fields written (`{ _deleted: true }` for a delete). */
  readonly changes: Record<string, Record<string, unknown>>;
  /** The kinds of the writes, per document id. */
  readonly types: Record<string, 'insert' | 'update' | 'delete'>;
  /** 1 for the first attempt, 2 for the first retry… */
  readonly attempt: number;
}

/** Stop a subscription. */
export type UnsubscribeFn = () => void;

/**
 * A backend adapter (seed 000 §3.1). `read` returns the documents of a query; `write`
 * persists a transaction's changes (throw to retry, `NonRetriableError` to fail); `subscribe`
 * pushes the query's documents (or changes by id) whenever they change (used when
 * `_options.sync` is true).
 * Headers are the binding's own business: call the app's `headers()` before each request.
 */
export interface BackendBinding<T = Record<string, unknown>> {
  read(query: QueryRequest): Promise<readonly T[] | T | null | undefined>;
  write(mutation: MutationRequest): Promise<void>;
  /**
   * `onUpdate` takes the query's documents, or changes by id (`null`: deleted); `onError`
   * hears what went wrong with the subscription (it keeps trying).
   */
  subscribe?(
    query: QueryRequest,
    onUpdate: (data: readonly T[] | Readonly<Record<string, T | null>>) => void,
    onError?: (error: Error) => void,
  ): UnsubscribeFn;
  buildQuery(collection: string, options: QueryOptions): QueryRequest;
}

/** Headers for a request, computed before each one (seed 000 "dynamic context injection"). */
export type HeaderRecord = Record<string, string>;
/** A static header record or a (possibly async) function returning one. */
export type HeadersOption = HeaderRecord | (() => HeaderRecord | Promise<HeaderRecord>);

/** Resolve a {@link HeadersOption} for one request. */
export async function resolveHeaders(headers: HeadersOption | undefined): Promise<HeaderRecord> {
  if (headers === undefined) return {};
  return typeof headers === 'function' ? await headers() : headers;
}
