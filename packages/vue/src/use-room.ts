/**
 * Rooms in Vue: `useRoom(name, presence?)` joins a room of the provided client while the
 * component is mounted, `usePresence(room)` gives its presence as refs, `useRoomEvents(room,
 * name, handler)` listens to its events (HLC order) while the component lives. Skins over
 * `client.room()`: no logic of their own.
 */
import type { Room, RoomEvent, RoomMember, RoomStatus } from '@omnisync/client';
import type { JsonValue } from '@omnisync/core';
import { type MaybeRefOrGetter, onMounted, onScopeDispose, onUnmounted, type Ref, toValue, watch } from 'vue';
import { useClient } from './context.js';
import { useSignal } from './use-signal.js';

/**
 * The room `name`, joined while this component is mounted (with `presence`, sent again
 * whenever it changes by value) and left when it unmounts.
 * @example
 * const room = useRoom<{ name: string }>('todo-list', () => ({ name: me.value }));
 * const { others } = usePresence(room);
 */
export function useRoom<P extends JsonValue = JsonValue>(
  name: string,
  presence?: MaybeRefOrGetter<P>,
): Room<P> {
  const room = useClient().room<P>(name);
  onMounted(() => {
    // Failures show in room.status / room.error; nothing to throw at here.
    room.join().catch(() => {});
  });
  onUnmounted(() => room.leave());
  if (presence !== undefined)
    watch(
      () => JSON.stringify(toValue(presence)),
      (key) => room.presence.set(JSON.parse(key) as P),
      { immediate: true },
    );
  return room;
}

/** What {@link usePresence} returns. */
export interface PresenceRefs<P extends JsonValue = JsonValue> {
  /** What this client shares. */
  readonly mine: Readonly<Ref<P | undefined>>;
  /** Every other member of the room with its presence. */
  readonly others: Readonly<Ref<readonly RoomMember<P>[]>>;
  /** The room's status (`joined`, `reconnecting`, `refused`…). */
  readonly status: Readonly<Ref<RoomStatus>>;
  /** Share a new presence. */
  readonly set: (state: P) => void;
}

/** The presence in `room`, as refs. */
export function usePresence<P extends JsonValue = JsonValue>(room: Room<P>): PresenceRefs<P> {
  return {
    mine: useSignal(room.presence.mine),
    others: useSignal(room.presence.others),
    status: useSignal(room.status),
    set: (state) => room.presence.set(state),
  };
}

/** Call `handler` with each event named `name` (`'*'`: all) broadcast in `room` while the component lives. */
export function useRoomEvents<T extends JsonValue = JsonValue>(
  room: Room,
  name: string,
  handler: (event: RoomEvent<T>) => void,
): void {
  onScopeDispose(room.on(name, (e) => handler(e as RoomEvent<T>)));
}
