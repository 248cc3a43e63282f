// @vitest-environment jsdom
/**
 * useRoom / usePresence / useRoomEvents in React DOM (jsdom) against a real sync server on
 * loopback: a rendered component sees a second real client arrive, change its presence,
 * broadcast, and leave; unmounting leaves the room.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, createClient, type RoomEvent } from '@omnisync/client';
import { createServer } from '@omnisync/server';
import { act, cleanup, render, screen } from '@testing-library/react';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import WebSocket from 'ws';
import { OmniSyncProvider, usePresence, useRoom, useRoomEvents } from '../src/index.js';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;
afterEach(cleanup);

let dir: string;
let server: ReturnType<typeof createServer>;
let url: string;
const clients: Client[] = [];
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'omni-react-rooms-'));
  server = createServer({ dataDir: dir, logLevel: 'silent' });
  url = (await server.listen(0)).url;
});
afterAll(async () => {
  for (const c of clients) await c.close();
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

const client = (clientId: string) => {
  const c = createClient({
    app: 'reactrooms',
    server: url,
    clientId,
    serverOptions: { WebSocket: WebSocket as never, heartbeatMs: 200 },
    onError: () => {},
  });
  clients.push(c);
  return c;
};

type Who = { name: string };

function Online({ events }: { events: RoomEvent[] }) {
  const room = useRoom<Who>('lobby', { name: 'Me' });
  const { others, status, mine } = usePresence(room);
  useRoomEvents(room, 'wave', (e) => events.push(e));
  return (
    <p data-testid="online">
      {status}|{mine?.name}|{others.map((o) => `${o.user}=${o.state?.name ?? '?'}`).join(',')}
    </p>
  );
}

async function until(check: () => boolean, what: string) {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await act(() => new Promise((r) => setTimeout(r, 20)));
  }
}
const text = () => screen.getByTestId('online').textContent ?? '';

test('presence and events of another real client show in the component; unmount leaves', async () => {
  const me = client('me');
  const other = client('other');
  const events: RoomEvent[] = [];
  const view = render(
    <OmniSyncProvider client={me}>
      <Online events={events} />
    </OmniSyncProvider>,
  );
  await until(() => text() === 'joined|Me|', 'joined, alone');

  const room = other.room<Who>('lobby');
  await act(() => room.join({ name: 'Grace' }));
  await until(() => text() === 'joined|Me|other=Grace', 'the other member shows');
  expect(room.presence.others.get()).toEqual([{ user: 'me', state: { name: 'Me' } }]);

  room.presence.set({ name: 'Grace H.' });
  await until(() => text() === 'joined|Me|other=Grace H.', 'the presence update shows');

  room.broadcast('wave', { n: 1 });
  room.broadcast('other-event', { n: 2 });
  room.broadcast('wave', { n: 3 });
  await until(() => events.length === 2, 'two waves');
  expect(events.map((e) => e.payload)).toEqual([{ n: 1 }, { n: 3 }]);

  room.leave();
  await until(() => text() === 'joined|Me|', 'the other member is gone');
  await act(() => room.join());
  await until(() => text() === 'joined|Me|other=Grace H.', 'back, with its presence');

  // Unmounting leaves the room: the other client sees this one go.
  view.unmount();
  await until(() => room.presence.others.get().length === 0, 'the unmounted component left');
});
