/**
 * Every protocol v1 message schema by name: what the fixtures test decodes against, and a
 * door for tools (docs, other-language clients) that want the whole set.
 */
import {
  cursorRequestSchema,
  cursorResponseSchema,
  pullRequestSchema,
  pullResponseSchema,
  pushRequestSchema,
  pushResponseSchema,
  snapshotRequestSchema,
  snapshotResponseSchema,
} from './http-messages.js';
import { liveClientMessageSchema, liveServerMessageSchema } from './live-messages.js';
import { wireErrorSchema } from './wire-schemas.js';

/** The message schemas of protocol v1, by name. */
export const PROTOCOL_SCHEMAS = {
  pushRequest: pushRequestSchema,
  pushResponse: pushResponseSchema,
  pullRequest: pullRequestSchema,
  pullResponse: pullResponseSchema,
  snapshotRequest: snapshotRequestSchema,
  snapshotResponse: snapshotResponseSchema,
  cursorRequest: cursorRequestSchema,
  cursorResponse: cursorResponseSchema,
  liveClientMessage: liveClientMessageSchema,
  liveServerMessage: liveServerMessageSchema,
  error: wireErrorSchema,
} as const;

/** The name of a protocol message schema. */
export type ProtocolSchemaName = keyof typeof PROTOCOL_SCHEMAS;
