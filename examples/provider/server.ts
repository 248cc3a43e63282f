/**
 * A complete seed 004 backend: HTTP (pull, push, cursor) and WebSocket (live changes) on
 * a real SQLite file (better-sqlite3). The worked example of "Writing a provider".
 *
 * - One ordered change log per database (`changes.version`, an autoincrement: strictly
 *   increasing within every scope), each entry also stamped by the server's own HLC when it
 *   was committed (`server_hlc`), so the log is in server HLC order.
 * - Last-write-wins per field by the writer's HLC (`fields.hlc`); a tombstone wins over
 *   every write, earlier or later (delete wins).
 * - A push is one SQLite transaction: every op is checked first; one refused op and nothing
 *   of the batch is applied. Op ids already applied answer success and change nothing.
 * - Requests are validated (zod); bad ones get `400 {error:{code,message}}`, nothing applied.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Database from 'better-sqlite3';
import { WebSocketServer, type WebSocket } from 'ws';
import { z } from 'zod';
import {
  ClockDriftError,
  createHlc,
  DELETED_FIELD,
  type HlcClock,
  isValidHlc,
  OmniSyncError,
  PayloadTooLargeError,
  toWireError,
  ValidationError,
} from '@omnisync/core';
import type { PendingOp, PullResponse, PushResult, SyncChange } from '@omnisync/client';

/** A server rule: the reason to refuse an op (non-retryable), or undefined to accept it. */
export type OpRule = (op: PendingOp) => string | undefined;

/** Options of {@link startProviderServer}. */
export interface ProviderServerOptions {
  /** The SQLite file (created if missing). */
  readonly file: string;
  /** Port on 127.0.0.1 (default 0: any free one). */
  readonly port?: number;
  /** Refuse ops (e.g. permissions); refused ops fail their whole batch. */
  readonly rule?: OpRule;
  /** Largest pull page (default 1000). */
  readonly maxLimit?: number;
}

/** A running provider server. */
export interface ProviderServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  /** The database (for tests and tools). */
  readonly db: Database.Database;
  close(): Promise<void>;
}

const hlc = z.string().refine(isValidHlc, 'not an OmniSync HLC');
const name = z.string().min(1).max(256);
const scope = z.object({ workspaceId: name });
const op = z.object({
  id: name,
  tableName: name,
  pk: name,
  op: z.enum(['put', 'delete']),
  payload: z.record(name, z.json()).optional(),
  unset: z.array(name).optional(),
  stamp: z.object({ hlc, deviceId: name, opId: name, clock: z.number().optional() }),
  createdAt: z.number(),
});
const pushBody = z.object({ scope, deviceId: name, ops: z.array(op).min(1).max(1000) });
const pullBody = z.object({
  scope,
  cursor: z.number().int().nonnegative(),
  limit: z.number().int().positive(),
  tables: z.array(name).max(1000),
});
const cursorBody = z.object({ scope, deviceId: name, version: z.number().int().nonnegative() });

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS changes (
    version INTEGER PRIMARY KEY AUTOINCREMENT, scope TEXT NOT NULL, table_name TEXT NOT NULL,
    pk TEXT NOT NULL, op TEXT NOT NULL, payload TEXT, unset TEXT, hlc TEXT NOT NULL,
    device_id TEXT NOT NULL, op_id TEXT NOT NULL, server_hlc TEXT NOT NULL);
  CREATE INDEX IF NOT EXISTS changes_scope ON changes (scope, version);
  CREATE TABLE IF NOT EXISTS applied_ops (scope TEXT NOT NULL, op_id TEXT NOT NULL, PRIMARY KEY (scope, op_id));
  CREATE TABLE IF NOT EXISTS fields (scope TEXT NOT NULL, table_name TEXT NOT NULL, pk TEXT NOT NULL,
    field TEXT NOT NULL, value TEXT, hlc TEXT NOT NULL, PRIMARY KEY (scope, table_name, pk, field));
  CREATE TABLE IF NOT EXISTS tombstones (scope TEXT NOT NULL, table_name TEXT NOT NULL, pk TEXT NOT NULL,
    hlc TEXT NOT NULL, PRIMARY KEY (scope, table_name, pk));
  CREATE TABLE IF NOT EXISTS cursors (scope TEXT NOT NULL, device_id TEXT NOT NULL, version INTEGER NOT NULL,
    PRIMARY KEY (scope, device_id));
