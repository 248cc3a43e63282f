/**
 * Rooms (seed 003): in-memory, per app, lost on restart by design. A member is a user (the
 * token's `sub`, else the hello's clientId, else the connection id); one user may be in a
 * room from several connections and has one presence state there. Events are
 * fire-and-forget broadcasts stamped with the server's HLC so clients can order them.
 * With permission rules, `$rooms.join` decides who may join and `$rooms.event` who may send
 * an event (default deny once rules exist); presence needs only membership.
 */
import { type JsonValue, PermissionDeniedError, type Principal, type RulesEvaluator } from '@omnisync/core';

/** What a room needs from a connection. */
export interface RoomPeer {
  /** Send an encoded server message (subject to slow-consumer limits). */
  sendRaw(message: Buffer): void;
}

interface Member {
  state: JsonValue | undefined;
  readonly peers: Set<RoomPeer>;
}

const encode = (m: unknown) => Buffer.from(JSON.stringify(m));

/** The rooms of one app. */
export class Rooms {
  readonly #rooms = new Map<string, Map<string, Member>>();

  /** Number of rooms with at least one member. */
  get size(): number {
    return this.#rooms.size;
  }

  /** Members of a room and their presence. */
  members(room: string): { user: string; state?: JsonValue }[] {
    const r = this.#rooms.get(room);
    if (!r) return [];
    return [...r].map(([user, m]) => (m.state === undefined ? { user } : { user, state: m.state }));
  }

  /** True when `peer` is in `room` as `user`. */
  has(room: string, user: string, peer: RoomPeer): boolean {
    return this.#rooms.get(room)?.get(user)?.peers.has(peer) ?? false;
  }

  /** Add a peer; tells the others when the user is new or brings a presence state. */
  join(room: string, user: string, peer: RoomPeer, presence: JsonValue | undefined): void {
    let r = this.#rooms.get(room);
    if (!r) this.#rooms.set(room, (r = new Map()));
    let m = r.get(user);
    const isNew = !m;
    if (!m) r.set(user, (m = { state: undefined, peers: new Set() }));
    m.peers.add(peer);
    if (presence !== undefined) m.state = presence;
    if (isNew || presence !== undefined)
      this.#broadcast(r, peer, { type: 'presence', room, user, state: m.state ?? null });
  }

  /** Set a user's presence; tells the other peers. */
  setPresence(room: string, user: string, peer: RoomPeer, state: JsonValue): void {
    const r = this.#rooms.get(room);
    const m = r?.get(user);
    if (!r || !m) return;
    m.state = state;
    this.#broadcast(r, peer, { type: 'presence', room, user, state });
  }

  /** Broadcast an event to every other peer of the room. */
  event(
    room: string,
    from: string,
    peer: RoomPeer,
    name: string,
    payload: JsonValue | undefined,
    hlc: string,
  ): void {
    const r = this.#rooms.get(room);
    if (!r) return;
    this.#broadcast(
      r,
      peer,
      payload === undefined
        ? { type: 'event', room, from, name, hlc }
        : { type: 'event', room, from, name, payload, hlc },
    );
  }

  /** Remove a peer; when the user has no peer left, tells the others (`state: null`). */
  leave(room: string, user: string, peer: RoomPeer): void {
    const r = this.#rooms.get(room);
    const m = r?.get(user);
    if (!r || !m || !m.peers.delete(peer)) return;
    if (m.peers.size === 0) {
      r.delete(user);
      this.#broadcast(r, peer, { type: 'presence', room, user, state: null, left: true });
    }
    if (r.size === 0) this.#rooms.delete(room);
  }

  #broadcast(r: Map<string, Member>, except: RoomPeer, message: unknown) {
    let buf: Buffer | undefined;
    for (const m of r.values())
      for (const p of m.peers) {
        if (p === except) continue;
        p.sendRaw((buf ??= encode(message)));
      }
  }
}

/**
 * Throw {@link PermissionDeniedError} when the rules (`$rooms`) do not let `principal` join
 * `room` (no `event`) or send `event` to it. No rules: allowed. Rules without a `$rooms` rule
 * for the operation: denied by default, like a collection without rules.
 */
export function assertRoomAllowed(
  rules: RulesEvaluator | undefined,
  principal: Principal,
  room: string,
  event?: string,
): void {
  if (!rules) return;
  const operation = event === undefined ? 'join' : 'event';
  const check = rules.rules.rooms?.[operation];
  let allowed: boolean;
  let clause: string;
  if (check === undefined) {
    allowed = false;
    clause = 'no rule';
  } else if (typeof check === 'boolean') {
    allowed = check;
    clause = `constant ${check}`;
  } else {
    allowed =
      event === undefined
        ? (check as (p: Principal, r: string) => boolean)(principal, room) === true
        : (check as (p: Principal, r: string, e: string) => boolean)(principal, room, event) === true;
    clause = `function ${allowed ? 'returned true' : 'did not return true'}`;
  }
  if (allowed) return;
  const what =
    event === undefined
      ? `join room ${JSON.stringify(room)}`
      : `send event ${JSON.stringify(event)} to room ${JSON.stringify(room)}`;
  throw new PermissionDeniedError(
    `Permission denied: you may not ${what} ($rooms.${operation}: ${check === undefined ? 'no rule, denied by default' : clause}). Check the rules or the caller's claims.`,
    {
      details: {
        room,
        ...(event !== undefined ? { event } : {}),
        operation,
        rule: check === undefined ? 'default' : `$rooms.${operation}`,
        clause,
      },
    },
  );
}
