/**
 * The Node server: the Fetch-API handler on node:http (@hono/node-server) plus the
 * WebSocket endpoint (`ws`) at `GET /v1/apps/:app/live`, with graceful shutdown.
 */
import { type IncomingMessage, maxHeaderSize as defaultMaxHeaderSize, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { createAdaptorServer } from '@hono/node-server';
import { OmniSyncError, PayloadTooLargeError, ProtocolError, toWireError } from '@omnisync/core';
import { type WebSocket, WebSocketServer } from 'ws';
import { createSyncHandler, type SyncHandler, type SyncHandlerOptions } from '../http/handler.js';
import type { SyncEngine } from '../engine/sync-engine.js';
import { createSyncEngine } from '../engine/sync-engine.js';

const LIVE_PATH = /^\/v1\/apps\/([^/]+)\/live\/?$/;

/** Where a server listens. */
export interface ListenInfo {
  readonly port: number;
  readonly host: string;
  /** `http://host:port` */
  readonly url: string;
}

/** A sync server for Node. */
export interface OmniSyncServer {
  /** Start listening (port 0 = any free port). Default host 127.0.0.1. */
  listen(port?: number, host?: string): Promise<ListenInfo>;
  /**
   * Graceful shutdown: stop accepting, close WebSockets with 1001 (drained up to
   * `live.closeDrainMs`), finish in-flight commits, close every database.
   */
  close(): Promise<void>;
  readonly engine: SyncEngine;
  readonly handler: SyncHandler;
  readonly httpServer: Server;
}

function refuseUpgrade(socket: Duplex, err: OmniSyncError) {
  const body = JSON.stringify(toWireError(err));
  socket.end(
    `HTTP/1.1 ${err.status} ${err.code}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * What node:http answers itself, before any handler runs (headers over `maxHeaderSize`, text
 * that is not HTTP, a request that timed out): the same `{error:{code,message}}` as every
 * other refusal, instead of a bare status line. A reset connection is just dropped.
 */
function answerClientError(err: Error & { code?: string }, socket: Duplex, maxHeaderSize: number) {
  if (err.code === 'ECONNRESET' || !socket.writable) return void socket.destroy();
  let status: number;
  let e: OmniSyncError;
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    status = 431;
    e = new PayloadTooLargeError(
      `The request headers are over the limit of ${maxHeaderSize} bytes; send a shorter token (Authorization header) or fewer/shorter headers.`,
      { details: { maxHeaderBytes: maxHeaderSize } },
    );
  } else if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    status = 408;
    e = new ProtocolError('The request was not received in time; send it again.');
  } else {
    status = 400;
    e = new ProtocolError(
      `The request is not valid HTTP/1.1 (${err.code ?? 'parse error'}); send an HTTP request.`,
    );
  }
  const body = JSON.stringify(toWireError(e));
  socket.end(
    `HTTP/1.1 ${status} ${e.code}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/**
 * A frame `ws` itself refuses closes the socket with no reason: 1009 (over the frame limit),
 * 1007 (text that is not UTF-8), 1002 (a broken frame). Say what happened: an error message
 * with a code, then the same close code with a reason (`ws` calls the instance's
 * `close(code)` without one; this instance's close adds them).
 */
function explainFrameRefusals(ws: WebSocket, maxPayload: number): void {
  const close = ws.close.bind(ws);
  ws.close = (code?: number, reason?: string | Buffer) => {
    if (reason !== undefined || ws.readyState !== ws.OPEN) return close(code, reason);
    let e: OmniSyncError | undefined;
    if (code === 1009)
      e = new PayloadTooLargeError(
        `A message was over the limit of ${maxPayload} bytes; send smaller messages (split the push; a token must be far smaller).`,
        { details: { maxBytes: maxPayload } },
      );
    else if (code === 1007)
      e = new ProtocolError('A text message was not valid UTF-8; send messages as UTF-8 JSON text.');
    else if (code === 1002)
      e = new ProtocolError('A WebSocket frame was malformed; use a conforming WebSocket client.');
    if (!e) return close(code, reason);
    ws.send(JSON.stringify({ type: 'error', ...toWireError(e) }));
    return close(
      code,
      code === 1009
        ? `payload_too_large: message over ${maxPayload} bytes`
        : `${e.code}: ${e.message}`.slice(0, 120),
    );
  };
}

/**
 * Create the Node sync server.
 * @example
 * const server = createServer({ dataDir: './data', auth: { secret: process.env.OMNISYNC_AUTH_SECRET } });
 * const { url } = await server.listen(8787);
 * process.on('SIGTERM', () => server.close());
 */
export function createServer(options: SyncHandlerOptions = {}): OmniSyncServer {
  const engine = options.engine ?? createSyncEngine(options);
  const handler = createSyncHandler({ ...options, engine });
  const httpServer = createAdaptorServer({ fetch: handler.fetch }) as Server;
  httpServer.on('clientError', (err: Error, socket: Duplex) =>
    answerClientError(err, socket, defaultMaxHeaderSize),
  );
  const maxPayload = engine.limits.maxBytes * 2 + 1024;
  const wss = new WebSocketServer({ noServer: true, maxPayload, perMessageDeflate: false });

  httpServer.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const m = LIVE_PATH.exec(new URL(req.url ?? '/', 'http://localhost').pathname);
    try {
      if (!m) throw new OmniSyncError('not_found', 'WebSocket endpoint is GET /v1/apps/:app/live.');
      if (engine.closing)
        throw new OmniSyncError('closed', 'The server is shutting down; reconnect in a moment.');
      const app = decodeURIComponent(m[1]!);
      engine.checkApp(app);
      wss.handleUpgrade(req, socket, head, (ws) => {
        explainFrameRefusals(ws, maxPayload);
        engine.live.accept(app, ws);
      });
    } catch (err) {
      refuseUpgrade(
        socket,
        err instanceof OmniSyncError ? err : new OmniSyncError('invalid_input', 'Bad WebSocket request.'),
      );
    }
  });

  let closing: Promise<void> | undefined;
  return {
    engine,
    handler,
    httpServer,
    listen(port = 8787, host = '127.0.0.1') {
      return new Promise((resolve, reject) => {
        httpServer.once('error', reject);
        httpServer.listen(port, host, () => {
          httpServer.off('error', reject);
          const a = httpServer.address() as AddressInfo;
          const h = a.family === 'IPv6' ? `[${a.address}]` : a.address;
          engine.log.info({ port: a.port, host: a.address, url: `http://${h}:${a.port}` }, 'listening');
          resolve({ port: a.port, host: a.address, url: `http://${h}:${a.port}` });
        });
      });
    },
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => httpServer.close(() => resolve()));
        httpServer.closeIdleConnections();
        await engine.close();
        wss.close();
        // Requests still in flight were answered (or refused with 503) by now; drop what lingers.
        const timer = setTimeout(() => httpServer.closeAllConnections(), engine.liveOptions.closeDrainMs);
        timer.unref?.();
        await stopped;
        clearTimeout(timer);
      })();
      return closing;
    },
  };
}