`;

type Row = {
  version: number;
  table_name: string;
  pk: string;
  op: 'put' | 'delete';
  payload: string | null;
  unset: string | null;
  hlc: string;
  device_id: string;
  op_id: string;
};

const toChange = (r: Row): SyncChange => ({
  tableName: r.table_name,
  pk: r.pk,
  op: r.op,
  ...(r.payload !== null ? { payload: JSON.parse(r.payload) } : {}),
  ...(r.unset !== null ? { unset: JSON.parse(r.unset) } : {}),
  serverVersion: r.version,
  stamp: { hlc: r.hlc, deviceId: r.device_id, opId: r.op_id },
});

/** The storage and rules, without the network. */
function createStore(db: Database.Database, clock: HlcClock, rule: OpRule | undefined) {
  db.pragma('journal_mode = WAL');
  db.exec(SCHEMA);
  const q = {
    applied: db.prepare('SELECT 1 FROM applied_ops WHERE scope = ? AND op_id = ?'),
    markApplied: db.prepare('INSERT INTO applied_ops (scope, op_id) VALUES (?, ?)'),
    tomb: db.prepare('SELECT 1 FROM tombstones WHERE scope = ? AND table_name = ? AND pk = ?'),
    addTomb: db.prepare('INSERT INTO tombstones (scope, table_name, pk, hlc) VALUES (?, ?, ?, ?)'),
    fieldHlc: db.prepare(
      'SELECT hlc FROM fields WHERE scope = ? AND table_name = ? AND pk = ? AND field = ?',
    ),
    setField: db.prepare(
      `INSERT INTO fields (scope, table_name, pk, field, value, hlc) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (scope, table_name, pk, field) DO UPDATE SET value = excluded.value, hlc = excluded.hlc`,
    ),
    log: db.prepare(
      `INSERT INTO changes (scope, table_name, pk, op, payload, unset, hlc, device_id, op_id, server_hlc)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
    ),
    page: db.prepare('SELECT * FROM changes WHERE scope = ? AND version > ? ORDER BY version LIMIT ?'),
    setCursor: db.prepare(
      `INSERT INTO cursors (scope, device_id, version) VALUES (?, ?, ?)
       ON CONFLICT (scope, device_id) DO UPDATE SET version = max(version, excluded.version)`,
    ),
  };

  const applyOp = (s: string, o: PendingOp): SyncChange | undefined => {
    if (q.tomb.get(s, o.tableName, o.pk)) return undefined; // delete wins
    if (o.op === 'delete') {
      q.addTomb.run(s, o.tableName, o.pk, o.stamp.hlc);
      return toChange(
        q.log.get(
          s,
          o.tableName,
          o.pk,
          'delete',
          null,
          null,
          o.stamp.hlc,
          o.stamp.deviceId,
          o.id,
          clock.now(),
        ) as Row,
      );
    }
    const payload: Record<string, unknown> = {};
    const unset: string[] = [];
    const wins = (field: string, value: string | null) => {
      const held = q.fieldHlc.get(s, o.tableName, o.pk, field) as { hlc: string } | undefined;
      if (held && held.hlc >= o.stamp.hlc) return false;
      q.setField.run(s, o.tableName, o.pk, field, value, o.stamp.hlc);
      return true;
    };
    for (const [f, v] of Object.entries(o.payload ?? {})) if (wins(f, JSON.stringify(v))) payload[f] = v;
    for (const f of o.unset ?? []) if (wins(f, null)) unset.push(f);
    if (Object.keys(payload).length === 0 && unset.length === 0) return undefined;
    const row = q.log.get(
      s,
      o.tableName,
      o.pk,
      'put',
      JSON.stringify(payload),
      unset.length > 0 ? JSON.stringify(unset) : null,
      o.stamp.hlc,
      o.stamp.deviceId,
      o.id,
      clock.now(),
    ) as Row;
    return toChange(row);
  };

  const push = db.transaction((s: string, ops: PendingOp[]): { result: PushResult; fresh: SyncChange[] } => {
    const fresh: SyncChange[] = [];
    const reasons = ops.map((o) => {
      if (q.applied.get(s, o.id)) return undefined;
      if (o.stamp.opId !== o.id) return 'stamp.opId must equal the op id';
      if (o.payload && DELETED_FIELD in o.payload) return `${DELETED_FIELD} is reserved for deletes`;
      return rule?.(o);
    });
    if (reasons.some((r) => r !== undefined))
      return {
        fresh,
        result: {
          results: ops.map((o, i) => ({
            opId: o.id,
            success: false,
            retryable: false,
            ...(reasons[i] !== undefined
              ? { error: reasons[i], code: 'forbidden' }
              : { error: 'another op of the batch was refused' }),
          })),
        },
      };
    for (const o of ops) {
      if (q.applied.get(s, o.id)) continue;
      clock.receive(o.stamp.hlc); // a clock far ahead throws ClockDriftError: nothing applied
      q.markApplied.run(s, o.id);
      const change = applyOp(s, o);
      if (change) fresh.push(change);
    }
    return { fresh, result: { results: ops.map((o) => ({ opId: o.id, success: true })) } };
  });

  return {
    push,
    pull(s: string, cursor: number, limit: number, tables: readonly string[]): PullResponse {
      // One extra row tells whether there is more; tables outside the request are skipped.
      const rows = (q.page.all(s, cursor, limit + 1) as Row[]).map(toChange);
      const hasMore = rows.length > limit;
      const page = rows.slice(0, limit);
      const nextCursor = page.length > 0 ? page[page.length - 1]!.serverVersion : cursor;
      return { changes: page.filter((c) => tables.includes(c.tableName)), nextCursor, hasMore };
    },
    setCursor: (s: string, device: string, version: number) => void q.setCursor.run(s, device, version),
  };
}

