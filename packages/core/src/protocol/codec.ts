/**
 * Decoding and encoding protocol messages. Decoding validates with the message's schema and
 * turns a failure into the typed error a peer should see: the cell's own error
 * (invalid_cell, invalid_value) when a cell is bad, `unknown_message` for a `type` nobody
 * knows, `protocol_invalid` otherwise, naming the path and what was expected.
 */
import type * as z from 'zod/mini';
import { OmniSyncError, ProtocolError, UnknownMessageError } from '../errors.js';
import { type MessageLimits, parseMessageText } from './json-text.js';
import { PROTOCOL_VERSION } from './version.js';
import {
  LIVE_CLIENT_MESSAGE_TYPES,
  type LiveClientMessage,
  liveClientMessageSchema,
} from './live-messages.js';
import { TYPED_ERROR_PARAM } from './wire-schemas.js';

const ISSUES_SHOWN = 3;

const formatPath = (path: readonly PropertyKey[]): string =>
  path.length === 0
    ? '(message)'
    : path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`)).join('');

const kind = (v: unknown): string =>
  v === null
    ? 'null'
    : Array.isArray(v)
      ? 'array'
      : typeof v === 'number' && !Number.isFinite(v)
        ? String(v)
        : typeof v;
const sizeUnit = (origin: unknown): string =>
  origin === 'string' ? ' characters' : origin === 'array' ? ' items' : origin === 'object' ? ' keys' : '';

/**
 * What an issue means, in words (zod/mini carries no locale: the protocol names its own
 * expectations, so the client bundle does not pay for zod's message tables).
 */
export function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.message && issue.message !== 'Invalid input') return issue.message;
  const i = issue as z.core.$ZodIssue & Record<string, unknown>;
  switch (issue.code) {
    case 'invalid_type':
      return `expected ${String(i.expected)}, received ${kind(i.input)}`;
    case 'too_small':
      return `expected ${sizeUnit(i.origin) ? 'at least ' : i.inclusive ? '>= ' : '> '}${String(i.minimum)}${sizeUnit(i.origin)}`;
    case 'too_big':
      return `expected ${sizeUnit(i.origin) ? 'at most ' : i.inclusive ? '<= ' : '< '}${String(i.maximum)}${sizeUnit(i.origin)}`;
    case 'invalid_value':
      return `expected one of ${(i.values as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_union':
      return i.discriminator !== undefined
        ? `unknown ${String(i.discriminator)} value`
        : 'matches none of the allowed shapes';
    case 'unrecognized_keys':
      return `unexpected keys ${(i.keys as string[]).join(', ')}`;
    default:
      return issue.message || 'invalid value';
  }
}

/** Turn a zod failure into the typed error of its first typed cause, or a ProtocolError. */
function toProtocolError(error: z.core.$ZodError, what: string): OmniSyncError {
  for (const issue of error.issues) {
    const typed = (issue as { params?: Record<string, unknown> }).params?.[TYPED_ERROR_PARAM];
    if (typed instanceof OmniSyncError) {
      const at = formatPath(issue.path);
      const Cls = typed.constructor as new (m: string, o: object) => OmniSyncError;
      return new Cls(`${what} ${at}: ${typed.message}`, { details: { ...typed.details, path: at } });
    }
  }
  const shown = error.issues.slice(0, ISSUES_SHOWN).map((i) => `${formatPath(i.path)}: ${describeIssue(i)}`);
  const more = error.issues.length > ISSUES_SHOWN ? ` (and ${error.issues.length - ISSUES_SHOWN} more)` : '';
  return new ProtocolError(
    `Invalid ${what}: ${shown.join('; ')}${more}. See the protocol message shapes (DESIGN.md, packages/core/src/protocol).`,
    {
      details: {
        issues: error.issues
          .slice(0, ISSUES_SHOWN)
          .map((i) => ({ path: formatPath(i.path), message: describeIssue(i) })),
      },
    },
  );
}

/**
 * Validate a decoded JSON value against a message schema; throws the typed error on failure.
 * @example
 * const req = decodeMessage(pushRequestSchema, JSON.parse(body), 'push request');
 */
export function decodeMessage<S extends z.ZodMiniType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value, { reportInput: true });
  if (!r.success) throw toProtocolError(r.error, what);
  return r.data;
}

/** Parse text (with size and depth limits) and validate it against a schema. */
export function decodeMessageText<S extends z.ZodMiniType>(
  schema: S,
  text: string,
  what: string,
  limits?: MessageLimits,
): z.output<S> {
  return decodeMessage(schema, parseMessageText(text, limits), what);
}

const KNOWN_CLIENT_TYPES: ReadonlySet<string> = new Set(LIVE_CLIENT_MESSAGE_TYPES);

/**
 * Decode a client's WebSocket message. An unknown `type` throws {@link UnknownMessageError}
 * (the connection stays usable); a malformed known message throws the schema's error.
 */
export function decodeLiveClientMessage(value: unknown): LiveClientMessage {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new ProtocolError('A live message must be a JSON object with a string "type".');
  const type = (value as { type?: unknown }).type;
  if (typeof type !== 'string' || !KNOWN_CLIENT_TYPES.has(type)) {
    throw new UnknownMessageError(
      `Unknown live message type ${JSON.stringify(type)?.slice(0, 64) ?? 'undefined'}; this server (protocol v${PROTOCOL_VERSION}) accepts ${[...KNOWN_CLIENT_TYPES].join(', ')}.`,
      { details: { known: [...KNOWN_CLIENT_TYPES] } },
    );
  }
  return decodeMessage(liveClientMessageSchema, value, `${type} message`);
}

/** Encode a message for the wire (JSON; a missing `value` stays missing = unset). */
export function encodeMessage(message: unknown): string {
  return JSON.stringify(message);
}
