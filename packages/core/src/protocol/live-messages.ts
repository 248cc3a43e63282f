/**
 * WebSocket messages of protocol v1 (`GET /v1/apps/:app/live`), a tagged union on `type`
 * in each direction. The first client message must be `hello` (with the token when the
 * server requires auth); anything else before it is refused with `unauthorized`.
 *
 *     client                               server
 *     hello {cursor, token}        ──▶
 *                                  ◀──     welcome {cursor, connectionId}
 *     subscribe {queryId, query, cursor?} ▶
 *                                  ◀──     changes {queryId, cells, cursor} … (catch-up)
 *                                  ◀──     subscribed {queryId, cursor}    (or reset {queryId})
 *                                  ◀──     changes {cells, cursor}  (live, targeted) / poke {cursor}
 *     push {requestId, clientId, mutations} ▶
 *                                  ◀──     ack {requestId, results, cursor}
 *     ping ──▶ ◀── pong;  join/leave/presence/event ⇄ room/presence/event
 */
import * as z from 'zod/mini';
import {
  cellSchema,
  clientIdSchema,
  cursorSchema,
  evictedSchema,
  jsonValueSchema,
  mutationResultSchema,
  mutationSchema,
  querySchema,
  schemaVersionSchema,
  wireErrorBodySchema,
} from './wire-schemas.js';
import { PUSH_MUTATIONS_MAX } from './limits.js';

export { LIVE_CLOSE_CODES } from './close-codes.js';

const queryIdSchema = z.string().check(z.minLength(1), z.maxLength(128));
const roomSchema = z.string().check(z.minLength(1), z.maxLength(256));
const requestIdSchema = z.string().check(z.minLength(1), z.maxLength(128));

/** First message: authenticate and say where the client is. */
export const helloMessageSchema = z.object({
  type: z.literal('hello'),
  protocolVersion: z.optional(z.int().check(z.positive())),
  token: z.optional(z.string().check(z.maxLength(16_384))),
  cursor: z.optional(cursorSchema),
  clientId: z.optional(clientIdSchema),
  /** `changes` (default): the server sends matching cells; `poke`: only `{type:'poke', cursor}`, the client pulls. */
  mode: z.optional(z.enum(['changes', 'poke'])),
});
/** Start receiving a query's changes; with `cursor`, first the catch-up since it, else a snapshot of the query. */
export const subscribeMessageSchema = z.object({
  type: z.literal('subscribe'),
  queryId: queryIdSchema,
  query: querySchema,
  cursor: z.optional(cursorSchema),
});
export const unsubscribeMessageSchema = z.object({ type: z.literal('unsubscribe'), queryId: queryIdSchema });
/** A push riding the socket; answered by `ack` with the same requestId. */
export const pushMessageSchema = z.object({
  type: z.literal('push'),
  requestId: requestIdSchema,
  clientId: clientIdSchema,
  mutations: z.array(mutationSchema).check(z.maxLength(PUSH_MUTATIONS_MAX)),
  schemaVersion: z.optional(schemaVersionSchema),
});
export const pingMessageSchema = z.object({
  type: z.literal('ping'),
  id: z.optional(z.string().check(z.maxLength(128))),
});
export const joinMessageSchema = z.object({
  type: z.literal('join'),
  room: roomSchema,
  presence: z.optional(jsonValueSchema),
});
export const leaveMessageSchema = z.object({ type: z.literal('leave'), room: roomSchema });
/** Set this user's presence in a room (null clears it); broadcast to the other members. */
export const presenceMessageSchema = z.object({
  type: z.literal('presence'),
  room: roomSchema,
  state: jsonValueSchema,
});
/** A fire-and-forget event to the other members of a room; the server stamps it with an HLC. */
export const eventMessageSchema = z.object({
  type: z.literal('event'),
  room: roomSchema,
  name: z.string().check(z.minLength(1), z.maxLength(256)),
  payload: z.optional(jsonValueSchema),
});

