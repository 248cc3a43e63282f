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

/** Start a server with three rows and a reader client whose requests wait for `release()`. */
export async function heldServerClient(): Promise<HeldServerClient> {
  const dir = mkdtempSync(join(tmpdir(), 'omni-adapter-'));
  const server = createServer({ dataDir: dir, logLevel: 'silent' });
  const { url } = await server.listen(0);
  const app = `adapter${++n}`;
  const rows = conformanceRows(3);
  const writer = createClient({ app, server: url, clientId: 'writer', serverOptions: { WebSocket: null } });
  const tx = writer.collection({ id: 'items' }).insert(rows);
  await tx.promise;
  await writer.close();
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
    close: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
