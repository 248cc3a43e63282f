/**
 * Seed 004 `updateCursor`: a device tells the server how far it has synced (`POST cursor`),
 * which `engine.deviceCursors()` lists for choosing a compaction horizon. Real server in this
 * process, live off, so only `sync()` moves the cursor.
 */
import { expect, test } from 'vitest';
import { createClient, createServerSource, type ServerSourceOptions } from '@omnisync/client';
import { eventually, inProcessServer } from './helpers.js';

const srv = inProcessServer('omni-cursor-');

type Todo = { id: string; n: number };
const APP = 'cursors';

function open(options: Partial<ServerSourceOptions> = {}) {
  const client = createClient({ onError: () => {} });
  const source = createServerSource({
    app: APP,
    server: srv.url,
    WebSocket: null,
    pollIntervalMs: 60_000,
    ...options,
  });
  const todos = client.collection<Todo>({ id: 'todos', source });
  return { client, source, todos };
}

const reported = async (clientId: string | undefined) =>
  (await srv.server.engine.deviceCursors(APP)).find((d) => d.deviceId === clientId)?.cursor;

test('a device reports its synced cursor, again once it moved and the interval passed; false never reports', async () => {
  const writer = open({ cursorReportMs: false });
  const fast = open({ cursorReportMs: 20 });
  const slow = open({ cursorReportMs: 3_600_000 });
  await Promise.all([writer.todos.ready, fast.todos.ready, slow.todos.ready]);

  // Each reports the cursor of its first sync at once.
  const head0 = await srv.server.engine.head(APP);
  await eventually(async () => (await reported(fast.source.clientId)) === head0, 'fast reported head0');
  await eventually(async () => (await reported(slow.source.clientId)) === head0, 'slow reported head0');

  await writer.todos.insert({ id: 'a', n: 1 }).promise;
  await Promise.all([fast.client.sync(), slow.client.sync()]);
  const head1 = await srv.server.engine.head(APP);
  expect(head1).toBeGreaterThan(head0);
  expect(fast.todos.get('a')).toEqual({ id: 'a', n: 1 });
  await eventually(async () => (await reported(fast.source.clientId)) === head1, 'fast reported head1');

  await writer.todos.update('a', { n: 2 }).promise;
  await Promise.all([fast.client.sync(), slow.client.sync()]);
  const head2 = await srv.server.engine.head(APP);
  expect(head2).toBeGreaterThan(head1);
  await eventually(async () => (await reported(fast.source.clientId)) === head2, 'fast reported head2');
  // The slow one synced head2 too, but its next report is an hour after its first.
  expect(slow.todos.get('a')).toEqual({ id: 'a', n: 2 });
  expect(slow.source.status.get().cursor).toBe(head2);
  expect(await reported(slow.source.clientId)).toBe(head0);
  // The writer synced (its own writes) but never reports.
  await writer.client.sync();
  expect(await reported(writer.source.clientId)).toBeUndefined();
  await Promise.all([writer.client.close(), fast.client.close(), slow.client.close()]);
});

test('a bad cursorReportMs is refused with a typed error', () => {
  for (const bad of [0, -5, Number.NaN, Infinity])
    expect(() => createServerSource({ app: APP, server: srv.url, cursorReportMs: bad })).toThrow(
      expect.objectContaining({ code: 'invalid_input', message: expect.stringContaining('cursorReportMs') }),
    );
});
