/**
 * `POST /v1/apps/:app/explain` (issue 13): the rules' explanation of one stored document for
 * a principal (see engine/explain.ts), behind the server's admin token:
 *
 *     POST /v1/apps/todo/explain
 *     Authorization: Bearer <adminToken>
 *     { "collection": "todos", "id": "t1", "principal": { "sub": "u1" } }
 *
 * Without `adminToken` configured it answers 404 `not_found` saying how to turn it on; no
 * or a wrong token: 401 `unauthorized`; a bad body: 400 `invalid_input` naming the field.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { checkExactJson, NotFoundError, parseMessageText, UnauthorizedError } from '@omnisync/core';
import type { Context } from 'hono';
import { bearerToken } from '../engine/auth.js';
import { checkExplainRequest } from '../engine/explain.js';
import type { SyncEngine } from '../engine/sync-engine.js';
import type { ObservedEnv } from '../observability/http-observe.js';
import { type NodeIncoming, readBody } from './read-body.js';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** The explain endpoint's handler for `engine`, guarded by `adminToken`. */
export function explainEndpoint(
  engine: SyncEngine,
  adminToken: string | undefined,
): (c: Context<ObservedEnv>) => Promise<Response> {
  const expected = adminToken === undefined || adminToken === '' ? undefined : digest(adminToken);
  return async (c) => {
    if (expected === undefined)
      throw new NotFoundError(
        'Explain is off on this server: start it with --admin-token <token> (env OMNISYNC_ADMIN_TOKEN, or createServer({ adminToken })), then POST here with Authorization: Bearer <token>.',
        { details: { enable: 'adminToken' } },
      );
    const token = bearerToken(c.req.header('authorization'));
    if (token === undefined)
      throw new UnauthorizedError(
        'POST /v1/apps/:app/explain needs the admin token: send Authorization: Bearer <adminToken>.',
      );
    if (!timingSafeEqual(digest(token), expected))
      throw new UnauthorizedError("That is not this server's admin token (--admin-token / adminToken).");
    const app = c.req.param('app')!;
    engine.checkApp(app);
    const incoming = (c.env as { incoming?: NodeIncoming } | undefined)?.incoming;
    const { text, bytes } = await readBody(c.req.raw, engine.limits.maxBytes, incoming, 'explain');
    const value = parseMessageText(text, engine.limits, bytes);
    checkExactJson(text, value);
    return c.json(await engine.explain(checkExplainRequest(app, value)));
  };
}
