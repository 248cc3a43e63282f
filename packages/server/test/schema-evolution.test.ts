/**
 * Schema evolution with real `omnisync serve` processes and real clients (issue 13 part 6),
 * on SQLite files and on Postgres:
 *
 * 1. The server runs schema v1; two clients on v1 sync, then go offline and keep writing.
 * 2. The server is stopped and started again on v3 (chain v1 → v2 → v3, `--schema`).
 *    Client A reconnects: every write it made offline arrives upcast (renamed, split and
 *    defaulted fields) and passes the v3 schema. A v4 client is refused (`schema_outdated`)
 *    and keeps its outbox.
 * 3. The server moves to a chain that dropped v1: client B (still v1, offline all along) is
 *    refused with a SchemaOutdatedError and keeps every write.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createClient, createServerSource, type FetchLike, SchemaOutdatedError } from '@omnisync/client';
import { type Cell, Replica } from '@omnisync/core';
import { afterAll, describe, expect, it } from 'vitest';
import { HttpClient } from './helpers/protocol-client.js';
import { dropSchemas, PG_URL, pgUnreachable } from './helpers/postgres.js';
import { type ServerProcess, startServe } from './helpers/serve-process.js';

const APP = 'evo';
const FIXTURES = 'packages/server/test/fixtures';
const unreachable = await pgUnreachable('schema-evolution on Postgres');
const pgPrefix = `schema_evo_${randomBytes(4).toString('hex')}_`;

afterAll(async () => {
  if (unreachable === undefined) await dropSchemas(pgPrefix);
});

/** A client on a schema version, behind a network switch (fetch fails while offline; polling only). */
function peer(url: string, schemaVersion: number) {
  let online = true;
  const errors: Error[] = [];
  const fetchSwitched: FetchLike = async (u, init) => {
    if (!online) throw new TypeError('fetch failed (network switched off by the test)');
    return fetch(u, init);
  };
  const client = createClient({ onError: (e) => errors.push(e) });
  const source = createServerSource({
    app: APP,
    server: url,
    schemaVersion,
    fetch: fetchSwitched,
    WebSocket: null,
    pollIntervalMs: 100,
    requestTimeoutMs: 3000,
    backoff: { baseDelayMs: 20, maxDelayMs: 200 },
  });
  const todos = client.collection<Record<string, unknown> & { id: string }>({ id: 'todos', source });
  const users = client.collection<Record<string, unknown> & { id: string }>({ id: 'users', source });
  return {
    client,
    source,
    todos,
    users,
    errors,
    set online(v: boolean) {
      online = v;
    },
  };
}

/** The server's documents of a collection, from a real snapshot (fields as stored). */
async function documents(url: string, collection: string) {
  const snap = await new HttpClient(url, APP).snapshot([{ collection }]);
  const r = new Replica();
  r.apply(snap.cells as Cell[]);
  return [...new Set(snap.cells.map((c) => c.id))]
    .map((id) => r.get(collection, id))
    .filter((d) => d !== undefined)
    .sort((a, b) => String(a.id).localeCompare(String(b.id)));
}

async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const storages = [
  { name: 'SQLite', skip: undefined as string | undefined },
  { name: 'Postgres', skip: unreachable },
];

describe.each(storages)('schema evolution across server restarts on $name', ({ name, skip }) => {
  it.skipIf(skip !== undefined)(
    'a long-offline v1 client syncs its writes upcast to v3; too old and too new clients keep their outboxes',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'omni-schema-evo-'));
      const storageArgs =
        name === 'Postgres'
          ? ['--postgres', PG_URL, '--pg-schema-prefix', `${pgPrefix}${randomBytes(3).toString('hex')}_`]
          : ['--data', dir, '--durability', 'normal'];
      const serve = (schema: string, port = 0) =>
        startServe([
          '--port',
          String(port),
          ...storageArgs,
          '--schema',
          `${FIXTURES}/${schema}`,
          '--log-level',
          'info',
        ]);
      let server: ServerProcess | undefined;
      const peers: ReturnType<typeof peer>[] = [];
      try {
        // 1. v1 everywhere.
        server = await serve('schema-v1.ts');
        const port = server.port;
        const url = server.url;
        const a = peer(url, 1);
        const b = peer(url, 1);
        peers.push(a, b);
        await a.todos.insert({ id: 't0', title: 'before' }).promise;
        await b.source.sync();
        expect(b.todos.get('t0')?.title).toBe('before');

        a.online = false;
        b.online = false;
        const aWrites = [
          a.todos.insert({ id: 't1', title: 'milk' }),
          a.users.insert({ id: 'u1', name: 'Ada King Lovelace' }),
          a.todos.update('t0', { title: 'edited offline' }),
        ];
        const bWrite = b.todos.insert({ id: 'b1', title: 'from b' });
        await eventually(() => a.source.status.get().pending === 3, 'a holds 3 writes');

        // 2. The server moves to v3 (same data, same port); A comes back.
        await server.stop();
        server = await serve('schema-v3.ts', port);
        a.online = true;
        await a.source.sync().catch(() => undefined);
        await Promise.all(aWrites.map((w) => w.promise));
        expect(await documents(url, 'todos')).toEqual([
          { id: 't0', title: 'before', text: 'edited offline' },
          { id: 't1', text: 'milk', priority: 0 },
        ]);
        expect(await documents(url, 'users')).toEqual([{ id: 'u1', first: 'Ada', last: 'King Lovelace' }]);

        // A client newer than the server: refused, its write kept.
        const future = peer(url, 4);
        peers.push(future);
        const fw = future.todos.insert({ id: 'f1', text: 'from the future', priority: 1 });
        await eventually(() => future.source.status.get().error instanceof SchemaOutdatedError, 'v4 refused');
        expect(future.source.status.get().pending).toBe(1);
        expect(fw.state).not.toBe('failed');
        expect((await documents(url, 'todos')).map((d) => d.id)).not.toContain('f1');

        // 3. The server drops v1 from its chain; B (v1, offline all along) comes back.
        await server.stop();
        server = await serve('schema-v3-from2.ts', port);
        b.online = true;
        await b.source.sync().catch(() => undefined);
        await eventually(() => b.source.status.get().error instanceof SchemaOutdatedError, 'v1 refused');
        const error = b.source.status.get().error!;
        expect(error.message).toMatch(/too old.*Update the app/);
        expect(error.details).toMatchObject({ clientVersion: 1, serverVersion: 3, oldestVersion: 2 });
        expect(b.source.status.get().pending).toBe(1);
        expect(bWrite.state).not.toBe('failed');
        expect(b.todos.get('b1')?.title).toBe('from b');
        expect((await documents(url, 'todos')).map((d) => d.id)).not.toContain('b1');
      } finally {
        for (const p of peers) await p.client.close();
        await server?.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    },
    90_000,
  );
});
