/**
 * File persistence for Node: durable and atomic (format in file-format.ts).
 *
 * - `commit` appends one checksummed record and fsyncs it before resolving: an
 *   acknowledged commit survives a crash; a commit cut short by a crash was never
 *   acknowledged and is dropped on the next open. Commits called while a write is in
 *   flight are written together as one group record (group commit: one fsync for all).
 * - `load` replays the snapshot and the journal of commits after it.
 * - Compaction writes the current state as a snapshot to `<path>.tmp`, fsyncs it, renames
 *   it over `<path>` (atomic) and fsyncs the directory: a crash at any point leaves either
 *   the old file or the new one, both complete. It runs when the journal has grown past
 *   `compactAfterBytes` and past the snapshot's own size, or on `compact()`.
 * - `<path>.lock` keeps a second writer out (see file-lock.ts).
 *
 * All operations of one instance run one at a time in call order.
 */
import * as nodeFs from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import {
  PersistenceCorruptError,
  PersistenceError,
  PersistenceQuotaError,
  ValidationError,
} from '@omnisync/core';
import { normalizeBatch } from './batch.js';
import {
  encodeCommitBody,
  encodeCommits,
  encodeHeader,
  encodeSnapshot,
  type FileScan,
  HEADER_SIZE,
  scanFile,
} from './file-format.js';
import { acquireLock, type FileLock } from './file-lock.js';
import { Lifecycle } from './lifecycle.js';
import { StateModel } from './state.js';
import type { PersistedState, Persistence, PersistenceBatch } from './types.js';

/** Options for {@link createFilePersistence}. */
export interface FilePersistenceOptions {
  /** The data file. `<path>.lock` and, briefly, `<path>.tmp` sit beside it. Parent folders are created. */
  path: string;
  /**
   * fsync each commit before it resolves (default true). `false` still survives a crash of
   * the process (the data is in the OS), but not of the machine; for tests and caches.
   */
  fsync?: boolean;
  /** Compact once the journal after the snapshot exceeds this many bytes (default 8 MiB). */
  compactAfterBytes?: number;
  /**
   * The file system calls the data file goes through (default `node:fs/promises`). For
   * tests that inject faults (a disk that fills up mid-write); the lock file is not affected.
   */
  fs?: FileStoreFs;
}

/** The part of `node:fs/promises` the file store uses for its data file. */
export type FileStoreFs = Pick<typeof nodeFs, 'mkdir' | 'open' | 'readFile' | 'rename' | 'rm'>;

/** A file persistence: the {@link Persistence} contract plus explicit compaction. */
export interface FilePersistence extends Persistence {
  /** Absolute path of the data file. */
  readonly path: string;
  /** Rewrite the file as one snapshot of the current state (atomic; see module docs). */
  compact(): Promise<void>;
}

const DEFAULT_COMPACT_AFTER = 8 * 1024 * 1024;
/** A group commit stops taking records at this size (the next commits start another). */
const MAX_GROUP_BYTES = 64 * 1024 * 1024;

interface Group {
  bodies: string[];
  bytes: number;
  done: Promise<void>;
}
const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | null)?.code;
/** Disk full or over the user's disk quota. */
const isFull = (err: unknown): boolean => errno(err) === 'ENOSPC' || errno(err) === 'EDQUOT';
const FULL_HINT =
  'The disk is full: nothing of this write was stored and nothing stored before it was lost; free disk space and retry it.';

