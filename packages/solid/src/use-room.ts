/**
 * Rooms in Solid: `useRoom(name, presence?)` joins a room of the provider's client while the
 * owner is mounted, `usePresence(room)` gives its presence as accessors, `useRoomEvents(room,
 * name, handler)` listens to its events (HLC order) until cleanup. Skins over
 * `client.room()`: no logic of their own.
 */
import type { Room, RoomEvent, RoomMember, RoomStatus } from '@omnisync/client';
import type { JsonValue } from '@omnisync/core';
import { type Accessor, createEffect, on, onCleanup, onMount } from 'solid-js';
import { useClient } from './context.js';
import { useSignal } from './use-signal.js';

/**
 * The room `name`, joined while mounted (with `presence`, an accessor of it sent again
 * whenever it changes by value) and left on cleanup.
 * @example
 * const room = useRoom<{ name: string }>('todo-list', () => ({ name: me() }));
 * const presence = usePresence(room); // presence.others()
 */
export function useRoom<P extends JsonValue = JsonValue>(name: string, presence?: P | Accessor<P>): Room<P> {
  const room = useClient().room<P>(name);
  onMount(() => {
    // Failures show in room.status / room.error; nothing to throw at here.
    room.join().catch(() => {});
  });
  onCleanup(() => room.leave());
  if (presence !== undefined) {
    const key = () => JSON.stringify(typeof presence === 'function' ? (presence as Accessor<P>)() : presence);
    createEffect(on(key, (k) => room.presence.set(JSON.parse(k) as P)));
  }
  return room;
}

/** What {@link usePresence} returns. */
export interface PresenceAccessors<P extends JsonValue = JsonValue> {
  /** What this client shares. */
  readonly mine: Accessor<P | undefined>;
  /** Every other member of the room with its presence. */
  readonly others: Accessor<readonly RoomMember<P>[]>;
  /** The room's status (`joined`, `reconnecting`, `refused`…). */
  readonly status: Accessor<RoomStatus>;
  /** Share a new presence. */
  readonly set: (state: P) => void;
}

/** The presence in `room`, as accessors. */
export function usePresence<P extends JsonValue = JsonValue>(room: Room<P>): PresenceAccessors<P> {
  return {
    mine: useSignal(room.presence.mine),
    others: useSignal(room.presence.others),
    status: useSignal(room.status),
    set: (state) => room.presence.set(state),
  };
}

/** Call `handler` with each event named `name` (`'*'`: all) broadcast in `room` until cleanup. */
export function useRoomEvents<T extends JsonValue = JsonValue>(
  room: Room,
  name: string,
  handler: (event: RoomEvent<T>) => void,
): void {
  onCleanup(room.on(name, (e) => handler(e as RoomEvent<T>)));
}