const liveClientMessages = [
  helloMessageSchema,
  subscribeMessageSchema,
  unsubscribeMessageSchema,
  pushMessageSchema,
  pingMessageSchema,
  joinMessageSchema,
  leaveMessageSchema,
  presenceMessageSchema,
  eventMessageSchema,
] as const;
/** Every message a client may send. */
export const liveClientMessageSchema = z.discriminatedUnion('type', liveClientMessages);
export type LiveClientMessage = z.infer<typeof liveClientMessageSchema>;
/** The `type`s a client may send. */
export const LIVE_CLIENT_MESSAGE_TYPES = liveClientMessages.map((o) => o.shape.type.def.values[0]!);

/** Answer to hello: the server's current cursor. */
export const welcomeMessageSchema = z.object({
  type: z.literal('welcome'),
  protocolVersion: z.int().check(z.positive()),
  connectionId: z.string(),
  cursor: cursorSchema,
});
/** Cells for this connection. With `queryId`: catch-up of that subscription; without: live. */
export const changesMessageSchema = z.object({
  type: z.literal('changes'),
  queryId: z.optional(queryIdSchema),
  cells: z.array(cellSchema),
  cursor: cursorSchema,
  /** Documents this connection could read and may no longer (rules): forget them. */
  evicted: evictedSchema,
});
/** A subscription's catch-up is complete up to `cursor`; live changes follow. */
export const subscribedMessageSchema = z.object({
  type: z.literal('subscribed'),
  queryId: queryIdSchema,
  cursor: cursorSchema,
});
/** The subscribe cursor is older than the compaction horizon: snapshot (or subscribe without cursor). */
export const resetMessageSchema = z.object({
  type: z.literal('reset'),
  queryId: queryIdSchema,
  cursor: cursorSchema,
});
/** Something matching changed at `cursor`: pull (poke mode). */
export const pokeMessageSchema = z.object({ type: z.literal('poke'), cursor: cursorSchema });
export const pongMessageSchema = z.object({
  type: z.literal('pong'),
  id: z.optional(z.string().check(z.maxLength(128))),
});
export const ackMessageSchema = z.object({
  type: z.literal('ack'),
  requestId: requestIdSchema,
  results: z.array(mutationResultSchema),
  cursor: cursorSchema,
});
const memberSchema = z.object({ user: z.string(), state: z.optional(jsonValueSchema) });
/** Answer to join: the room's members and their presence; `user` is the joiner's own member id. */
export const roomMessageSchema = z.object({
  type: z.literal('room'),
  room: roomSchema,
  user: z.optional(z.string()),
  members: z.array(memberSchema),
});
/**
 * Another member's presence changed (`state` null: none). `left: true`: the member left (its
 * last connection closed or left); servers before it sent `state: null` only.
 */
export const presenceUpdateMessageSchema = z.object({
  type: z.literal('presence'),
  room: roomSchema,
  user: z.string(),
  state: jsonValueSchema,
  left: z.optional(z.boolean()),
});
export const roomEventMessageSchema = z.object({
  type: z.literal('event'),
  room: roomSchema,
  from: z.string(),
  name: z.string(),
  payload: z.optional(jsonValueSchema),
  hlc: z.string(),
});
/** A refused message (the connection stays open unless a close follows). */
export const errorMessageSchema = z.object({
  type: z.literal('error'),
  requestId: z.optional(requestIdSchema),
  error: wireErrorBodySchema,
});

/** Every message the server may send. */
export const liveServerMessageSchema = z.discriminatedUnion('type', [
  welcomeMessageSchema,
  changesMessageSchema,
  subscribedMessageSchema,
  resetMessageSchema,
  pokeMessageSchema,
  pongMessageSchema,
  ackMessageSchema,
  roomMessageSchema,
  presenceUpdateMessageSchema,
  roomEventMessageSchema,
  errorMessageSchema,
]);
export type LiveServerMessage = z.infer<typeof liveServerMessageSchema>;