/** Open (lazily, on the first call) a persistence file at `options.path`. */
export function createFilePersistence(options: FilePersistenceOptions): FilePersistence {
  if (typeof options?.path !== 'string' || options.path.length === 0)
    throw new ValidationError('createFilePersistence needs a `path` for its data file.');
  const path = resolve(options.path);
  const label = `file:${path}`;
  const tmpPath = `${path}.tmp`;
  const sync = options.fsync ?? true;
  const compactAfter = options.compactAfterBytes ?? DEFAULT_COMPACT_AFTER;
  if (!(compactAfter > 0))
    throw new ValidationError(`compactAfterBytes must be a positive number of bytes; got ${compactAfter}.`);
  const life = new Lifecycle(label);
  const { mkdir, open, readFile, rename, rm } = options.fs ?? nodeFs;

  let lock: FileLock | undefined;
  let fd: FileHandle | undefined;
  let end = 0; // where the next record goes
  let baseEnd = 0; // end of the snapshot: the journal is [baseEnd, end)
  let compactAt = 0; // journal size that triggers the next automatic compaction

  const failed = (action: string, err: unknown): Error => {
    if (
      err instanceof PersistenceError ||
      err instanceof PersistenceCorruptError ||
      err instanceof PersistenceQuotaError
    )
      return err;
    if (isFull(err))
      return new PersistenceQuotaError(
        `${label}: could not ${action}: ${(err as Error).message}. ${FULL_HINT}`,
        {
          cause: err,
          details: { file: path, errno: errno(err) },
        },
      );
    return new PersistenceError(`${label}: could not ${action}: ${(err as Error)?.message ?? String(err)}`, {
      cause: err,
      details: { file: path, errno: errno(err) },
    });
  };

  const prepare = async () => {
    if (lock) return;
    await mkdir(dirname(path), { recursive: true });
    lock = await acquireLock(`${path}.lock`, label);
    await rm(tmpPath, { force: true }); // left by a compaction that crashed before its rename
  };

  /** Replace the data file atomically with `data`, and append after it from now on. */
  const replaceFile = async (data: Buffer) => {
    const tmp = await open(tmpPath, 'w');
    try {
      await writeAll(tmp, data, 0);
      if (sync) await tmp.datasync();
    } finally {
      await tmp.close();
    }
    await fd?.close();
    fd = undefined;
    await rename(tmpPath, path);
    if (sync) await fsyncDir(open, dirname(path));
    fd = await open(path, 'r+');
    end = data.length;
  };

  /** Read and replay the file; open it for appending if not yet open. */
  const read = async (): Promise<FileScan> => {
    await prepare();
    let buf: Buffer | undefined;
    try {
      buf = await readFile(path);
    } catch (err) {
      if (errno(err) !== 'ENOENT') throw err;
      if (fd)
        throw new PersistenceError(
          `${label}: the data file disappeared while open; something else deleted it.`,
          { details: { file: path } },
        );
    }
    if (!buf || buf.length === 0) {
      // A new store: write the header atomically, so the file is never half-initialised.
      const header = encodeHeader();
      await replaceFile(header);
      baseEnd = HEADER_SIZE;
      compactAt = compactAfter;
      const model = new StateModel();
      return {
        model,
        state: () => model.toState(false),
        end: HEADER_SIZE,
        baseEnd: HEADER_SIZE,
        records: 0,
        tornBytes: 0,
      };
    }
    const scan = scanFile(buf, path);
    if (!fd) {
      fd = await open(path, 'r+');
      if (scan.tornBytes > 0) {
        // Drop the torn tail now, or the next record would follow garbage.
        await fd.truncate(scan.end);
        if (sync) await fd.datasync();
      }
      end = scan.end;
      baseEnd = scan.baseEnd;
      compactAt = Math.max(compactAfter, baseEnd);
    }
    return scan;
  };

  const ensureOpen = async () => {
    if (!fd) await read();
  };

  const compactNow = async () => {
    try {
      const scan = await read();
      const data = Buffer.concat([encodeHeader(), encodeSnapshot(scan.model)]);
      await replaceFile(data);
      baseEnd = data.length;
      compactAt = Math.max(compactAfter, baseEnd);
    } catch (err) {
      await rm(tmpPath, { force: true }).catch(() => undefined);
      throw failed('compact', err);
    }
  };

  /**
   * Group commit: commits called while an earlier write is in flight are appended together
   * as one group record, with one write and one fsync; all of them resolve after the fsync.
   * One record, so a crash keeps the group whole or drops it whole.
   */
  let group: Group | undefined;
  const flushGroup = async (g: Group) => {
    if (group === g) group = undefined; // commits from now on form the next group
    try {
      await ensureOpen();
    } catch (err) {
      throw failed('open the file', err);
    }
    const handle = fd!;
    const data = encodeCommits(g.bodies);
    let written = false;
    try {
      await writeAll(handle, data, end);
      written = true;
      if (sync) await handle.datasync();
    } catch (err) {
      // Whether the record reached the disk is unknown: reopen (and rescan) on the next
      // call; a partial record is then dropped as torn, a complete one is kept.
      fd = undefined;
      await handle.close().catch(() => undefined);
      // A full disk refused the write: the partial record (if any) is a torn tail the next
      // call drops, so this commit is not stored. (A full disk at fsync is reported below.)
      if (isFull(err) && !written)
        throw new PersistenceQuotaError(
          `${label}: could not append a commit: ${(err as Error).message}. ${FULL_HINT}`,
          {
            cause: err,
            details: { file: path, errno: errno(err) },
          },
        );
      throw new PersistenceError(
        `${label}: the commit may not have been stored (${(err as Error)?.message ?? String(err)}). Each commit is either wholly stored or not at all; load() to see which, or retry it (applying a batch twice in a row changes nothing).`,
        { cause: err, details: { file: path, errno: errno(err) } },
      );
    }
    end += data.length;
  };
  /** Operations other than commit close the open group, so later commits land after them. */
  const ordered = <T>(op: () => Promise<T>): Promise<T> => {
    group = undefined;
    return life.serial(op);
  };

  return {
    name: label,
    path,
    async load(): Promise<PersistedState> {
      life.guard('load');
      return ordered(async () => {
        try {
          return (await read()).state();
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
      if (!g || g.bytes >= MAX_GROUP_BYTES) {
        const fresh: Group = { bodies: [], bytes: 0, done: Promise.resolve() };
        fresh.done = life.serial(() => flushGroup(fresh));
        group = g = fresh;
      }
      g.bodies.push(body);
      g.bytes += body.length;
      await g.done;
      if (end - baseEnd >= compactAt) {
        // Later writes wait behind the compaction; the commit itself is already acknowledged.
        compactAt = end - baseEnd + compactAfter; // failing compactions are not retried on every commit
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
          // Works on a corrupt file too: erasing is the way out of one.
          await prepare();
          await replaceFile(encodeHeader());
          baseEnd = HEADER_SIZE;
          compactAt = compactAfter;
        } catch (err) {
          throw failed('clear', err);
        }
      });
    },
    close: () =>
      life.close(async () => {
        group = undefined;
        await fd?.close().catch(() => undefined);
        fd = undefined;
        await lock?.release();
        lock = undefined;
      }),
  };
}

async function writeAll(fh: FileHandle, data: Buffer, position: number): Promise<void> {
  let written = 0;
  while (written < data.length) {
    const { bytesWritten } = await fh.write(data, written, data.length - written, position + written);
    written += bytesWritten;
  }
}

/** Make a rename durable. Some platforms cannot fsync a directory; there the rename is as durable as it gets. */
async function fsyncDir(open: FileStoreFs['open'], dir: string): Promise<void> {
  let fh: FileHandle | undefined;
  try {
    fh = await open(dir, 'r');
    await fh.sync();
  } catch (err) {
    const code = errno(err);
    if (code !== 'EISDIR' && code !== 'EINVAL' && code !== 'EPERM' && code !== 'EBADF') throw err;
  } finally {
    await fh?.close();
  }
}
