/**
 * The request id of each HTTP request: taken from an incoming `x-request-id` (when it is a
 * sane token) or generated, answered in the `x-request-id` header and in error bodies, and
 * added to every log line written while the request runs (an AsyncLocalStorage read by the
 * server logger's pino `mixin`, so lines from deep in the engine carry it too).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomId } from '@omnisync/core';

/** The header a request id travels in, both ways. */
export const REQUEST_ID_HEADER = 'x-request-id';

/** What is known about the request being served. */
export interface RequestContext {
  readonly requestId: string;
}

const storage = new AsyncLocalStorage<RequestContext>();
const SANE_ID = /^[A-Za-z0-9._:/+=-]{1,128}$/;

/** The incoming id when it is 1-128 printable token characters, else a fresh `req_…` one. */
export function requestIdFrom(header: string | null | undefined): string {
  return header && SANE_ID.test(header) ? header : `req_${randomId(undefined, 16)}`;
}

/** Run `fn` with `ctx` as the current request (for the logs written meanwhile). */
export function runInRequest<T>(ctx: RequestContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

/** The request being served, if any. */
export function currentRequest(): RequestContext | undefined {
  return storage.getStore();
}

/**
 * A pino `mixin` adding `requestId` to every line logged while a request runs. The server's
 * own logger uses it; pass it to a logger you give the server (`pino({ mixin: requestLogMixin })`)
 * to get the same.
 */
export function requestLogMixin(): { requestId?: string } {
  const ctx = storage.getStore();
  return ctx ? { requestId: ctx.requestId } : {};
}
