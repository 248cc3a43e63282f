/**
 * Ids and field names that no storage keeps exactly (U+0000, a lone UTF-16 surrogate such as
 * "doc-\ud800") are refused at write time with `invalid_input`, so they never enter the outbox:
 * before, the write was applied optimistically, pushed, refused by the server (400) and
 * rolled back after the round trip, or (U+0000 on SQLite) stored under an id the Postgres
 * storage refuses. A real server runs in this process; live is off, `sync()` moves data.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createServer } from '@omnisync/server';
import { createClient } from '@omnisync/client';

let dir: string;
let server: ReturnType<typeof createServer>;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'omni-exact-'));
  server = createServer({ dataDir: join(dir, 'server'), durability: 'off', logLevel: 'silent' });
  url = (await server.listen(0)).url;
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

type Doc = { id: string; title?: string; [k: string]: unknown };

test('an id or a field name with U+0000 or a lone surrogate throws invalid_input at write time; nothing reaches the outbox or the server', async () => {
  const errors: unknown[] = [];
  const client = createClient({
    app: 'exact',
    server: url,
    serverOptions: { WebSocket: null, pollIntervalMs: 60_000 },
    onError: (e) => errors.push(e),
  });
  const docs = client.collection<Doc>({ id: 'docs' });
  await docs.ready;
  await docs.insert({ id: 'ok', title: 'kept' }).promise;

  const refused = (write: () => unknown, names: RegExp) => {
    let thrown: unknown;
    try {
      write();
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toMatchObject({ code: 'invalid_input', message: expect.stringMatching(names) });
  };
  for (const id of ['doc-\ud800', 'doc-\udfff-x', 'doc-\u0000']) {
    const why = id.includes('\u0000') ? /U\+0000/ : /lone UTF-16 surrogate/;
    refused(() => docs.insert({ id, title: 'x' }), why);
    // An update or delete of such an id says why, instead of "no document" (not_found).
    refused(() => docs.update(id, { title: 'y' }), why);
    refused(() => docs.delete(id), why);
  }
  refused(() => docs.insert({ id: 'f1', ['t\udc00']: 1 }), /Field name .* lone UTF-16 surrogate/);
  refused(() => docs.insert({ id: 'f2', meta: { ['a\u0000']: 1 } }), /Field name .* U\+0000/);
  refused(() => docs.update('ok', { ['t\ud83d']: 1 }), /lone UTF-16 surrogate/);
  // A well-formed pair (an emoji) is an ordinary id.
  await docs.insert({ id: 'doc-\u{1F600}', title: 'pair' }).promise;

  await client.sync();
  expect(errors).toEqual([]);
  expect(docs.get('ok')).toEqual({ id: 'ok', title: 'kept' });
  const res = await fetch(`${url}/v1/apps/exact/snapshot`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  const { cells } = (await res.json()) as { cells: { id: string }[] };
  expect([...new Set(cells.map((c) => c.id))].sort()).toEqual(['doc-\u{1F600}', 'ok']);
  await client.close();
});
