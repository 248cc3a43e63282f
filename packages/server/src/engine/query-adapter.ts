/**
 * The one place the server asks "does this document match this query?" — for pull and
 * snapshot filtering and for targeted fan-out. Today: the collection, plus equality on
 * (dotted) field paths of `where`. When core's query engine lands, swap the body of
 * {@link matchesQuery} for `engine.matches(query, doc)`.
 */
import type { WireQuery } from '@omnisync/core';
import type { Doc } from './working-doc.js';

/** True when `doc` (a visible document of `collection`) matches `query`. */
export function matchesQuery(query: WireQuery, collection: string, doc: Doc): boolean {
  if (doc === undefined || query.collection !== collection) return false;
  return whereMatches(query, doc);
}

/** True when the query has no filter: every document of its collection matches. */
export function isWholeCollection(query: WireQuery): boolean {
  return query.where === undefined || Object.keys(query.where).length === 0;
}

function whereMatches(query: WireQuery, doc: Readonly<Record<string, unknown>>): boolean {
  if (query.where === undefined) return true;
  for (const path in query.where) {
    if (!equal(readPath(doc, path), query.where[path])) return false;
  }
  return true;
}

function readPath(doc: Readonly<Record<string, unknown>>, path: string): unknown {
  if (path.indexOf('.') < 0) return doc[path];
  let v: unknown = doc;
  for (const key of path.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

function equal(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  return JSON.stringify(a) === JSON.stringify(b);
}
