/**
 * ClientRoom on its own, fed server messages by a stand-in link (no socket: the real-server
 * runs are in test/sync/rooms.test.ts): events that arrive together out of HLC order reach
 * handlers sorted, a throwing handler stops nobody, presence follows joins and leaves.
 */
import { effect } from '@omnisync/core';
import { expect, test } from 'vitest';
import { ClientRoom } from './room.js';
import type { RoomLink, RoomMembership } from './room-link.js';

function standInLink() {
  const sent: unknown[] = [];
  let attached: RoomMembership | undefined;
  const link = {
    attach: (r: RoomMembership) => void (attached = r),
    detach: () => void (attached = undefined),
    send: (m: unknown) => (sent.push(m), true),
  } as unknown as RoomLink;
  return { link, sent, attached: () => attached };
}

test('events arriving together are delivered in HLC order; a throwing handler stops no one', async () => {
  const { link } = standInLink();
  const errors: unknown[] = [];
  const room = new ClientRoom(
    'r',
    () => link,
    (e) => errors.push(e),
  );
  const joined = room.join();
  room.receive({ type: 'room', room: 'r', user: 'me', members: [{ user: 'me' }] });
  await joined;
  const got: string[] = [];
  room.on('*', () => {
    throw new Error('bad handler');
  });
  room.on('e', (ev) => got.push(ev.hlc));
  for (const hlc of ['0000000000c-000000-srv', '0000000000a-000000-srv', '0000000000b-000000-srv'])
    room.receive({ type: 'event', room: 'r', from: 'u2', name: 'e', hlc });
  expect(got).toEqual([]); // handed over after the current task
  await Promise.resolve();
  expect(got).toEqual(['0000000000a-000000-srv', '0000000000b-000000-srv', '0000000000c-000000-srv']);
  expect(errors).toHaveLength(3);
});

test('presence: members join, change and leave; mine is sent with the join and on change', async () => {
  const { link, sent, attached } = standInLink();
  const room = new ClientRoom<{ n: number }>(
    'r',
    () => link,
    () => {},
  );
  const seen: number[] = [];
  const stop = effect(() => void seen.push(room.presence.others.get().length));
  const joined = room.join({ n: 1 });
  expect(attached()).toBe(room);
  expect(room.joinMessage()).toEqual({ type: 'join', room: 'r', presence: { n: 1 } });
  expect(room.status.get()).toBe('joining');
  room.receive({ type: 'room', room: 'r', user: 'me', members: [{ user: 'me', state: { n: 1 } }] });
  await joined;
  room.receive({ type: 'presence', room: 'r', user: 'u2', state: null });
  expect(room.presence.others.get()).toEqual([{ user: 'u2', state: undefined }]);
  room.receive({ type: 'presence', room: 'r', user: 'u2', state: { n: 5 } });
  expect(room.presence.others.get()).toEqual([{ user: 'u2', state: { n: 5 } }]);
  room.presence.set({ n: 2 });
  expect(sent).toEqual([{ type: 'presence', room: 'r', state: { n: 2 } }]);
  room.receive({ type: 'presence', room: 'r', user: 'u2', state: null, left: true });
  expect(room.presence.others.get()).toEqual([]);
  // The signal is reactive: an effect saw every change (consecutive equal counts folded).
  expect(seen.filter((n, i) => n !== seen[i - 1])).toEqual([0, 1, 0]);
  stop.stop();
  room.leave();
  expect(room.status.get()).toBe('idle');
  expect(attached()).toBeUndefined();
});
