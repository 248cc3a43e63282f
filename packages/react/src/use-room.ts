/**
 * Rooms in React: `useRoom(name, presence?)` joins a room of the provider's client while the
 * component is mounted, `usePresence(room)` reads its presence (mine and everyone else's)
 * as state, `useRoomEvents(room, name, handler)` listens to its events (HLC order) with the
 * latest handler. Skins over `client.room()`: no logic of their own.
 */
import type { Room, RoomEvent, RoomMember, RoomStatus } from '@omnisync/client';
import type { JsonValue } from '@omnisync/core';
import { useCallback, useEffect, useRef } from 'react';
import { useClient } from './context.js';
import { useSignal } from './use-signal.js';

/**
 * The room `name` of the provider's client, joined while this component is mounted (with
 * `presence`, sent again whenever it changes by value) and left when it unmounts. Call it in
 * one component per room and hand the room to others as a prop.
 * @example
 * const room = useRoom<{ name: string }>('todo-list', { name: me });
 * const { others } = usePresence(room);
 */
export function useRoom<P extends JsonValue = JsonValue>(name: string, presence?: P): Room<P> {
  const client = useClient();
  const room = client.room<P>(name);
  const key = presence === undefined ? undefined : JSON.stringify(presence);
  useEffect(() => {
    // Failures show in room.status / room.error; nothing to throw at here.
    room.join().catch(() => {});
    return () => room.leave();
  }, [room]);
  useEffect(() => {
    if (key !== undefined) room.presence.set(JSON.parse(key) as P);
  }, [room, key]);
  return room;
}

/** What {@link usePresence} returns. */
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

/** The presence in `room`; the component re-renders when it changes. */
export function usePresence<P extends JsonValue = JsonValue>(room: Room<P>): PresenceState<P> {
  const mine = useSignal(room.presence.mine);
  const others = useSignal(room.presence.others);
  const status = useSignal(room.status);
  const set = useCallback((state: P) => room.presence.set(state), [room]);
  return { mine, others, status, set };
}

/**
 * Call `handler` with each event named `name` (`'*'`: all) broadcast in `room` while the
 * component is mounted; the latest `handler` is called (no resubscribe when it changes).
 */
export function useRoomEvents<T extends JsonValue = JsonValue>(
  room: Room,
  name: string,
  handler: (event: RoomEvent<T>) => void,
): void {
  const latest = useRef(handler);
  useEffect(() => {
    latest.current = handler;
  });
  useEffect(() => room.on(name, (e) => latest.current(e as RoomEvent<T>)), [room, name]);
}
