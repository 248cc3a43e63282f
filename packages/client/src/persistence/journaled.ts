/**
 * A persistence over any store of byte pages and text records (`JournalBackend`): the same
 * model as the file store — a columnar snapshot plus a journal of commit bodies after it —
 * with the encoding, validation, group commit, compaction and `load` done here, so a backend
 * (OPFS SQLite in a worker, …) only stores and returns what it is given, atomically.
 *
 * - `commit` validates the batch (a bad one is refused whole), encodes it and appends it;
 *   commits called while an append is in flight go together in one `append` call.
 * - `load` decodes the snapshot (v2 columnar JSON, see file-columns.ts) and the journal; the
 *   documents stay in their columns (loaded-base.ts).
 * - Compaction replaces the snapshot and drops the journal in one `replace` call once the
 *   journal has grown past `compactAfterBytes` and past the snapshot's size.
 *
 * Browser-safe: no node:* import.
 */
import { OmniSyncError, PersistenceCorruptError, PersistenceError, ValidationError } from '@omnisync/core';
import { normalizeBatch, type NormalizedBatch } from './batch.js';
import { decodeJsonColumns, encodeColumnarSnapshot } from './file-columns.js';
import {
  asArray,
  asObject,
  buildModel,
  decodeCommit,
  decodeMeta,
  decodeTransaction,
  encodeCommitBody,
  loadedState,
  type Snapshot,
} from './journal-state.js';
import { Lifecycle } from './lifecycle.js';
import type { PersistedState, Persistence, PersistenceBatch } from './types.js';

/** What a journal backend holds: one snapshot (bytes) and the commit bodies after it, in order. */
export interface JournalContents {
  readonly snapshot: Uint8Array | undefined;
  readonly journal: readonly string[];
}

/** Storage for {@link createJournaledPersistence}. Each call is atomic and durable once it resolves. */
export interface JournalBackend {
  /** Everything stored. */
  read(): Promise<JournalContents>;
  /** Append commit bodies (all or none). */
  append(bodies: readonly string[]): Promise<void>;
  /** Store `snapshot` in place of the old one and drop the whole journal (all or none). */
  replace(snapshot: Uint8Array): Promise<void>;
  /** Erase everything. */
  clear(): Promise<void>;
  /** Release the storage. */
  close(): Promise<void>;
}

/** Options for {@link createJournaledPersistence}. */
export interface JournaledPersistenceOptions {
  /** Label for logs and errors ("opfs:todo"). */
  name: string;
  /** Compact once the journal exceeds this many bytes and the snapshot's size (default 4 MiB). */
  compactAfterBytes?: number;
}

/** A journaled persistence: the {@link Persistence} contract plus explicit compaction. */
export interface JournaledPersistence extends Persistence {
  /** Replace the snapshot with the current state and drop the journal. */
  compact(): Promise<void>;
}

interface Group {
  bodies: string[];
  done: Promise<void>;
}

const DEFAULT_COMPACT_AFTER = 4 * 1024 * 1024;

