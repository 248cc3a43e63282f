/**
 * Fan-out when several server processes share one storage (Postgres): each process must send
 * its live connections every commit, its own and the others', in version order and without
 * a gap (a live session's cursor says "everything up to here"; a commit skipped would never
 * come). One feed per app:
 *
 *     own commit (from, to] ─┐                      ┌─► published up to `to`, in order
 *                            ├─► one queue ─► gap? ─┤
 *     storage: head reached ─┘    (published, h] read from the storage and sent first
 *
 * An own commit is sent from the events the push built; anything before it that this process
 * has not sent (another process's commits) is read from the storage first, as a pull would
 * (per document: the cells changed in the range, the document before and after it). A head
 * reported by the storage that is already sent is ignored (this process's own commits come
 * back that way too).
 */
import { type Cell, DELETED_FIELD } from '@omnisync/core';
import type { Priors, StorageReader, SyncStorage } from '../storage/storage.js';
import { Mutex } from '../util/mutex.js';
import type { Logger } from '../util/logger.js';
import { type DocChangeEvent, materialize, stateBefore } from './working-doc.js';

/** What the feed sends to: the live server's publish. */
export type Publish = (changes: () => readonly DocChangeEvent[], cursor: number) => void;
/**
 * Commits this process never sent were compacted away before it could read them: every live
 * connection of the app must drop and resume by cursor (a pull, a reset, a snapshot).
 */
export type Resync = () => void;

const PAGE = 1000;

/**
 * Events of the commits in (from, to], read from the storage (one per document); undefined
 * when compaction already dropped part of that range from the change log (it cannot be read).
 */
export async function readCommits(
  r: StorageReader,
  from: number,
  to: number,
): Promise<DocChangeEvent[] | undefined> {
  if (from < (await r.horizon())) return undefined;
  const keys: { collection: string; id: string }[] = [];
  const seen = new Set<string>();
  for (let cursor = from; cursor < to;) {
    const page = await r.changesSince(cursor, PAGE);
    for (const e of page) {
      if (e.version > to) break;
      const k = `${e.collection}\u0000${e.id}`;
      if (!seen.has(k)) {
        seen.add(k);
        keys.push({ collection: e.collection, id: e.id });
      }
    }
    if (page.length < PAGE || page[page.length - 1]!.version >= to) break;
    cursor = page[page.length - 1]!.version;
  }
  const docs = await r.loadDocs(keys);
  // The documents before and after the range, from their logged priors (in a few round trips
  // when the storage can answer for many documents at once).
  const priorsOf = async (cursor: number): Promise<Priors[][]> =>
    r.priorsSinceMany
      ? r.priorsSinceMany(keys, cursor)
      : Promise.all(keys.map((k) => r.priorsSince(k, cursor)));
  const [sinceFrom, sinceTo] = [await priorsOf(from), await priorsOf(to)];
  const events: DocChangeEvent[] = [];
  for (let d = 0; d < docs.length; d++) {
    const doc = docs[d]!;
    // Cells written later than `to` belong to a later batch (with their newer value).
    const inRange = doc.cells.filter((c) => c.version > from && c.version <= to);
    if (inRange.length === 0) continue;
    const wire = (c: { field: string; value: Cell['value']; hlc: string }): Cell => ({
      collection: doc.collection,
      id: doc.id,
      field: c.field,
      value: c.value,
      hlc: c.hlc,
    });
    const deleted = inRange.find((c) => c.field === DELETED_FIELD);
    const changed = deleted ? [wire(deleted)] : inRange.map(wire);
    const before = materialize(doc.id, stateBefore(doc.cells, sinceFrom[d]!));
    const after = materialize(doc.id, stateBefore(doc.cells, sinceTo[d]!));
    let version = 0;
    for (const c of inRange) if (c.version > version) version = c.version;
    events.push({
      collection: doc.collection,
      id: doc.id,
      version,
      before,
      after,
      changed,
      all: doc.cells.filter((c) => c.version <= to).map(wire),
    });
  }
  return events.sort((a, b) => a.version - b.version);
}

/** The ordered fan-out of one app on a storage shared with other processes. */
export class CommitFeed {
  readonly #storage: SyncStorage;
  readonly #publish: Publish;
  readonly #resync: Resync;
  readonly #log: Logger;
  readonly #queue = new Mutex();
  /** Every commit up to here was sent. */
  #published = 0;
  readonly ready: Promise<void>;
  #stop: (() => void) | undefined;

  constructor(storage: SyncStorage, publish: Publish, resync: Resync, log: Logger) {
    this.#storage = storage;
    this.#publish = publish;
    this.#resync = resync;
    this.#log = log;
    this.ready = this.#queue.run(async () => {
      this.#published = await storage.read((r) => r.head());
      this.#stop = storage.watchCommits?.((head) => this.reached(head));
    });
    this.ready.catch(() => {});
  }

  /** This process committed (from, to]: send it, after whatever comes before it. */
  own(from: number, to: number, events: () => readonly DocChangeEvent[]): Promise<void> {
    if (to <= from) return Promise.resolve();
    return this.#queue.run(async () => {
      if (to <= this.#published) return;
      if (from > this.#published) await this.#catchUp(from);
      this.#publish(events, to);
      this.#published = to;
    });
  }

  /** The storage reached `head` (any process): send what this process has not sent. */
  reached(head: number): void {
    void this.#queue
      .run(async () => {
        if (head > this.#published) await this.#catchUp(head);
      })
      .catch((err: unknown) =>
        this.#log.warn({ err }, 'fan-out of other processes’ commits failed; retried at the next commit'),
      );
  }

  async #catchUp(to: number): Promise<void> {
    const from = this.#published;
    const events = await this.#storage.read((r) => readCommits(r, from, to));
    if (events === undefined) {
      this.#log.warn(
        { from, to },
        'commits of other processes were compacted before this one sent them: its live clients resume by cursor',
      );
      this.#resync();
    } else this.#publish(() => events, to);
    this.#published = to;
  }

  /** Stop listening. */
  close(): void {
    this.#stop?.();
    this.#stop = undefined;
  }
}
