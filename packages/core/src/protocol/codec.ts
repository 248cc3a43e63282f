/**
 * Decoding and encoding protocol messages. Decoding validates with the message's schema and
 * turns a failure into the typed error a peer should see: the cell's own error
 * (invalid_cell, invalid_value) when a cell is bad, `unknown_message` for a `type` nobody
 * knows, `protocol_invalid` otherwise, naming the path and what was expected.
 */
import type { z } from 'zod';
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

/** Turn a zod failure into the typed error of its first typed cause, or a ProtocolError. */
function toProtocolError(error: z.ZodError, what: string): OmniSyncError {
  for (const issue of error.issues) {
    const typed = (issue as { params?: Record<string, unknown> }).params?.[TYPED_ERROR_PARAM];
    if (typed instanceof OmniSyncError) {
      const at = formatPath(issue.path);
      const Cls = typed.constructor as new (m: string, o: object) => OmniSyncError;
      return new Cls(`${what} ${at}: ${typed.message}`, { details: { ...typed.details, path: at } });
    }
  }
  const shown = error.issues.slice(0, ISSUES_SHOWN).map((i) => `${formatPath(i.path)}: ${i.message}`);
  const more = error.issues.length > ISSUES_SHOWN ? ` (and ${error.issues.length - ISSUES_SHOWN} more)` : '';
  return new ProtocolError(
    `Invalid ${what}: ${shown.join('; ')}${more}. See the protocol message shapes (DESIGN.md, packages/core/src/protocol).`,
    {
      details: {
        issues: error.issues
          .slice(0, ISSUES_SHOWN)
          .map((i) => ({ path: formatPath(i.path), message: i.message })),
      },
    },
  );
}

/**
 * Validate a decoded JSON value against a message schema; throws the typed error on failure.
 * @example
 * const req = decodeMessage(pushRequestSchema, JSON.parse(body), 'push request');
 */
export function decodeMessage<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw toProtocolError(r.error, what);
  return r.data;
}

/** Parse text (with size and depth limits) and validate it against a schema. */
export function decodeMessageText<S extends z.ZodType>(
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
