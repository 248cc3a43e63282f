/**
 * `client.room(name)` (seed 003): presence and fire-and-forget events among the clients in
 * a room of the app. In memory on the server, lost on its restart by design; a member is a
 * user (the token's `sub`, else the client id), so two tabs of one user are one member.
 *
 * Presence is signals: `presence.mine` (what this client shares) and `presence.others`
 * (everyone else in the room, with their state), kept current by the server's updates.
 * Events reach `on(name, handler)` in HLC order: the server stamps each one, and the events
 * that arrive together are handed over sorted by that stamp.
 */
import {
  batch,
  computed,
  InvalidStateError,
  type JsonValue,
  type OmniSyncError,
  type ReadonlySignal,
  type Signal,
  signal,
} from '@omnisync/core';
import type { RoomLink, RoomMembership, RoomServerMessage } from './room-link.js';

/** Where a room is. */
export type RoomStatus =
  /** Not joined (before `join()`, or after `leave()`). */
  | 'idle'
  /** Join sent (or waiting for the connection). */
  | 'joining'
  | 'joined'
  /** The connection dropped: joined again automatically once it is back. */
  | 'reconnecting'
  /** The server refused this client or room (`error` says why); `join()` again to retry. */
  | 'refused';

/** One member of a room and what it shares. */
export interface RoomMember<P extends JsonValue = JsonValue> {
  /** The member's id (the token's `sub`, else its client id). */
  readonly user: string;
  /** Its presence (undefined: it shares none). */
  readonly state: P | undefined;
}

/** An event another member broadcast. */
export interface RoomEvent<T extends JsonValue = JsonValue> {
  readonly name: string;
  readonly payload: T | undefined;
  /** The sender's member id. */
  readonly from: string;
  /** The server's HLC stamp: events are delivered in this order. */
  readonly hlc: string;
}

/** Presence in a room, as signals. */
export interface RoomPresence<P extends JsonValue = JsonValue> {
  /** What this client shares (undefined: nothing). */
  readonly mine: ReadonlySignal<P | undefined>;
  /** Every other member, in the order they joined. */
  readonly others: ReadonlySignal<readonly RoomMember<P>[]>;
  /** Share `state` (sent now if joined, else with the join). */
  set(state: P): void;
}

/** A room of the app (one instance per name and client). */
export interface Room<P extends JsonValue = JsonValue> {
  readonly name: string;
  readonly status: ReadonlySignal<RoomStatus>;
  /** Why the room is `refused` (or why the connection dropped, while `reconnecting`). */
  readonly error: ReadonlySignal<OmniSyncError | undefined>;
  /** This client's member id, once joined. */
  readonly user: ReadonlySignal<string | undefined>;
  readonly presence: RoomPresence<P>;
  /**
   * Join (with `presence` to share, if given). Resolves once the server answered with the
   * members; rejects (ForbiddenError, UnauthorizedError) when it refuses. Joining again is a no-op.
   */
  join(presence?: P): Promise<void>;
  /** Leave: the others see this member go; events stop. */
  leave(): void;
  /**
   * Send an event to the other members (not back to this client). Fire-and-forget: returns
   * false when the connection is down (nothing is queued). Throws InvalidStateError unless joined.
   */
  broadcast(name: string, payload?: JsonValue): boolean;
  /** Call `handler` with each event named `name` (`'*'`: every event); returns unsubscribe. */
  on(name: string, handler: (event: RoomEvent) => void): () => void;
}

/** @internal The room behind `client.room(name)`. */
export class ClientRoom<P extends JsonValue = JsonValue> implements Room<P>, RoomMembership {
  readonly name: string;
  readonly #link: () => RoomLink;
  readonly #onError: (error: unknown) => void;
  readonly #status: Signal<RoomStatus> = signal<RoomStatus>('idle');
  readonly #error: Signal<OmniSyncError | undefined> = signal<OmniSyncError | undefined>(undefined);
  readonly #user: Signal<string | undefined> = signal<string | undefined>(undefined);
  readonly #mine: Signal<P | undefined> = signal<P | undefined>(undefined);
  readonly #members: Signal<ReadonlyMap<string, P | undefined>> = signal(new Map());
  readonly #handlers = new Map<string, Set<(event: RoomEvent) => void>>();
  #batch: RoomEvent[] | undefined;
  #waiters: { resolve: () => void; reject: (e: OmniSyncError) => void }[] = [];
  readonly presence: RoomPresence<P>;

