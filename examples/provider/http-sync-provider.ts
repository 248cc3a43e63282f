/**
 * The client half of the worked provider: a seed 004 {@link SyncProvider} that talks to
 * `server.ts` over HTTP (pull, push, cursor) and a WebSocket (live changes). Errors the
 * server answers (`{error:{code,message}}`) come back as the typed OmniSync errors; a
 * network failure is a `NetworkError` (the client retries both with backoff).
 */
import { fromWireError, NetworkError, type WireError } from '@omnisync/core';
import type {
  PullRequest,
  PullResponse,
  PushBatch,
  PushResult,
  SyncChange,
  SyncProvider,
  SyncScope,
  WebSocketConstructor,
  WebSocketLike,
} from '@omnisync/client';

/** Options of {@link HttpSyncProvider}. */
export interface HttpSyncProviderOptions {
  /** The server's base URL, e.g. `http://127.0.0.1:8790`. */
  readonly url: string;
  /** WebSocket implementation (default: the global one; in Node 20 pass `ws`). */
  readonly WebSocket?: WebSocketConstructor;
  /** Delay before reconnecting a dropped live connection, ms (default 500). */
  readonly reconnectDelayMs?: number;
}

/** A SyncProvider for the example's HTTP + WebSocket server. */
export class HttpSyncProvider implements SyncProvider {
  readonly id = 'http-sqlite';
  readonly mode = 'direct' as const;
  readonly #url: string;
  readonly #WebSocket: WebSocketConstructor | undefined;
  readonly #reconnectMs: number;

  constructor(options: HttpSyncProviderOptions) {
    this.#url = options.url.replace(/\/$/, '');
    this.#WebSocket = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    this.#reconnectMs = options.reconnectDelayMs ?? 500;
  }

  async #post<T>(path: string, body: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(this.#url + path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    } catch (e) {
      throw new NetworkError(`Could not reach ${this.#url}${path}; retried when the network is back.`, {
        cause: e,
      });
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new NetworkError(`${this.#url}${path} answered ${res.status} with a body that is not JSON.`);
    }
    if (!res.ok) {
      const wire = (json as Partial<WireError>).error;
      if (wire && typeof wire.code === 'string' && typeof wire.message === 'string')
        throw fromWireError(wire);
      throw new NetworkError(`${this.#url}${path} answered ${res.status}.`);
    }
    return json as T; // checked by the source
  }

  pull(request: PullRequest): Promise<PullResponse> {
    return this.#post('/pull', request);
  }

  push(batch: PushBatch): Promise<PushResult> {
    return this.#post('/push', batch);
  }

  async updateCursor(scope: SyncScope, deviceId: string, version: number): Promise<void> {
    await this.#post('/cursor', { scope, deviceId, version });
  }

  /**
   * Live changes over one WebSocket; resolves once the server confirmed the subscription.
   * A dropped connection reconnects and then calls `onChanges([])`, which makes the source
   * pull what it missed.
   */
  async subscribe(
    scope: SyncScope,
    tables: readonly string[],
    onChanges: (changes: readonly SyncChange[]) => void,
  ): Promise<() => void> {
    const WS = this.#WebSocket;
    if (!WS) throw new NetworkError('No WebSocket implementation: pass one as options.WebSocket.');
    let closed = false;
    let ws: WebSocketLike | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const open = (first: boolean) =>
      new Promise<void>((resolve, reject) => {
        const socket = new WS(this.#url.replace(/^http/, 'ws') + '/live');
        ws = socket;
        let subscribed = false;
        socket.onopen = () => socket.send(JSON.stringify({ type: 'subscribe', scope, tables }));
        socket.onmessage = (ev: { data: unknown }) => {
          let m: { type?: string; changes?: SyncChange[] };
          try {
            m = JSON.parse(String(ev.data)) as typeof m;
          } catch {
            if (subscribed) onChanges([]); // unreadable: the source pulls instead
            return;
          }
          if (m.type === 'subscribed') {
            subscribed = true;
            resolve();
            if (!first) onChanges([]); // reconnected: catch up on what was missed
          } else if (m.type === 'changes') onChanges(m.changes as SyncChange[]);
        };
        socket.onerror = () => {};
        socket.onclose = () => {
          if (!subscribed) reject(new NetworkError(`The live connection to ${this.#url} failed.`));
          if (closed || !subscribed) return;
          const retry = () => {
            timer = setTimeout(() => {
              if (!closed) open(false).catch(retry);
            }, this.#reconnectMs);
          };
          retry();
        };
      });
    await open(true);
    return () => {
      closed = true;
      if (timer) clearTimeout(timer);
      ws?.close();
    };
  }
}
