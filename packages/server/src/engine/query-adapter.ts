/**
 * The one place the server asks "does this document belong to this query?" — for pull and
 * snapshot filtering and for targeted fan-out. The answer is core's: a wire query (a core
 * query AST, or the protocol v1 equality form) is compiled once by `compileSyncQuery`, whose
 * test is the query engine's own compiled filter. Sync honours `where` and `get`; order,
 * windows and includes do not filter (see core protocol/sync-query.ts).
 */
import { compileSyncQuery, type SyncQuery, type WireQuery } from '@omnisync/core';
import type { Doc } from './working-doc.js';

export type { SyncQuery };

/** Compile wire queries (already validated by the decoder), grouped by collection; undefined = everything. */
export function compileQueries(
  queries: readonly WireQuery[] | undefined,
): Map<string, SyncQuery[]> | undefined {
  if (!queries) return undefined;
  const out = new Map<string, SyncQuery[]>();
  for (const wire of queries) {
    const q = compileSyncQuery(wire);
    const list = out.get(q.collection);
    if (list) list.push(q);
    else out.set(q.collection, [q]);
  }
  return out;
}

/** True when `doc` (a visible document, or undefined) belongs to `query`. */
export function matchesQuery(query: SyncQuery, doc: Doc): boolean {
  return doc !== undefined && query.test(doc);
}

/** True when `doc` belongs to any of `queries`. */
export function matchesAny(queries: readonly SyncQuery[], doc: Doc): boolean {
  if (doc === undefined) return false;
  for (let i = 0; i < queries.length; i++) if (queries[i]!.test(doc)) return true;
  return false;
}
