/**
 * A small protocol v1 client for the server tests: HTTP calls, a WebSocket client that
 * records every message, and helpers to build cells. Real network on loopback.
 */
import { createHlc, type HlcClock, randomId, type WireCell } from '@omnisync/core';
import WebSocket from 'ws';

/** A JSON response. */
export interface HttpResult<T = any> {
  status: number;
  body: T;
  text: string;
}

/** POST raw text (or JSON) to an endpoint of an app. */
export async function post<T = any>(
  base: string,
  path: string,
  body: unknown,
  init: { token?: string; raw?: boolean; headers?: Record<string, string> } = {},
): Promise<HttpResult<T>> {
  const res = await fetch(base + path, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...init.headers,
    },
    body: init.raw ? (body as string) : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed as T, text };
}

/** HTTP client of one app. */
export class HttpClient {
  constructor(
    readonly base: string,
    readonly app: string,
    public token?: string,
  ) {}
  call<T = any>(kind: string, body: unknown): Promise<HttpResult<T>> {
    return post<T>(this.base, `/v1/apps/${this.app}/${kind}`, body, this.token ? { token: this.token } : {});
  }
  async ok<T = any>(kind: string, body: unknown): Promise<T> {
    const r = await this.call<T>(kind, body);
    if (r.status !== 200) throw new Error(`${kind} answered ${r.status}: ${r.text}`);
    return r.body;
  }
  push(clientId: string, mutations: unknown[]) {
    return this.ok<{ results: any[]; cursor: number }>('push', { clientId, mutations });
  }
  pull(cursor: number, queries?: unknown[], limit?: number) {
    return this.ok<any>('pull', { cursor, ...(queries ? { queries } : {}), ...(limit ? { limit } : {}) });
  }
  snapshot(queries?: unknown[]) {
    return this.ok<{ cells: WireCell[]; cursor: number }>('snapshot', queries ? { queries } : {});
  }
  /** Pull every page from `cursor`; returns all changes and the final cursor. */
  async pullAll(
    cursor: number,
    queries?: unknown[],
    limit?: number,
  ): Promise<{ changes: WireCell[]; cursor: number; pages: number }> {
    const changes: WireCell[] = [];
    let pages = 0;
    for (;;) {
      const page = await this.pull(cursor, queries, limit);
      pages++;
      if (page.reset) throw new Error('unexpected reset');
      changes.push(...page.changes);
      cursor = page.cursor;
      if (!page.hasMore) return { changes, cursor, pages };
    }
  }
}

/** Builds cells the way a client does: one HLC per write. */
export class CellWriter {
  readonly hlc: HlcClock;
  constructor(nodeId = `t_${randomId(undefined, 8)}`) {
    this.hlc = createHlc({ nodeId });
  }
  /** Cells inserting (or updating) a document's top-level fields. */
  doc(collection: string, id: string, fields: Record<string, unknown>, insert = true): WireCell[] {
    const hlc = this.hlc.now();
    const cells: WireCell[] = Object.entries(fields).map(([field, value]) => ({
      collection,
      id,
      field,
      value: value as any,
      hlc,
    }));
    if (insert) cells.unshift({ collection, id, field: 'id', value: id, hlc });
    return cells;
  }
  update(collection: string, id: string, fields: Record<string, unknown>): WireCell[] {
    return this.doc(collection, id, fields, false);
  }
  remove(collection: string, id: string): WireCell[] {
    return [{ collection, id, field: '_deleted', value: true, hlc: this.hlc.now() }];
  }
}

let mutationSeq = 0;
/** A mutation with a fresh id. */
export const mutation = (changes: WireCell[], extra: Record<string, unknown> = {}) => ({
  id: `m${++mutationSeq}_${randomId(undefined, 6)}`,
  changes,
  ...extra,
});

/** A WebSocket client that records every message. */
export class LiveClient {
  readonly messages: any[] = [];
  readonly ws: WebSocket;
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly opened: Promise<void>;
  #waiters: { pred: (m: any) => boolean; resolve: (m: any) => void }[] = [];

  constructor(base: string, app: string) {
    this.ws = new WebSocket(`${base.replace(/^http/, 'ws')}/v1/apps/${app}/live`);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.closed = new Promise((resolve) =>
      this.ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    this.ws.on('message', (data) => {
      const msg = JSON.parse(data.toString());
      this.messages.push(msg);
      this.#waiters = this.#waiters.filter((w) => {
        if (!w.pred(msg)) return true;
        w.resolve(msg);
        return false;
      });
    });
    this.ws.on('error', () => undefined);
  }

  static async open(base: string, app: string): Promise<LiveClient> {
    const c = new LiveClient(base, app);
    await c.opened;
    return c;
  }

  send(msg: unknown): void {
    this.ws.send(typeof msg === 'string' || Buffer.isBuffer(msg) ? msg : JSON.stringify(msg));
  }

  /** The first message (already received or future) matching `pred`. */
  next(pred: (m: any) => boolean, timeoutMs = 10_000, from = 0): Promise<any> {
    const seen = this.messages.slice(from).find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new Error(
              `no matching message within ${timeoutMs} ms; got ${JSON.stringify(this.messages).slice(-2000)}`,
            ),
          ),
        timeoutMs,
      );
      this.#waiters.push({
        pred,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  /** A message matching `pred` that arrives after now. */
  nextNew(pred: (m: any) => boolean, timeoutMs = 10_000): Promise<any> {
    return this.next(pred, timeoutMs, this.messages.length);
  }

  async hello(extra: Record<string, unknown> = {}): Promise<any> {
    const from = this.messages.length;
    this.send({ type: 'hello', ...extra });
    return this.next((m) => m.type === 'welcome' || m.type === 'error', 10_000, from);
  }

  async subscribe(queryId: string, query: unknown, cursor?: number): Promise<any> {
    const from = this.messages.length;
    this.send({ type: 'subscribe', queryId, query, ...(cursor !== undefined ? { cursor } : {}) });
    return this.next(
      (m) => (m.type === 'subscribed' || m.type === 'error') && (m.queryId === queryId || m.type === 'error'),
      10_000,
      from,
    );
  }

  /** Round trip a ping: proves the connection is open and serving. */
  async ping(): Promise<void> {
    const id = randomId(undefined, 8);
    const from = this.messages.length;
    this.send({ type: 'ping', id });
    await this.next((m) => m.type === 'pong' && m.id === id, 10_000, from);
  }

  /** Every cell received in `changes` messages. */
  cells(): WireCell[] {
    return this.messages.filter((m) => m.type === 'changes').flatMap((m) => m.cells);
  }

  close(): void {
    this.ws.close();
  }
}
