/**
 * The Fetch-API handler (Request → Response) on Hono: mounts in any framework or runtime.
 *
 *     GET  /v1/health
 *     POST /v1/apps/:app/push | pull | snapshot | cursor
 *     GET  /v1/apps/:app/live      (WebSocket; served by createServer on Node)
 *     GET  /metrics                (Prometheus; behind the metrics token when auth is on)
 *     POST /v1/apps/:app/explain   (the rules' explanation of a document; behind the admin token)
 *
 * Every failure answers `{error:{code, message, requestId}}` with the code's HTTP status;
 * every answer carries the request's `x-request-id`.
 */
import {
  checkExactJson,
  cursorRequestSchema,
  decodeMessage,
  NotFoundError,
  OmniSyncError,
  parseMessageText,
  PROTOCOL_HEADER,
  PROTOCOL_VERSION,
  ProtocolError,
  pullRequestSchema,
  snapshotRequestSchema,
  toWireError,
  UnknownMessageError,
} from '@omnisync/core';
import { Hono } from 'hono';
import { cors } from 'hono/cors';
import { compressAnswers } from './compress.js';
import { bearerToken } from '../engine/auth.js';
import type { SyncServerOptions } from '../engine/options.js';
import { createSyncEngine, type SyncEngine } from '../engine/sync-engine.js';
import type { Logger } from '../util/logger.js';
import {
  countRequests,
  metricsEndpoint,
  type ObservedEnv,
  requestIds,
} from '../observability/http-observe.js';
import { REQUEST_ID_HEADER } from '../observability/request-context.js';
import { decodePushText } from './push-decode.js';
import { explainEndpoint } from './explain-route.js';
import {
  ACCEPTED_ENCODINGS,
  ACCEPTS_ENCODING_HEADER,
  isClientAbort,
  type NodeIncoming,
  readBody,
} from './read-body.js';

/** A Fetch-API sync handler. */
export interface SyncHandler {
  /** Handle one request. */
  fetch(request: Request, env?: unknown): Promise<Response>;
  /** The engine behind it (shared with the WebSocket server). */
  readonly engine: SyncEngine;
  /** Close the engine if this handler created it. */
  close(): Promise<void>;
}

/** Options of {@link createSyncHandler}: server options, or an existing engine to share. */
export interface SyncHandlerOptions extends SyncServerOptions {
  engine?: SyncEngine;
  /** Allowed CORS origins; default `*` (tokens travel in headers, never cookies). `false` turns CORS off. */
  cors?: false | string | string[];
  /**
   * Compress answers of 1 kB and more with gzip or deflate when the request's
   * Accept-Encoding allows it (pull pages and snapshots shrink ~10×; browsers and Node's
   * fetch decode them by themselves). Default on; `false` where a proxy compresses already.
   */
  compress?: boolean;
}

/**
 * Answer an error as `{error:{code,message,requestId?}}` with its status (and the request id
 * in `x-request-id`); internals are logged, not leaked.
 */
export function errorResponse(err: unknown, log: Logger, requestId?: string): Response {
  let e: OmniSyncError;
  if (err instanceof OmniSyncError) e = err;
  else {
    log.error({ err }, 'request failed');
    e = new OmniSyncError('internal', 'Internal server error (logged on the server); retry later.');
  }
  // The client hung up mid-request: nobody reads the answer, and it is no server fault.
  if (isClientAbort(e)) log.info({ details: e.details }, 'client aborted the request');
  else if (e.status >= 500 && e.code !== 'closed') log.error({ err: e }, 'request failed');
  const headers: Record<string, string> = { 'content-type': 'application/json; charset=utf-8' };
  // An oversized body may still be arriving: close rather than read it to reuse the socket.
  if (e.code === 'payload_too_large') headers['connection'] = 'close';
  const retryAfterMs = e.details?.['retryAfterMs'];
  if (e.code === 'rate_limited' && typeof retryAfterMs === 'number')
    headers['retry-after'] = String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
  const wire = toWireError(e);
  if (requestId !== undefined) headers[REQUEST_ID_HEADER] = requestId;
  const body = requestId === undefined ? wire : { error: { ...wire.error, requestId } };
  return new Response(JSON.stringify(body), { status: e.status, headers });
}

/**
 * Create the Fetch-API handler.
 * @example
 * const handler = createSyncHandler({ dataDir: './data', auth: { secret: process.env.SECRET } });
 * Bun.serve({ fetch: handler.fetch }); // or app.all('/v1/*', (c) => handler.fetch(c.req.raw))
 */
