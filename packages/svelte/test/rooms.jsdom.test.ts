// @vitest-environment jsdom
/**
 * joinRoom / presenceStore / onRoomEvent in Svelte (jsdom) against a real sync server on
 * loopback: the component sees a second real client arrive, change its presence, broadcast
 * and leave; unmounting leaves the room.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Client, createClient, type RoomEvent } from '@omnisync/client';
import { createServer } from '@omnisync/server';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { flushSync, mount, unmount } from 'svelte';
import WebSocket from 'ws';
import { loadSvelte } from './svelte-loader.js';

let dir: string;
let server: ReturnType<typeof createServer>;
let url: string;
const clients: Client[] = [];
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'omni-svelte-rooms-'));
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
    app: 'svelterooms',
    server: url,
    clientId,
    serverOptions: { WebSocket: WebSocket as never, heartbeatMs: 200 },
    onError: () => {},
  });
  clients.push(c);
  return c;
};

type Who = { name: string };

async function until(check: () => boolean, what: string) {
  const deadline = Date.now() + 10_000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('presence and events of another real client show in the component; unmount leaves', async () => {
  const me = client('me');
  const other = client('other');
  const events: RoomEvent[] = [];
  const Online = await loadSvelte(
    {
      'Online.svelte': `<script>
  import { joinRoom, onRoomEvent, presenceStore, setOmniSync } from '@omnisync/svelte';
  let { client, events } = $props();
  setOmniSync(client);
  const room = joinRoom('lobby', { name: 'Me' });
  const p = presenceStore(room);
  onRoomEvent(room, 'wave', (e) => events.push(e));
</script>
<p>{$p.status}|{$p.mine?.name}|{$p.others.map((o) => o.user + '=' + (o.state?.name ?? '?')).join(',')}</p>`,
    },
    'Online.svelte',
  );
  const el = document.createElement('div');
  const app = mount(Online, { target: el, props: { client: me, events } });
  flushSync();
  const text = () => el.textContent ?? '';
  await until(() => text() === 'joined|Me|', 'joined, alone');

  const room = other.room<Who>('lobby');
  await room.join({ name: 'Grace' });
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

  await room.join();
  await until(() => room.presence.others.get().length === 1, 'the other client sees this one');
  void unmount(app);
  await until(() => room.presence.others.get().length === 0, 'the unmounted component left');
});
