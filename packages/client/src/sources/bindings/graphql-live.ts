/**
 * @internal Live queries of the GraphQL binding over graphql-ws: one lazy connection per
 * binding (fresh headers as `connectionParams` on every (re)connection, reconnecting for
 * ever), each subscription's events turned into documents — the query's rows each time
 * (Hasura live queries) or one changed row per event, `null` when deleted (PostGraphile's
 * change feed). After a reconnection the query is read again: changes made while the socket
 * was down are not lost.
 */
import { NetworkError } from '@omnisync/core';
import { print } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import { type HeadersOption, resolveHeaders, type UnsubscribeFn } from './binding.js';
import type { GraphQLDialect, LiveOperation } from './graphql-dialects.js';
import { graphqlData } from './graphql-errors.js';

/** @internal What the live queries need from their binding. */
export interface LiveQueryHost<T> {
  readonly wsEndpoint: string;
  readonly webSocketImpl?: unknown;
  readonly headers?: HeadersOption;
  readonly dialect: GraphQLDialect;
  /** A server row in the app's field names. */
  local(row: unknown): T;
  /** The rows of an answer (`root` or `root.nodes`). */
  rows(data: Record<string, unknown>, root: string, nodes: boolean): unknown;
}

/** @internal The live queries of one binding. */
export interface LiveQueries<T> {
  subscribe(
    live: LiveOperation,
    reread: () => Promise<readonly T[]>,
    onUpdate: (data: readonly T[] | Readonly<Record<string, T | null>>) => void,
    onError?: (error: Error) => void,
  ): UnsubscribeFn;
  close(): Promise<void>;
}

/** @internal Live queries over graphql-ws for a binding. */
export function createLiveQueries<T>(host: LiveQueryHost<T>): LiveQueries<T> {
  let ws: Client | undefined;
  const client = (): Client =>
    (ws ??= createClient({
      url: host.wsEndpoint,
      ...(host.webSocketImpl !== undefined ? { webSocketImpl: host.webSocketImpl } : {}),
      // Fresh headers on every (re)connection, as for every HTTP request.
      connectionParams: async () => host.dialect.connectionParams(await resolveHeaders(host.headers)),
      lazy: true,
      retryAttempts: Number.POSITIVE_INFINITY,
      shouldRetry: () => true,
    }));

  return {
    subscribe(live, reread, onUpdate, onError) {
      const c = client();
      const report = (e: unknown) => onError?.(e instanceof Error ? e : new Error(String(e)));
      let stopped = false;
      let connections = 0;
      const offConnected = c.on('connected', () => {
        if (++connections > 1 && !stopped) reread().then((rows) => !stopped && onUpdate(rows), report);
      });
      const stop = c.subscribe<Record<string, unknown>>(
        { query: print(live.document), variables: live.variables },
        {
          next: (result) => {
            if (stopped) return;
            try {
              const data = graphqlData(result, host.wsEndpoint);
              if (live.mode === 'rows') {
                const rows = host.rows(data, live.root, live.nodes);
                onUpdate((Array.isArray(rows) ? rows : []).map((row) => host.local(row)));
                return;
              }
              const ev = data[live.root] as { op?: unknown; id?: unknown; [k: string]: unknown } | null;
              if (ev === null || ev === undefined || ev.id === undefined || ev.id === null) return;
              const doc = ev[live.rowField ?? ''] ?? null;
              onUpdate({ [String(ev.id)]: ev.op === 'DELETE' || doc === null ? null : host.local(doc) });
            } catch (err) {
              report(err);
            }
          },
          error: (err) => {
            // GraphQL errors for the operation: the server refused it (or said it is transient).
            if (Array.isArray(err)) {
              try {
                graphqlData({ errors: err }, host.wsEndpoint);
              } catch (e) {
                report(e);
              }
              return;
            }
            report(
              new NetworkError(
                `The live query at ${host.wsEndpoint} failed: ${err instanceof Error ? err.message : JSON.stringify(err)}. Mount the query again to retry.`,
                { cause: err },
              ),
            );
          },
          complete: () => {},
        },
      );
      return () => {
        stopped = true;
        offConnected();
        stop();
      };
    },
    async close() {
      const w = ws;
      ws = undefined;
      await w?.dispose();
    },
  };
}
