/**
 * The worker side of the protocol: answer requests on `port` with a SQLite store opened by
 * `openDb`. Runs anywhere a MessagePort does (the OPFS worker; a Node test over a
 * MessageChannel with an in-memory database).
 */
import type { OpfsReply, OpfsRequest } from './protocol.js';
import { createSqliteStore, type SqliteDb } from './sqlite-store.js';

/** The message port the worker talks on (`self` in a worker, a MessagePort in tests). */
export interface PortLike {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent) => void): void;
}

/**
 * Opens the database for a store name (and says how to release what it holds after
 * `db.close()`); throws `{ code, message }`-shaped errors to report.
 */
export type OpenDb = (name: string) => Promise<{ db: SqliteDb; release?: () => void }>;

/** Serve requests on `port` one at a time, in order. */
export function serveOpfsStore(port: PortLike, openDb: OpenDb): void {
  let db: SqliteDb | undefined;
  let release: (() => void) | undefined;
  let store: ReturnType<typeof createSqliteStore> | undefined;
  let tail: Promise<void> = Promise.resolve();
  const handle = async (req: OpfsRequest): Promise<void> => {
    try {
      if (req.op === 'open') {
        if (!store) {
          ({ db, release } = await openDb(req.name));
          store = createSqliteStore(db);
        }
        port.postMessage({ id: req.id, ok: true } satisfies OpfsReply);
        return;
      }
      if (!store) throw Object.assign(new Error('the store is not open'), { code: 'invalid_state' });
      if (req.op === 'read') {
        const { snapshot, journal } = store.read();
        const reply: OpfsReply = { id: req.id, ok: true, journal, ...(snapshot ? { snapshot } : {}) };
        port.postMessage(reply, snapshot ? [snapshot.buffer as ArrayBuffer] : []);
        return;
      }
      if (req.op === 'append') store.append(req.bodies);
      else if (req.op === 'replace') store.replace(req.snapshot);
      else if (req.op === 'clear') store.clear();
      else if (req.op === 'close') {
        db?.close();
        release?.();
        db = store = release = undefined;
      }
      port.postMessage({ id: req.id, ok: true } satisfies OpfsReply);
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown };
      port.postMessage({
        id: req.id,
        ok: false,
        error: {
          code: typeof e?.code === 'string' ? e.code : 'persistence_failed',
          message: typeof e?.message === 'string' ? e.message : String(err),
        },
      } satisfies OpfsReply);
    }
  };
  port.addEventListener('message', (event: MessageEvent) => {
    const req = event.data as OpfsRequest;
    tail = tail.then(() => handle(req));
  });
}
