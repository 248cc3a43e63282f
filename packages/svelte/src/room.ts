/**
 * Rooms in Svelte: `joinRoom(name, presence?)` joins a room of the client while the calling
 * component is mounted, `presenceStore(room)` is its presence as a store, `onRoomEvent(room,
 * name, handler)` listens to its events (HLC order) while the component is mounted. Skins
 * over `client.room()`: no logic of their own.
 */
import type { Client, Room, RoomEvent, RoomMember, RoomStatus } from '@omnisync/client';
import { effect, type JsonValue } from '@omnisync/core';
import { onMount } from 'svelte';
import { type Readable, readable } from 'svelte/store';
import { getOmniContext } from './context.js';
import { type OmniReadable, withCurrent } from './readable.js';

/**
 * The room `name`, joined while this component is mounted (with `presence`; a store of it is
 * sent again whenever it changes by value) and left when it unmounts.
 * @example
 * const room = joinRoom<{ name: string }>('todo-list', { name: me });
 * const presence = presenceStore(room); // {$presence.others.length} others here
 */
export function joinRoom<P extends JsonValue = JsonValue>(
  name: string,
  presence?: P | Readable<P>,
  client?: Client,
): Room<P> {
  const room = (client ?? getOmniContext('joinRoom()').client).room<P>(name);
  onMount(() => {
    let off = () => {};
    if (presence !== undefined && typeof (presence as Readable<P>).subscribe === 'function') {
      let last: string | undefined;
      off = (presence as Readable<P>).subscribe((p) => {
        const key = JSON.stringify(p);
        if (key !== last) room.presence.set(p);
        last = key;
      });
    } else if (presence !== undefined) room.presence.set(presence as P);
    // Failures show in room.status / room.error; nothing to throw at here.
    room.join().catch(() => {});
    return () => {
      off();
      room.leave();
    };
  });
  return room;
}

/** The value of a {@link presenceStore}. */
export interface PresenceState<P extends JsonValue = JsonValue> {
  /** What this client shares. */
  readonly mine: P | undefined;
  /** Every other member of the room with its presence. */
  readonly others: readonly RoomMember<P>[];
  /** The room's status (`joined`, `reconnecting`, `refused`…). */
  readonly status: RoomStatus;
  /** Share a new presence. */
  readonly set: (state: P) => void;
}

/** The presence in `room`, as a store. */
export function presenceStore<P extends JsonValue = JsonValue>(
  room: Room<P>,
): OmniReadable<PresenceState<P>> {
  const set = (state: P) => room.presence.set(state);
  const snapshot = (): PresenceState<P> => ({
    mine: room.presence.mine.get(),
    others: room.presence.others.get(),
    status: room.status.get(),
    set,
  });
  return withCurrent(
    readable(snapshot(), (put) => {
      // The effect re-runs when any of the three signals changes.
      const e = effect(() => put(snapshot()));
      return () => e.stop();
    }),
  );
}

/** Call `handler` with each event named `name` (`'*'`: all) broadcast in `room` while the component is mounted. */
export function onRoomEvent<T extends JsonValue = JsonValue>(
  room: Room,
  name: string,
  handler: (event: RoomEvent<T>) => void,
): void {
  onMount(() => room.on(name, (e) => handler(e as RoomEvent<T>)));
}
