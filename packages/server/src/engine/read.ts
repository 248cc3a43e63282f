/**
 * Pull (changes after a cursor, one page, filtered by queries) and snapshot (every live cell
 * of the matching documents), each from one consistent storage snapshot.
 *
 * Query filtering sends a document's changes when it matches a query before the changes
 * (as of the client's cursor, rebuilt from the change log's prior values) or after them:
 * a document moving out of a query reaches the client as the change that moved it out; a
 * document moving in arrives whole (every cell), since the client never had it.
 */
import {
  type Cell,
  DELETED_FIELD,
  PULL_LIMIT_DEFAULT,
  type PullRequest,
  type PullResponse,
  type SnapshotRequest,
  type SnapshotResponse,
} from '@omnisync/core';
import type { Priors, StorageReader, StoredCell, StoredDoc } from '../storage/storage.js';
import type { AuthContext } from './auth.js';
import type { Authorize } from './options.js';
import { compileQueries, matchesAny } from './query-adapter.js';
import { materialize, stateBefore } from './working-doc.js';

const toWire = (d: StoredDoc, c: StoredCell): Cell => ({
  collection: d.collection,
  id: d.id,
  field: c.field,
  value: c.value,
  hlc: c.hlc,
});

const cellMap = (cells: readonly StoredCell[]) => {
  const m = new Map<string, StoredCell>();
  for (const c of cells) m.set(c.field, c);
  return m;
};

/** One page of changes after `req.cursor`. */
export async function readPull(
  r: StorageReader,
  auth: AuthContext,
  req: PullRequest,
  authorize: Authorize | undefined,
): Promise<PullResponse> {
  const head = await r.head();
  const horizon = await r.horizon();
  // Older than the horizon, or from another database (a cursor from the future): start over.
  if (req.cursor < horizon || req.cursor > head) return { reset: true, cursor: head };
  const limit = req.limit ?? PULL_LIMIT_DEFAULT;
  const entries = await r.changesSince(req.cursor, limit + 1);
  const hasMore = entries.length > limit;
  const page = hasMore ? entries.slice(0, limit) : entries;
  const cursor = hasMore ? page[page.length - 1]!.version : head;

  const seen = new Set<string>();
  const keys = [];
  for (const e of page) {
    const k = `${e.collection}\u0000${e.id}`;
    if (seen.has(k)) continue;
    seen.add(k);
    keys.push({ collection: e.collection, id: e.id });
  }
  const byCollection = compileQueries(req.queries);
  const changes: Cell[] = [];
  const docs = await r.loadDocs(keys);
  // The state at the client's cursor of every filtered document, in a few round trips where the
  // storage can answer for many documents at once: one query per document made a page of a
  // few thousand changes take longer than a client waits on a loaded Postgres, and the retried
  // page never got through (issue 16 chaos, seed 3001).
  const filtered = byCollection && req.cursor > 0 ? docs.filter((d) => byCollection.has(d.collection)) : [];
  const priors = new Map<StoredDoc, Priors[]>();
  if (filtered.length > 0) {
    const all = r.priorsSinceMany
      ? await r.priorsSinceMany(filtered, req.cursor)
      : await Promise.all(filtered.map((d) => r.priorsSince(d, req.cursor)));
    filtered.forEach((d, i) => priors.set(d, all[i]!));
  }
  for (const doc of docs) {
    let cells: readonly StoredCell[];
    if (!byCollection) cells = doc.cells.filter((c) => c.version > req.cursor);
    else {
      const qs = byCollection.get(doc.collection);
      if (!qs) continue;
      const after = materialize(doc.id, cellMap(doc.cells));
      const afterMatch = matchesAny(qs, after);
      let beforeMatch = false;
      if (req.cursor > 0) {
        const before = materialize(doc.id, stateBefore(doc.cells, priors.get(doc)!));
        beforeMatch = matchesAny(qs, before);
      }
      if (!afterMatch && !beforeMatch) {
        // A deletion always reaches a client syncing the collection: it may hold the document
        // through its own acknowledged writes, which the state at its cursor cannot show.
        const tombstone = doc.cells.find((c) => c.field === DELETED_FIELD && c.version > req.cursor);
        if (!tombstone) continue;
        cells = [tombstone];
      } else cells = afterMatch && !beforeMatch ? doc.cells : doc.cells.filter((c) => c.version > req.cursor);
    }
    if (cells.length === 0) continue;
    if (authorize && !(await authorize(auth, { op: 'read', collection: doc.collection, id: doc.id })))
      continue;
    for (const c of cells) changes.push(toWire(doc, c));
  }
  return { changes, cursor, hasMore };
}

/** Every live cell of the visible documents matching the queries (all when absent). */
export async function readSnapshot(
  r: StorageReader,
  auth: AuthContext,
  req: SnapshotRequest,
  authorize: Authorize | undefined,
): Promise<SnapshotResponse> {
  const head = await r.head();
  const byCollection = compileQueries(req.queries);
  const cells: Cell[] = [];
  const scans: (string | undefined)[] = byCollection ? [...byCollection.keys()] : [undefined];
  for (const collection of scans) {
    const qs = collection === undefined ? undefined : byCollection!.get(collection)!;
    for await (const doc of r.scan(collection)) {
      const visible = materialize(doc.id, cellMap(doc.cells));
      if (visible === undefined) continue;
      if (qs && !matchesAny(qs, visible)) continue;
      if (authorize && !(await authorize(auth, { op: 'read', collection: doc.collection, id: doc.id })))
        continue;
      for (const c of doc.cells) cells.push(toWire(doc, c));
    }
  }
  return { cells, cursor: head };
}
