/**
 * The HTTP side of observability, as Hono middleware the handler mounts: the request id of
 * every request (header, logs, error bodies), request counters and push → ack time, and the
 * `GET /metrics` endpoint behind its token.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { ForbiddenError, NotFoundError, toOmniSyncError, UnauthorizedError } from '@omnisync/core';
import type { Context, MiddlewareHandler } from 'hono';
import { bearerToken } from '../engine/auth.js';
import { type Logger, logsRequestId } from '../util/logger.js';
import type { RequestKind, ServerMetrics } from './metrics.js';
import { REQUEST_ID_HEADER, requestIdFrom, runInRequest } from './request-context.js';

/** Variables the observability middleware puts on a Hono context. */
export interface ObservedVariables {
  /** This request's id. */
  requestId: string;
  /** The logger of this request (its lines carry `requestId`). */
  log: Logger;
}

/** Hono environment of the sync handler. */
export interface ObservedEnv {
  Variables: ObservedVariables;
}

/**
 * Give every request an id (the incoming `x-request-id` or a new one), answer it in the
 * `x-request-id` header, and run the request with it as the current one so every log line
 * written meanwhile carries it. Each request is logged at debug level when it ends.
 */
export function requestIds(log: Logger): MiddlewareHandler<ObservedEnv> {
  const own = logsRequestId(log);
  return async (c, next) => {
    const requestId = requestIdFrom(c.req.header(REQUEST_ID_HEADER));
    c.set('requestId', requestId);
    // The server's logger adds the id itself (mixin); a logger the app gave us gets a child.
    const reqLog = own ? log : log.child({ requestId });
    c.set('log', reqLog);
    const t0 = performance.now();
    await runInRequest({ requestId }, async () => {
      await next();
      if (reqLog.isLevelEnabled('debug'))
        reqLog.debug(
          {
            method: c.req.method,
            path: c.req.path,
            status: c.res.status,
            ms: Math.round((performance.now() - t0) * 100) / 100,
          },
          'request',
        );
    });
    c.res.headers.set(REQUEST_ID_HEADER, requestId);
  };
}

const KINDS: ReadonlySet<string> = new Set<RequestKind>(['push', 'pull', 'snapshot', 'cursor']);

/** Count each request to `/v1/apps/:app/:kind` by its result code; time pushes to their answer. */
export function countRequests(metrics: ServerMetrics): MiddlewareHandler<ObservedEnv> {
  return async (c, next) => {
    const kind = c.req.param('kind');
    if (!metrics.enabled || kind === undefined || !KINDS.has(kind)) return next();
    const t0 = performance.now();
    await next();
    const code = c.error === undefined ? 'ok' : toOmniSyncError(c.error).code;
    metrics.request(kind as RequestKind, 'http', code);
    if (kind === 'push' && code === 'ok') metrics.acked('http', (performance.now() - t0) / 1000);
  };
}

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * `GET /metrics` (Prometheus text). With auth on it needs `Authorization: Bearer <metricsToken>`:
 * none is 401, a wrong one (or no metricsToken configured) 403. A configured token is always
 * required, even with auth off. Metrics off: 404.
 */
export function metricsEndpoint(
  metrics: ServerMetrics,
  authRequired: boolean,
  metricsToken: string | undefined,
): (c: Context<ObservedEnv>) => Promise<Response> {
  const expected = metricsToken === undefined ? undefined : digest(metricsToken);
  return async (c) => {
    if (!metrics.enabled)
      throw new NotFoundError('Metrics are off on this server (metrics: false); turn them on to scrape.');
    if (authRequired || expected) {
      const token = bearerToken(c.req.header('authorization'));
      if (token === undefined)
        throw new UnauthorizedError(
          'GET /metrics needs the metrics token: send Authorization: Bearer <metricsToken>.',
        );
      if (expected === undefined)
        throw new ForbiddenError(
          'This server has auth on and no metrics token: start it with --metrics-token (metricsToken) to scrape /metrics.',
        );
      if (!timingSafeEqual(digest(token), expected))
        throw new ForbiddenError('That is not the metrics token of this server (--metrics-token).');
    }
    const { contentType, body } = await metrics.render();
    return c.body(body, 200, { 'content-type': contentType, 'cache-control': 'no-store' });
  };
}
