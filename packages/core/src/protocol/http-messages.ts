/**
 * HTTP messages of protocol v1, one schema each (bodies of `POST /v1/apps/:app/<kind>`).
 * Requests are validated on arrival; responses are what the server sends back.
 */
import * as z from 'zod/mini';
import {
  cellSchema,
  clientIdSchema,
  cursorSchema,
  evictedSchema,
  mutationResultSchema,
  mutationSchema,
  queriesSchema,
  schemaVersionSchema,
} from './wire-schemas.js';

import { PUSH_MUTATIONS_MAX, PULL_LIMIT_MAX } from './limits.js';
export { PUSH_MUTATIONS_MAX, PULL_LIMIT_DEFAULT, PULL_LIMIT_MAX } from './limits.js';

/** `POST push`: apply mutations; idempotent by (clientId, mutation id). */
export const pushRequestSchema = z.object({
  clientId: clientIdSchema,
  mutations: z.array(mutationSchema).check(z.maxLength(PUSH_MUTATIONS_MAX)),
  /** The schema version the client writes (optional; see defineSchemaVersions). */
  schemaVersion: z.optional(schemaVersionSchema),
});
export type PushRequest = z.infer<typeof pushRequestSchema>;

/** Answer to a push: one result per mutation in order, and the version they are visible at. */
export const pushResponseSchema = z.object({
  results: z.array(mutationResultSchema),
  cursor: cursorSchema,
});
export type PushResponse = z.infer<typeof pushResponseSchema>;

/** `POST pull`: changes after `cursor` that concern `queries` (all when absent), one page. */
export const pullRequestSchema = z.object({
  cursor: cursorSchema,
  queries: z.optional(queriesSchema),
  /** Change-log entries (document changes) to scan in this page; default 1000, at most 10 000. */
  limit: z.optional(z.int().check(z.minimum(1), z.maximum(PULL_LIMIT_MAX))),
});
export type PullRequest = z.infer<typeof pullRequestSchema>;

/** One page of changes; pull again from `cursor` while `hasMore`. */
export const pullChangesSchema = z.object({
  changes: z.array(cellSchema),
  cursor: cursorSchema,
  hasMore: z.boolean(),
  /** Documents the caller could read at its cursor and may no longer (rules): forget them. */
  evicted: evictedSchema,
});
/** The cursor is older than the compaction horizon: snapshot, then replay the outbox. */
export const pullResetSchema = z.object({ reset: z.literal(true), cursor: cursorSchema });
export const pullResponseSchema = z.union([pullChangesSchema, pullResetSchema]);
export type PullResponse = z.infer<typeof pullResponseSchema>;

/** `POST snapshot`: every live cell of the documents matching `queries` (all when absent). */
export const snapshotRequestSchema = z.object({ queries: z.optional(queriesSchema) });
export type SnapshotRequest = z.infer<typeof snapshotRequestSchema>;
export const snapshotResponseSchema = z.object({ cells: z.array(cellSchema), cursor: cursorSchema });
export type SnapshotResponse = z.infer<typeof snapshotResponseSchema>;

/** `POST cursor` (seed 004 `updateCursor`): a device reports how far it has synced. */
export const cursorRequestSchema = z.object({ clientId: clientIdSchema, cursor: cursorSchema });
export type CursorRequest = z.infer<typeof cursorRequestSchema>;
export const cursorResponseSchema = z.object({ ok: z.literal(true) });
export type CursorResponse = z.infer<typeof cursorResponseSchema>;