  constructor(name: string, link: () => RoomLink, onError: (error: unknown) => void) {
    this.name = name;
    this.#link = link;
    this.#onError = onError;
    const members = this.#members;
    const user = this.#user;
    const others = computed(() => {
      const me = user.get();
      const out: RoomMember<P>[] = [];
      for (const [u, state] of members.get()) if (u !== me) out.push({ user: u, state });
      return out;
    });
    this.presence = {
      mine: this.#mine,
      others,
      set: (state) => {
        this.#mine.set(state);
        if (this.#status.peek() === 'joined') this.#link().send({ type: 'presence', room: this.name, state });
      },
    };
  }

  get status(): ReadonlySignal<RoomStatus> {
    return this.#status;
  }
  get error(): ReadonlySignal<OmniSyncError | undefined> {
    return this.#error;
  }
  get user(): ReadonlySignal<string | undefined> {
    return this.#user;
  }

  join(presence?: P): Promise<void> {
    if (presence !== undefined) this.presence.set(presence);
    const status = this.#status.peek();
    if (status === 'joined') return Promise.resolve();
    const done = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    if (status === 'idle' || status === 'refused') {
      batch(() => {
        this.#status.set('joining');
        this.#error.set(undefined);
      });
      this.#link().attach(this);
    }
    return done;
  }

  leave(): void {
    if (this.#status.peek() === 'idle') return;
    this.#link().detach(this.name);
    batch(() => {
      this.#status.set('idle');
      this.#members.set(new Map());
      this.#user.set(undefined);
    });
    this.#settle(new InvalidStateError(`Left room ${JSON.stringify(this.name)} before it was joined.`));
  }

  broadcast(name: string, payload?: JsonValue): boolean {
    const status = this.#status.peek();
    if (status === 'idle' || status === 'refused')
      throw new InvalidStateError(
        `Join room ${JSON.stringify(this.name)} before broadcasting to it (room.join()).`,
      );
    if (status !== 'joined') return false;
    return this.#link().send(
      payload === undefined
        ? { type: 'event', room: this.name, name }
        : { type: 'event', room: this.name, name, payload },
    );
  }

  on(name: string, handler: (event: RoomEvent) => void): () => void {
    let set = this.#handlers.get(name);
    if (!set) this.#handlers.set(name, (set = new Set()));
    set.add(handler);
    return () => {
      set.delete(handler);
      if (set.size === 0 && this.#handlers.get(name) === set) this.#handlers.delete(name);
    };
  }

  // ── RoomMembership (the link's side) ─────────────────────────────────────

  /** @internal */
  joinMessage(): { type: 'join'; room: string; presence?: JsonValue } {
    const presence = this.#mine.peek();
    return presence === undefined
      ? { type: 'join', room: this.name }
      : { type: 'join', room: this.name, presence };
  }

  /** @internal */
  receive(message: RoomServerMessage): void {
    switch (message.type) {
      case 'room': {
        const members = new Map<string, P | undefined>();
        for (const m of message.members) members.set(m.user, m.state as P | undefined);
        batch(() => {
          if (message.user !== undefined) this.#user.set(message.user);
          this.#members.set(members);
          this.#status.set('joined');
          this.#error.set(undefined);
        });
        this.#settle();
        return;
      }
      case 'presence': {
        const next = new Map(this.#members.peek());
        if (message.left === true) next.delete(message.user);
        else next.set(message.user, message.state === null ? undefined : (message.state as P));
        this.#members.set(next);
        return;
      }
      case 'event':
        this.#event({
          name: message.name,
          payload: message.payload,
          from: message.from,
          hlc: message.hlc,
        });
        return;
    }
  }

  /** @internal */
  down(error: OmniSyncError): void {
    if (this.#status.peek() === 'idle') return;
    batch(() => {
      this.#status.set('reconnecting');
      this.#error.set(error);
    });
  }

  /** @internal */
  refused(error: OmniSyncError): void {
    batch(() => {
      this.#status.set('refused');
      this.#error.set(error);
      this.#members.set(new Map());
    });
    this.#settle(error);
  }

  #settle(error?: OmniSyncError): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) {
      if (error) w.reject(error);
      else w.resolve();
    }
  }

  /** Events arriving together are delivered sorted by their HLC, after the current task. */
  #event(event: RoomEvent): void {
    if (this.#batch) {
      this.#batch.push(event);
      return;
    }
    this.#batch = [event];
    queueMicrotask(() => {
      const events = this.#batch!;
      this.#batch = undefined;
      events.sort((a, b) => (a.hlc < b.hlc ? -1 : a.hlc > b.hlc ? 1 : 0));
      for (const e of events) this.#deliver(e);
    });
  }

  #deliver(event: RoomEvent): void {
    for (const key of [event.name, '*'])
      for (const handler of [...(this.#handlers.get(key) ?? [])]) {
        try {
          handler(event);
        } catch (err) {
          // A throwing handler never stops the others, nor the room.
          this.#onError(err);
        }
      }
  }
}