export function createSyncHandler(options: SyncHandlerOptions = {}): SyncHandler {
  const owned = options.engine === undefined;
  const engine = options.engine ?? createSyncEngine(options);
  const { log, limits, rateLimiter } = engine;

  const app = new Hono<ObservedEnv>();
  app.use('*', requestIds(log));
  if (options.cors !== false)
    app.use(
      '/v1/*',
      cors({
        origin: options.cors ?? '*',
        allowHeaders: [
          'Authorization',
          'Content-Type',
          'Content-Encoding',
          'OmniSync-Protocol',
          'X-Request-Id',
        ],
        exposeHeaders: ['X-Request-Id', ACCEPTS_ENCODING_HEADER],
        allowMethods: ['GET', 'POST', 'OPTIONS'],
        maxAge: 600,
      }),
    );
  app.onError((err, c) => errorResponse(err, c.get('log') ?? log, c.get('requestId')));
  app.notFound((c) =>
    errorResponse(
      new NotFoundError(
        'No such endpoint; see DESIGN.md "Protocol v1" (POST /v1/apps/:app/push|pull|snapshot|cursor).',
      ),
      c.get('log') ?? log,
      c.get('requestId'),
    ),
  );
  app.get('/metrics', metricsEndpoint(engine.metrics, engine.authRequired, options.metricsToken));
  app.use('/v1/apps/:app/:kind', countRequests(engine.metrics));
  // Every answer of the sync endpoints says which request encodings are inflated, so a client
  // compresses its pushes only to a server that reads them.
  app.use('/v1/apps/:app/:kind', async (c, next) => {
    await next();
    c.res.headers.set(ACCEPTS_ENCODING_HEADER, ACCEPTED_ENCODINGS);
  });
  if (options.compress !== false) app.use('/v1/apps/:app/:kind', compressAnswers());

  app.get('/v1/health', (c) =>
    c.json({ ok: !engine.closing, protocolVersion: PROTOCOL_VERSION }, engine.closing ? 503 : 200),
  );

  app.get('/v1/apps/:app/live', () => {
    throw new ProtocolError(
      'GET /v1/apps/:app/live is a WebSocket endpoint: open it with a WebSocket (served by createServer on Node).',
    );
  });

  // Before the sync kinds: it takes the admin token, not a user's.
  app.post('/v1/apps/:app/explain', explainEndpoint(engine, options.adminToken));

  app.post('/v1/apps/:app/:kind', async (c) => {
    const appName = c.req.param('app');
    const kind = c.req.param('kind');
    checkProtocol(c.req.header(PROTOCOL_HEADER));
    const auth = await engine.authenticate(appName, bearerToken(c.req.header('authorization')));
    const incoming = (c.env as { incoming?: NodeIncoming } | undefined)?.incoming;
    // Rate limits are per app and caller: the token's subject, else the peer address (on Node).
    const caller = () =>
      auth.userId !== undefined
        ? `${appName}\u0000user\u0000${auth.userId}`
        : `${appName}\u0000addr\u0000${incoming?.socket?.remoteAddress ?? ''}`;
    // The body's byte size is known from reading it: the decoder need not count it again.
    const body = async (): Promise<unknown> => {
      const { text, bytes } = await readBody(c.req.raw, limits.maxBytes, incoming, kind);
      const value = parseMessageText(text, limits, bytes);
      checkExactJson(text, value);
      return value;
    };
    switch (kind) {
      case 'push': {
        const { text, bytes } = await readBody(c.req.raw, limits.maxBytes, incoming, kind);
        const req = decodePushText(text, limits, bytes);
        // Lone surrogates and numbers a double cannot hold are refused before anything applies.
        checkExactJson(text, req);
        // Charged to the pushing client (its idempotency identity); refused before anything applies.
        rateLimiter.check('push', `${appName}\u0000client\u0000${req.clientId}`);
        return c.json(await engine.push(appName, auth, req));
      }
      case 'pull':
        rateLimiter.check('pull', caller());
        return c.json(
          await engine.pull(appName, auth, decodeMessage(pullRequestSchema, await body(), 'pull request')),
        );
      case 'snapshot':
        rateLimiter.check('snapshot', caller());
        return c.json(
          await engine.snapshot(
            appName,
            auth,
            decodeMessage(snapshotRequestSchema, await body(), 'snapshot request'),
          ),
        );
      case 'cursor':
        rateLimiter.check('pull', caller());
        return c.json(
          await engine.updateCursor(
            appName,
            auth,
            decodeMessage(cursorRequestSchema, await body(), 'cursor request'),
          ),
        );
      default:
        throw new UnknownMessageError(
          `Unknown message kind ${JSON.stringify(kind.slice(0, 64))}; protocol v1 has push, pull, snapshot and cursor.`,
        );
    }
  });

  return {
    engine,
    fetch: async (request, env) => {
      try {
        return await app.fetch(request, env);
      } catch (err) {
        return errorResponse(err, log);
      }
    },
    close: () => (owned ? engine.close() : Promise.resolve()),
  };
}

/**
 * The client's protocol version (the `OmniSync-Protocol` header; absent: version 1). A newer
 * one than this server speaks is refused before anything is read or applied: its requests
 * may mean what this server would misread (see PROTOCOL_HISTORY).
 */
function checkProtocol(header: string | undefined): void {
  if (header === undefined) return;
  const version = /^[0-9]{1,6}$/.test(header.trim()) ? Number(header.trim()) : Number.NaN;
  if (!(version >= 1))
    throw new ProtocolError(
      `The ${PROTOCOL_HEADER} header must be a protocol version (a positive integer), got ${JSON.stringify(header.slice(0, 32))}.`,
      { details: { header: PROTOCOL_HEADER } },
    );
  if (version > PROTOCOL_VERSION)
    throw new ProtocolError(
      `This client speaks sync protocol v${version}; this server speaks v${PROTOCOL_VERSION}. Upgrade the server first (servers read older clients, not newer ones).`,
      { details: { clientVersion: version, serverVersion: PROTOCOL_VERSION } },
    );
}
