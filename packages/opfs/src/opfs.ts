/**
 * OPFS persistence: SQLite-wasm in the Origin Private File System, run in a dedicated worker
 * (OPFS sync access handles exist only in workers). The main thread encodes and validates
 * (`createJournaledPersistence` of @omnisync/client: a columnar snapshot in 64 KiB pages plus
 * a journal of commits, the same model as the file store); the worker stores and returns
 * bytes, one SQLite transaction per call.
 */
import {
  createJournaledPersistence,
  type JournalBackend,
  type JournalContents,
  type JournaledPersistence,
} from '@omnisync/client';
import { type ErrorCode, fromWireError, PersistenceUnavailableError, ValidationError } from '@omnisync/core';
import type { OpfsReply, OpfsRequest } from './protocol.js';

/** The part of a Worker (or MessagePort) the adapter uses. */
export interface WorkerLike {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message' | 'error', listener: (event: Event) => void): void;
  terminate?(): void;
}

/** Options for {@link createOpfsPersistence}. */
export interface OpfsPersistenceOptions {
  /** Store name: one SQLite database per name (`/<name>.sqlite3` in the pool `omnisync-<name>`). */
  name: string;
  /** The worker running `@omnisync/opfs/worker`, or a function that starts it (called on first use). */
  worker: WorkerLike | (() => WorkerLike);
  /** Give up on a worker that has not answered `open` after this many ms (default 10 000). */
  startTimeoutMs?: number;
  /** Compact once the journal exceeds this many bytes (default 4 MiB). */
  compactAfterBytes?: number;
}

type Reply = Extract<OpfsReply, { ok: true }>;
type Request = OpfsRequest extends infer R ? (R extends OpfsRequest ? Omit<R, 'id'> : never) : never;

/**
 * A persistence in OPFS. Nothing starts until the first call. When the worker cannot start or
 * OPFS is missing, calls reject with `PersistenceUnavailableError` (code
 * `persistence_unavailable`): fall back to `createIndexedDbPersistence`.
 */
export function createOpfsPersistence(options: OpfsPersistenceOptions): JournaledPersistence {
  if (typeof options?.name !== 'string' || !/^[\w.-]{1,100}$/.test(options.name))
    throw new ValidationError(
      'createOpfsPersistence needs a `name` of 1-100 letters, digits, "_", "-" or "." (it names the database file).',
    );
  const label = `opfs:${options.name}`;
  const timeoutMs = options.startTimeoutMs ?? 10_000;
  let worker: WorkerLike | undefined;
  let opened: Promise<void> | undefined;
  let nextId = 1;
  const pending = new Map<number, { resolve: (r: Reply) => void; reject: (e: Error) => void }>();
  let broken: Error | undefined;

  const unavailable = (why: string, cause?: unknown) =>
    new PersistenceUnavailableError(
      `${label}: OPFS persistence is unavailable (${why}). Fall back to createIndexedDbPersistence.`,
      { cause, details: { persistence: label } },
    );

  const fail = (err: Error) => {
    broken = err;
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };

  const send = (req: Request, transfer: Transferable[] = []): Promise<Reply> => {
    if (broken) return Promise.reject(broken);
    const id = nextId++;
    return new Promise<Reply>((resolve, reject) => {
      pending.set(id, { resolve, reject });
      worker!.postMessage({ ...req, id }, transfer);
    });
  };

  const start = (): Promise<void> => {
    if (opened) return opened;
    opened = (async () => {
      try {
        worker = typeof options.worker === 'function' ? options.worker() : options.worker;
      } catch (err) {
        throw unavailable('the worker could not be created', err);
      }
      worker.addEventListener('message', (event) => {
        const reply = (event as MessageEvent).data as OpfsReply;
        const p = pending.get(reply?.id);
        if (!p) return;
        pending.delete(reply.id);
        if (reply.ok) p.resolve(reply);
        else
          p.reject(
            reply.error.code === 'persistence_unavailable'
              ? unavailable(reply.error.message)
              : fromWireError({
                  code: reply.error.code as ErrorCode,
                  message: `${label}: ${reply.error.message}`,
                }),
          );
      });
      worker.addEventListener('error', (event) => {
        const message = (event as ErrorEvent).message;
        fail(unavailable(`the worker failed${message ? `: ${message}` : ' to load its script'}`, event));
      });
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(unavailable(`the worker did not answer within ${timeoutMs} ms`)),
          timeoutMs,
        );
      });
      try {
        await Promise.race([send({ op: 'open', name: options.name }), timeout]);
      } catch (err) {
        worker.terminate?.();
        fail(err as Error);
        throw err;
      } finally {
        clearTimeout(timer);
      }
    })();
    return opened;
  };

  const backend: JournalBackend = {
    async read(): Promise<JournalContents> {
      await start();
      const r = await send({ op: 'read' });
      return { snapshot: r.snapshot, journal: r.journal ?? [] };
    },
    async append(bodies) {
      await start();
      await send({ op: 'append', bodies: [...bodies] });
    },
    async replace(snapshot) {
      await start();
      await send({ op: 'replace', snapshot }, [snapshot.buffer as ArrayBuffer]);
    },
    async clear() {
      await start();
      await send({ op: 'clear' });
    },
    async close() {
      if (!opened) return;
      try {
        await opened;
        await send({ op: 'close' });
      } catch {
        // a worker that never started has nothing to release
      } finally {
        worker?.terminate?.();
      }
    },
  };
  return createJournaledPersistence(backend, {
    name: label,
    ...(options.compactAfterBytes === undefined ? {} : { compactAfterBytes: options.compactAfterBytes }),
  });
}