async function readJson(req: IncomingMessage, max = 4 << 20): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > max) throw new PayloadTooLargeError(`Request body over ${max} bytes; send smaller batches.`);
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ValidationError('The request body is not JSON; send a JSON object.');
  }
}

function parse<T>(schema: z.ZodType<T>, body: unknown, what: string): T {
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const i = r.error.issues[0]!;
  throw new ValidationError(`Bad ${what} request: ${i.path.join('.') || '(body)'}: ${i.message}.`, {
    details: { path: i.path.join('.') },
  });
}

/** Start the provider server; resolves once it listens. */
export async function startProviderServer(options: ProviderServerOptions): Promise<ProviderServer> {
  const db = new Database(options.file);
  const clock = createHlc({ nodeId: 'server' });
  const store = createStore(db, clock, options.rule);
  const maxLimit = options.maxLimit ?? 1000;
  const subscribers = new Map<string, Set<{ ws: WebSocket; tables: Set<string> }>>();

  const fanOut = (scopeId: string, changes: readonly SyncChange[]) => {
    for (const sub of subscribers.get(scopeId) ?? []) {
      const mine = changes.filter((c) => sub.tables.has(c.tableName));
      if (mine.length > 0) sub.ws.send(JSON.stringify({ type: 'changes', changes: mine }));
    }
  };

  const http: Server = createServer((req, res) => {
    const answer = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    (async () => {
      if (req.method !== 'POST') throw new OmniSyncError('not_found', `${req.method} ${req.url}: use POST.`);
      const body = await readJson(req);
      switch (req.url) {
        case '/pull': {
          const p = parse(pullBody, body, 'pull');
          return answer(
            200,
            store.pull(p.scope.workspaceId, p.cursor, Math.min(p.limit, maxLimit), p.tables),
          );
        }
        case '/push': {
          const p = parse(pushBody, body, 'push');
          const { result, fresh } = store.push(p.scope.workspaceId, p.ops as PendingOp[]);
          if (fresh.length > 0) fanOut(p.scope.workspaceId, fresh);
          return answer(200, result);
        }
        case '/cursor': {
          const p = parse(cursorBody, body, 'cursor');
          store.setCursor(p.scope.workspaceId, p.deviceId, p.version);
          return answer(200, { ok: true });
        }
        default:
          throw new OmniSyncError('not_found', `No route ${req.url}; use /pull, /push or /cursor.`);
      }
    })().catch((e: unknown) => {
      const err =
        e instanceof OmniSyncError ? e : new OmniSyncError('internal', 'Internal error', { cause: e });
      if (!(e instanceof OmniSyncError)) console.error(e);
      answer(err instanceof ClockDriftError ? 400 : err.status, toWireError(err));
    });
  });

  const wss = new WebSocketServer({ server: http, path: '/live', maxPayload: 64 << 10 });
  wss.on('connection', (ws) => {
    let joined: { scope: string; sub: { ws: WebSocket; tables: Set<string> } } | undefined;
    ws.on('message', (data) => {
      try {
        const m = z
          .object({ type: z.literal('subscribe'), scope, tables: z.array(name) })
          .safeParse(JSON.parse(String(data)));
        if (!m.success || joined)
          throw new ValidationError('Send one {type:"subscribe", scope, tables} message.');
        const sub = { ws, tables: new Set(m.data.tables) };
        let set = subscribers.get(m.data.scope.workspaceId);
        if (!set) subscribers.set(m.data.scope.workspaceId, (set = new Set()));
        set.add(sub);
        joined = { scope: m.data.scope.workspaceId, sub };
        ws.send(JSON.stringify({ type: 'subscribed' }));
      } catch (e) {
        const err = e instanceof OmniSyncError ? e : new ValidationError('Messages must be JSON.');
        ws.send(JSON.stringify({ type: 'error', ...toWireError(err) }));
        ws.close(1008, err.code);
      }
    });
    ws.on('close', () => {
      if (joined) subscribers.get(joined.scope)?.delete(joined.sub);
    });
  });

  await new Promise<void>((resolve) => http.listen(options.port ?? 0, '127.0.0.1', resolve));
  const { port } = http.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    db,
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
      await new Promise<void>((resolve) => http.close(() => resolve()));
      db.close();
    },
  };
}
