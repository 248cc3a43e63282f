/**
 * Scale-out on Postgres, end to end: two sync servers (this process, each with its own
 * connections; the database is all they share) and a real client on each, live over
 * WebSocket. An edit on either side reaches the other live, without `sync()`; concurrent
 * offline edits converge field by field and a delete wins. Skips, saying why, only when no
 * Postgres answers (CI starts it).
 */
import { isDeepStrictEqual } from 'node:util';
import { expect, test } from 'vitest';
import { createClient, createServerSource } from '@omnisync/client';
import { freshSchema, pgUnreachable, serversOn } from '../../../server/test/helpers/postgres.js';
import { byId, createNetworkSwitch, eventually } from './helpers.js';

const unreachable = await pgUnreachable('postgres scale-out test');
type Todo = { id: string; title: string; done: boolean; n?: number };

test.skipIf(unreachable !== undefined)(
  'two servers on one Postgres: clients on each see the other’s edits live and converge after offline edits',
  async () => {
    const two = await serversOn(`${freshSchema('so')}_`, 2);
    const urls = two.urls;
    const nets = [createNetworkSwitch(), createNetworkSwitch()];
    const sides = urls.map((url, i) => {
      const client = createClient({ onError: () => {} });
      const source = createServerSource({
        app: 'todo',
        server: url,
        WebSocket: nets[i]!.WebSocket,
        fetch: nets[i]!.fetch,
        pollIntervalMs: 60_000, // live only: a change that arrives came over the socket
        backoff: { baseDelayMs: 20, maxDelayMs: 200 },
      });
      return { client, source, todos: client.collection<Todo>({ id: 'todos', source }) };
    });
    const [a, b] = sides as [(typeof sides)[0], (typeof sides)[0]];
    try {
      await Promise.all([a.todos.ready, b.todos.ready]);
      await eventually(
        () => sides.every((s) => s.source.status.get().transport === 'websocket'),
        'both clients live',
      );
      await a.todos.insert({ id: 't1', title: 'from server A', done: false }).promise;
      await eventually(() => b.todos.get('t1')?.title === 'from server A', 'B hears A live');
      await b.todos.update('t1', { done: true }).promise;
      await eventually(() => a.todos.get('t1')?.done === true, 'A hears B live');

      // Offline on both sides: different fields of one todo, and a delete against an edit.
      await b.todos.insert({ id: 't2', title: 'doomed', done: false }).promise;
      await eventually(() => a.todos.has('t2'), 'A has t2');
      for (const n of nets) n.online = false;
      a.todos.update('t1', { title: 'renamed on A' });
      b.todos.update('t1', { n: 7 });
      a.todos.delete('t2');
      b.todos.update('t2', { title: 'edited on B' });
      for (const n of nets) n.online = true;
      await Promise.all(sides.map((s) => s.client.sync()));
      await eventually(
        () =>
          sides.every(
            (s) =>
              isDeepStrictEqual(s.todos.get('t1'), { id: 't1', title: 'renamed on A', done: true, n: 7 }) &&
              !s.todos.has('t2'),
          ),
        'both converge field by field, the delete wins',
      );
      expect(byId(a.todos.all())).toEqual(byId(b.todos.all()));
    } finally {
      for (const s of sides) await s.client.close();
      await two.close();
    }
  },
);
