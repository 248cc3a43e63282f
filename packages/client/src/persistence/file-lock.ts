/**
 * A single-writer lock for file persistence (Node only): `<path>.lock` holds the owner's
 * pid, host and a random token. Two writers appending to one journal would corrupt it, so a
 * second opener — another process or another instance in this process — is refused. A lock
 * left by a process that died (SIGKILL, crash) is taken over.
 *
 * The lock file appears with its full content at once: it is written under a temporary name
 * and hard-linked into place, and link() fails if the lock exists (exclusive, like O_EXCL,
 * without a window in which a reader sees an empty lock). Where hard links are not
 * supported, it falls back to open(O_EXCL).
 */
import { randomUUID } from 'node:crypto';
import { link, open, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { PersistenceError } from '@omnisync/core';

/** A held lock. */
export interface FileLock {
  /** The lock file's path. */
  readonly path: string;
  /** Remove the lock file (only if it is still ours). */
  release(): Promise<void>;
}

interface Holder {
  pid: number;
  host: string;
  token: string;
}

const errno = (err: unknown): string | undefined => (err as NodeJS.ErrnoException | null)?.code;

/**
 * Take the lock at `lockPath`, or throw {@link PersistenceError} (details.reason "locked")
 * naming the live holder.
 */
export async function acquireLock(lockPath: string, label: string): Promise<FileLock> {
  const me: Holder = { pid: process.pid, host: hostname(), token: randomUUID() };
  const content = JSON.stringify(me);
  const tmp = `${lockPath}.${me.token}.tmp`;
  await writeFile(tmp, content);
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      if (await tryCreate(tmp, lockPath, content)) return held(lockPath, me.token);
      let raw: string;
      try {
        raw = await readFile(lockPath, 'utf8');
      } catch (err) {
        if (errno(err) === 'ENOENT') continue; // released meanwhile: try again
        throw err;
      }
      const holder = parseHolder(raw);
      if (holder && isAlive(holder)) {
        const where = holder.host === me.host ? '' : ` on host ${holder.host}`;
        const who =
          holder.pid === process.pid && holder.host === me.host
            ? 'another persistence in this process (close it first)'
            : `process ${holder.pid}${where}`;
        throw new PersistenceError(
          `${label} is locked by ${who}: only one writer may open a persistence file. Close the other one; if no such process runs, delete ${lockPath}.`,
          { details: { reason: 'locked', lock: lockPath, pid: holder.pid, host: holder.host } },
        );
      }
      // Stale (its process died): remove it, unless someone replaced it since we read it.
      const again = await readFile(lockPath, 'utf8').catch(() => undefined);
      if (again === raw)
        await unlink(lockPath).catch((err: unknown) =>
          errno(err) === 'ENOENT' ? undefined : Promise.reject(err),
        );
    }
    throw new PersistenceError(
      `${label}: could not take the lock ${lockPath}: other processes keep taking it; retry.`,
      {
        details: { reason: 'locked', lock: lockPath },
      },
    );
  } finally {
    await rm(tmp, { force: true });
  }
}

async function tryCreate(tmp: string, lockPath: string, content: string): Promise<boolean> {
  try {
    await link(tmp, lockPath);
    return true;
  } catch (err) {
    const code = errno(err);
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'ENOSYS') throw err;
  }
  // No hard links on this file system: exclusive create, then write.
  try {
    const fh = await open(lockPath, 'wx');
    try {
      await fh.writeFile(content);
    } finally {
      await fh.close();
    }
    return true;
  } catch (err) {
    if (errno(err) === 'EEXIST') return false;
    throw err;
  }
}

function parseHolder(raw: string): Holder | undefined {
  try {
    const h = JSON.parse(raw) as Partial<Holder>;
    if (typeof h.pid === 'number' && typeof h.host === 'string' && typeof h.token === 'string')
      return h as Holder;
  } catch {
    // An unreadable lock (cut short by an OS crash) has no live owner to protect.
  }
  return undefined;
}

function isAlive(holder: Holder): boolean {
  if (holder.host !== hostname()) return true; // cannot check another machine's pids: assume alive
  if (holder.pid === process.pid) return true;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (err) {
    return errno(err) === 'EPERM'; // exists but belongs to someone else
  }
}

function held(lockPath: string, token: string): FileLock {
  let released = false;
  return {
    path: lockPath,
    async release() {
      if (released) return;
      released = true;
      const raw = await readFile(lockPath, 'utf8').catch(() => undefined);
      if (raw !== undefined && parseHolder(raw)?.token === token) await rm(lockPath, { force: true });
    },
  };
}