/** A {@link Persistence} storing a columnar snapshot and a journal in `backend`. */
export function createJournaledPersistence(
  backend: JournalBackend,
  options: JournaledPersistenceOptions,
): JournaledPersistence {
  const label = options.name;
  const compactAfter = options.compactAfterBytes ?? DEFAULT_COMPACT_AFTER;
  if (!(compactAfter > 0))
    throw new ValidationError(`compactAfterBytes must be a positive number of bytes; got ${compactAfter}.`);
  const life = new Lifecycle(label);
  let journalBytes = 0;
  let compactAt = compactAfter;
  let group: Group | undefined;

  const failed = (action: string, err: unknown): Error => {
    if (err instanceof OmniSyncError) return err;
    return new PersistenceError(`${label}: could not ${action}: ${(err as Error)?.message ?? String(err)}`, {
      cause: err,
      details: { persistence: label },
    });
  };

  const read = async () => {
    const contents = await backend.read();
    const decoded = decodeContents(contents, label);
    journalBytes = contents.journal.reduce((n, b) => n + b.length, 0);
    compactAt = Math.max(compactAfter, contents.snapshot?.byteLength ?? 0);
    return decoded;
  };

  const compactNow = async () => {
    try {
      const { snapshot, journal } = await read();
      const bytes = new TextEncoder().encode(encodeColumnarSnapshot(buildModel(snapshot, journal)));
      await backend.replace(bytes);
      journalBytes = 0;
      compactAt = Math.max(compactAfter, bytes.byteLength);
    } catch (err) {
      throw failed('compact', err);
    }
  };

  const ordered = <T>(op: () => Promise<T>): Promise<T> => {
    group = undefined;
    return life.serial(op);
  };

  return {
    name: label,
    async load(): Promise<PersistedState> {
      life.guard('load');
      return ordered(async () => {
        try {
          const { snapshot, journal } = await read();
          return loadedState(snapshot, journal, () => buildModel(snapshot, journal));
        } catch (err) {
          throw failed('load', err);
        }
      });
    },
    async commit(batch: PersistenceBatch): Promise<void> {
      life.guard('commit');
      const normalized = normalizeBatch(batch);
      if (!normalized) return;
      const body = encodeCommitBody(normalized);
      let g = group;
      if (!g) {
        const fresh: Group = { bodies: [], done: Promise.resolve() };
        fresh.done = life.serial(async () => {
          if (group === fresh) group = undefined;
          try {
            await backend.append(fresh.bodies);
          } catch (err) {
            throw failed('commit', err);
          }
          for (const b of fresh.bodies) journalBytes += b.length;
        });
        group = g = fresh;
      }
      g.bodies.push(body);
      await g.done;
      if (journalBytes >= compactAt) {
        compactAt = journalBytes + compactAfter; // a failing compaction is not retried on every commit
        group = undefined;
        void life.serial(compactNow).catch(() => undefined);
      }
    },
    async compact(): Promise<void> {
      life.guard('compact');
      await ordered(compactNow);
    },
    async clear(): Promise<void> {
      life.guard('clear');
      await ordered(async () => {
        try {
          await backend.clear();
          journalBytes = 0;
          compactAt = compactAfter;
        } catch (err) {
          throw failed('clear', err);
        }
      });
    },
    close: () =>
      life.close(async () => {
        group = undefined;
        await backend.close();
      }),
  };
}

/** Decode stored contents; anything unreadable is {@link PersistenceCorruptError}. */
function decodeContents(
  contents: JournalContents,
  label: string,
): { snapshot: Snapshot | undefined; journal: NormalizedBatch[] } {
  const corrupt = (where: string, err: unknown) =>
    new PersistenceCorruptError(
      `${label} is corrupt (${where}: ${err instanceof Error ? err.message : String(err)}). Nothing was changed; clear() the store to start empty, or keep it for inspection.`,
      { cause: err, details: { persistence: label, where } },
    );
  let snapshot: Snapshot | undefined;
  if (contents.snapshot && contents.snapshot.byteLength > 0) {
    try {
      const o = asObject(
        JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(contents.snapshot)),
        'the snapshot',
      );
      snapshot = {
        docs: decodeJsonColumns(o),
        cells: undefined,
        transactions: asArray(o.t, 'the transactions').map(decodeTransaction),
        meta: asArray(o.m, 'the meta entries').map((e) => decodeMeta(e, false) as [string, never]),
      };
    } catch (err) {
      throw corrupt('snapshot', err);
    }
  }
  const journal: NormalizedBatch[] = [];
  contents.journal.forEach((body, i) => {
    try {
      journal.push(decodeCommit(JSON.parse(body)));
    } catch (err) {
      throw corrupt(`journal entry ${i}`, err);
    }
  });
  return { snapshot, journal };
}
