/**
 * The real-server fixture of the adapter conformance suite (`server` option): an OmniSync
 * sync server on loopback (SQLite in a temporary folder) holding three `items`, and a reader
 * client syncing `items` with it whose HTTP requests are held back until `release()` (no
 * WebSocket, so the first answer can only come by HTTP). Shared by the React, Vue, Svelte
 * and Solid conformance tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, type FetchLike } from '@omnisync/client';
import { conformanceRows, type HeldServerClient } from '@omnisync/client/testing';
import { createServer } from '@omnisync/server';

let n = 0;

/** Write the three conformance rows to a new app on the server at `url`; returns the app id. */
export async function seedConformanceApp(url: string): Promise<string> {
  const app = `adapter${++n}`;
  const writer = createClient({ app, server: url, clientId: 'writer', serverOptions: { WebSocket: null } });
  await writer.collection({ id: 'items' }).insert(conformanceRows(3)).promise;
  await writer.close();
  return app;
}

/** A sync server on loopback (SQLite in a temporary folder). */
export async function startSyncServer(): Promise<{ url: string; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'omni-adapter-'));
  const server = createServer({ dataDir: dir, logLevel: 'silent' });
  const { url } = await server.listen(0);
  return {
    url,
    close: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Start a server with three rows and a reader client whose requests wait for `release()`. */
export async function heldServerClient(): Promise<HeldServerClient> {
  const server = await startSyncServer();
  const { url } = server;
  const app = await seedConformanceApp(url);
  const rows = conformanceRows(3);
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const heldFetch: FetchLike = async (input, init) => {
    await gate;
    return fetch(input, init) as never;
  };
  const client = createClient({
    app,
    server: url,
    clientId: 'reader',
    serverOptions: { WebSocket: null, fetch: heldFetch },
    onError: () => {},
  });
  client.collection({ id: 'items' });
  return {
    client,
    rows,
    release,
    close: () => server.close(),
  };
}
