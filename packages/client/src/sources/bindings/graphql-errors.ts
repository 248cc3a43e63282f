/**
 * @internal A GraphQL answer's `data`, or a typed error: `errors` the server gave for the
 * request itself (a constraint, a permission, a bad field) fail at once
 * (`NonRetriableError`); errors the server marks as transient (Postgres connection,
 * serialization, resource and shutdown classes) and answers that are not GraphQL at all are
 * retried (`NetworkError`).
 */
import { NetworkError, NonRetriableError, type OmniSyncError } from '@omnisync/core';

interface GraphQLErrorJson {
  readonly message?: unknown;
  readonly extensions?: { readonly code?: unknown };
}

/** SQLSTATE classes that say "try again": 08 connection, 40 rollback (serialization, deadlock), 53 resources, 57P shutdown, 55P03 lock timeout. */
const TRANSIENT = /^(08|40|53|57P|55P03)/;

/** @internal The `data` of a GraphQL answer (over HTTP or graphql-ws), or the error to throw. */
export function graphqlData(body: unknown, endpoint: string): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new NetworkError(`${endpoint} answered something that is not a GraphQL result. Retrying.`, {
      details: { reason: 'invalid_answer' },
    });
  const b = body as { data?: unknown; errors?: unknown };
  if (b.errors !== undefined && b.errors !== null) throw errorsToError(b.errors, b.data, endpoint);
  if (b.data === undefined || b.data === null || typeof b.data !== 'object' || Array.isArray(b.data))
    throw new NetworkError(`${endpoint} answered without \`data\`. Retrying.`, {
      details: { reason: 'invalid_answer' },
    });
  return b.data as Record<string, unknown>;
}

function errorsToError(raw: unknown, data: unknown, endpoint: string): OmniSyncError {
  const errors: GraphQLErrorJson[] = Array.isArray(raw) ? (raw as GraphQLErrorJson[]) : [];
  if (errors.length === 0)
    return new NetworkError(`${endpoint} answered a malformed \`errors\` field. Retrying.`, {
      details: { reason: 'invalid_answer' },
    });
  const codes = errors.map((e) => (typeof e?.extensions?.code === 'string' ? e.extensions.code : undefined));
  const messages = errors.map((e) => (typeof e?.message === 'string' ? e.message : '?')).join('; ');
  // Root fields that did answer: a server that runs each mutation field in its own
  // transaction (PostGraphile) has applied those even though the document failed.
  const applied =
    data !== null && typeof data === 'object'
      ? Object.entries(data as Record<string, unknown>)
          .filter(([, v]) => v !== null && v !== undefined)
          .map(([k]) => k)
      : [];
  const details = {
    errors: errors.map((e, i) => ({ message: e?.message, code: codes[i] })),
    ...(applied.length > 0 ? { applied } : {}),
  };
  const also = applied.length > 0 ? ` (the server applied ${applied.join(', ')} before failing)` : '';
  if (codes.some((c) => c !== undefined && TRANSIENT.test(c)))
    return new NetworkError(`GraphQL server busy or unavailable: ${messages}${also}. Retrying.`, { details });
  return new NonRetriableError(`GraphQL error: ${messages}${also}`, { details });
}
