/**
 * A Fetch-API endpoint for a {@link SqlRunner}: `POST` a JSON body as `SQLBinding` sends it
 * (`{ sql, params }` → `{ rows }`, `{ statements }` → `{ ok, changes }`); refusals answer
 * `{ error: { code, message } }` with the code's status (`sql_refused` is 400). Mount it
 * under any router (hono: `app.post('/api/sql-runner', (c) => handler(c.req.raw))`).
 */
import { PayloadTooLargeError, ProtocolError } from '@omnisync/core';
import { errorResponse } from '../http/handler.js';
import { createLogger, type Logger } from '../util/logger.js';
import type { SqlRunner } from './runner.js';

/** Options of {@link sqlRunnerHandler}. */
export interface SqlRunnerHandlerOptions {
  /** Largest request body in bytes (default 1 MiB). */
  readonly maxBodyBytes?: number;
  /** Where failures are logged (default: the server's pino logger at warn level). */
  readonly logger?: Logger;
}

/**
 * The runner as a `(request) => Promise<Response>` endpoint.
 * @example
 * const handle = sqlRunnerHandler(createSqlRunner({ db, allow: { todos: ['id', 'title'] } }));
 * http.createServer(toNodeListener(handle)) // or hono, or any Fetch-API server
 */
export function sqlRunnerHandler(
  runner: SqlRunner,
  options: SqlRunnerHandlerOptions = {},
): (request: Request) => Promise<Response> {
  const max = options.maxBodyBytes ?? 1 << 20;
  const log = options.logger ?? createLogger('warn');
  return async (request) => {
    try {
      if (request.method !== 'POST')
        throw new ProtocolError('The SQL runner takes POST requests with a JSON body.');
      const length = Number(request.headers.get('content-length') ?? 0);
      if (length > max)
        throw new PayloadTooLargeError(`The body is over ${max} bytes; send fewer statements per request.`);
      const text = await request.text();
      if (Buffer.byteLength(text) > max)
        throw new PayloadTooLargeError(`The body is over ${max} bytes; send fewer statements per request.`);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        throw new ProtocolError('The body is not JSON: send { sql, params } or { statements }.');
      }
      const result = await runner.run(body);
      return new Response(JSON.stringify(result), {
        headers: { 'content-type': 'application/json; charset=utf-8' },
      });
    } catch (err) {
      return errorResponse(err, log);
    }
  };
}
