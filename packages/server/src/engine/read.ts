/**
 * Pull (changes after a cursor, one page, filtered by queries) and snapshot (every live cell
 * of the matching documents), each from one consistent storage snapshot.
 *
 * Query filtering sends a document's changes when it matches a query before the changes
 * (as of the client's cursor, rebuilt from the change log's prior values) or after them:
 * a document moving out of a query reaches the client as the change that moved it out; a
 * document moving in arrives whole (every cell), since the client never had it.
 *
 * With rules (read-rules.ts), a document is visible to the caller when the read rule admits
 * its whole current state and its masked view matches a query; hidden fields' cells are
 * never sent. A document the caller could read at its cursor and may not now is not sent
 * the change that hid it (that would show the new state): it is named in `evicted`, and
 * the client forgets it. One it may read now and could not then arrives whole.
 */
import {
  type Cell,
  DELETED_FIELD,
  type RulesEvaluator,
  type WireDocKey,
  PULL_LIMIT_DEFAULT,
  type PullRequest,
  type PullResponse,
  type SnapshotRequest,
  type SnapshotResponse,
} from '@omnisync/core';
import type { Priors, StorageReader, StoredCell, StoredDoc } from '../storage/storage.js';
import type { AuthContext } from './auth.js';
import type { Authorize } from './options.js';
import { compileQueries, matchesAny, type SyncQuery } from './query-adapter.js';
import { type ReadFilter, readFilterOf } from './read-rules.js';
import { principalOf } from './rules.js';
import { type Doc, materialize, stateBefore } from './working-doc.js';

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
  rules?: RulesEvaluator,
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
  const reads = readFilterOf(rules, principalOf(auth));
  const changes: Cell[] = [];
  const evicted: WireDocKey[] = [];
  const docs = await r.loadDocs(keys);
  // The state at the client's cursor of every filtered (or ruled) document, in a few round trips
  // where the storage can answer for many documents at once: one query per document made a page
  // of a few thousand changes take longer than a client waits on a loaded Postgres, and the
  // retried page never got through (issue 16 chaos, seed 3001).
  const needPriors =
    req.cursor > 0 && (byCollection || reads)
      ? docs.filter((d) => !byCollection || byCollection.has(d.collection))
      : [];
  const priors = new Map<StoredDoc, Priors[]>();
  if (needPriors.length > 0) {
    const all = r.priorsSinceMany
      ? await r.priorsSinceMany(needPriors, req.cursor)
      : await Promise.all(needPriors.map((d) => r.priorsSince(d, req.cursor)));
    needPriors.forEach((d, i) => priors.set(d, all[i]!));
  }
  for (const doc of docs) {
    let cells: readonly StoredCell[];
    if (reads) {
      const qs = byCollection ? byCollection.get(doc.collection) : undefined;
      if (byCollection && !qs) continue;
      const outcome = ruledCells(doc, req.cursor, priors.get(doc), reads, qs);
      if (outcome === 'evict') {
        evicted.push({ collection: doc.collection, id: doc.id });
        continue;
      }
      cells = outcome;
    } else if (!byCollection) cells = doc.cells.filter((c) => c.version > req.cursor);
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
  return evicted.length > 0 ? { changes, cursor, hasMore, evicted } : { changes, cursor, hasMore };
}

/**
 * With rules: what of a changed document the caller gets. `readBefore`/`readAfter`: the read
 * rule admits its state at the cursor / now; `inBefore`/`inAfter`: also matched by a query
 * (on the masked view). Visible now: its changes, or all of it when it just became visible.
 * Readable now but out of every query: the change that moved it out (as without rules).
 * Readable then but not now: deleted → its tombstone; else evicted. Never readable: nothing
 * (not even a tombstone: its id is not the caller's to know).
 */
function ruledCells(
  doc: StoredDoc,
  cursor: number,
  priors: Priors[] | undefined,
  reads: ReadFilter,
  qs: readonly SyncQuery[] | undefined,
): readonly StoredCell[] | 'evict' {
  const c = doc.collection;
  const inQuery = (view: Doc) => view !== undefined && (qs === undefined || matchesAny(qs, view));
  const viewAfter = reads.view(c, materialize(doc.id, cellMap(doc.cells)));
  let viewBefore: Doc;
  if (cursor > 0) viewBefore = reads.view(c, materialize(doc.id, stateBefore(doc.cells, priors!)));
  const changed = () =>
    reads.cells(
      c,
      doc.cells.filter((x) => x.version > cursor),
    );
  if (inQuery(viewAfter)) return inQuery(viewBefore) ? changed() : reads.cells(c, doc.cells);
  if (viewBefore === undefined) return [];
  if (viewAfter !== undefined) return inQuery(viewBefore) ? changed() : [];
  const tombstone = doc.cells.find((x) => x.field === DELETED_FIELD && x.version > cursor);
  if (tombstone) return [tombstone];
  // Readable then, not now, not deleted: hidden by the rule (or every field unset).
  return materialize(doc.id, cellMap(doc.cells)) === undefined ? changed() : 'evict';
}

/** Every live cell of the visible documents matching the queries (all when absent). */
export async function readSnapshot(
  r: StorageReader,
  auth: AuthContext,
  req: SnapshotRequest,
  authorize: Authorize | undefined,
  rules?: RulesEvaluator,
): Promise<SnapshotResponse> {
  const head = await r.head();
  const byCollection = compileQueries(req.queries);
  const reads = readFilterOf(rules, principalOf(auth));
  const cells: Cell[] = [];
  const scans: (string | undefined)[] = byCollection ? [...byCollection.keys()] : [undefined];
  for (const collection of scans) {
    const qs = collection === undefined ? undefined : byCollection!.get(collection)!;
    for await (const doc of r.scan(collection)) {
      let visible = materialize(doc.id, cellMap(doc.cells));
      if (reads) visible = reads.view(doc.collection, visible);
      if (visible === undefined) continue;
      if (qs && !matchesAny(qs, visible)) continue;
      if (authorize && !(await authorize(auth, { op: 'read', collection: doc.collection, id: doc.id })))
        continue;
      for (const c of reads ? reads.cells(doc.collection, doc.cells) : doc.cells) cells.push(toWire(doc, c));
    }
  }
  return { cells, cursor: head };
}
