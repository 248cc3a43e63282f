/**
 * Rules on reads (issue 13), against a real server (SQLite file, loopback HTTP and
 * WebSocket, HS256 tokens): pull and snapshot send only documents the read rule admits and
 * never a masked field's cell; a document that stops being readable is evicted (named, no
 * data) by pull and by live fan-out, one that starts arrives whole; poke mode says nothing
 * about changes a principal cannot see; and a real client's live query drops and regains
 * the row, across a restart, without a delete or an outbox entry.
 */
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { defineRules, principal, q } from '@omnisync/core';
import {
  type Client,
  createClient,
  createServerSource,
  liveQuery,
  type WebSocketConstructor,
} from '@omnisync/client';
import { createFilePersistence } from '@omnisync/client/node';
import { CellWriter, HttpClient, LiveClient, mutation } from './helpers/protocol-client.js';
import { startServer, type TestServer } from './helpers/servers.js';

const SECRET = 'rules-read-test-secret-0123456789abcdef';
const APP = 'acl';
const key = new TextEncoder().encode(SECRET);
const token = (claims: Record<string, unknown>) =>
  new SignJWT({ app: APP, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(key);

// Writes are open (this file is about reads): every principal may insert, update, delete.
const rules = defineRules({
  todos: {
    read: (p) => (p.role === 'admin' ? true : { owner: principal('sub') }),
    readMask: (p) => (p.role === 'admin' ? [] : ['secret', 'meta.internal']),
    insert: true,
    update: true,
    delete: true,
  },
  open: { read: true, insert: true, update: true, delete: true },
});

let t: TestServer;
let admin: HttpClient;
let u1: HttpClient;
let u2: HttpClient;
let tokens: Record<'admin' | 'u1' | 'u2', string>;
const w = new CellWriter('rules_read_writer');
let seq = 0;
const fresh = (p: string) => `${p}${++seq}`;

const write = async (...changes: ReturnType<CellWriter['doc']>[]) =>
  (
    await admin.push(
      'writer',
      changes.map((c) => mutation(c)),
    )
  ).cursor;

beforeAll(async () => {
  t = await startServer({ auth: { secret: SECRET }, rules });
  tokens = {
    admin: await token({ sub: 'root', role: 'admin' }),
    u1: await token({ sub: 'u1' }),
    u2: await token({ sub: 'u2' }),
  };
  admin = new HttpClient(t.url, APP, tokens.admin);
  u1 = new HttpClient(t.url, APP, tokens.u1);
  u2 = new HttpClient(t.url, APP, tokens.u2);
});
afterAll(() => t.close());

const idsOf = (cells: readonly { collection: string; id: string }[], collection = 'todos') =>
  [...new Set(cells.filter((c) => c.collection === collection).map((c) => c.id))].sort();
const fieldsOf = (cells: readonly { id: string; field: string }[], id: string) =>
  cells
    .filter((c) => c.id === id)
    .map((c) => c.field)
    .sort();

describe('pull and snapshot', () => {
  it('send only readable documents, without masked fields (checked on the raw responses)', async () => {
    const [a, b, c] = [fresh('pa'), fresh('pb'), fresh('pc')];
    await write(
      w.doc('todos', a, {
        owner: 'u1',
        title: 'mine',
        secret: 'SECRET-A',
        meta: { internal: 'INT-A', tag: 'x' },
      }),
      w.doc('todos', b, { owner: 'u2', title: 'theirs', secret: 'SECRET-B' }),
      // A flattened nested field (a cell per leaf), hidden by the mask's path.
      w.doc('todos', c, { owner: 'u1', title: 'mine too', 'meta.internal': 'INT-C', 'meta.tag': 'y' }),
      w.doc('open', fresh('o'), { note: 'for all' }),
    );
    const pulled = await u1.call('pull', { cursor: 0 });
    expect(pulled.status).toBe(200);
    expect(pulled.text).not.toContain('SECRET-');
    expect(pulled.text).not.toContain('INT-');
    expect(pulled.text).not.toContain('theirs');
    const cells = pulled.body.changes;
    expect(idsOf(cells)).toEqual(expect.arrayContaining([a, c]));
    expect(idsOf(cells)).not.toContain(b);
    // An object value holding a hidden path loses it; a hidden leaf cell is not sent.
    expect(fieldsOf(cells, a)).toEqual(['id', 'meta', 'owner', 'title']);
    expect(cells.find((x: { id: string; field: string }) => x.id === a && x.field === 'meta').value).toEqual({
      tag: 'x',
    });
    expect(fieldsOf(cells, c)).toEqual(['id', 'meta.tag', 'owner', 'title']);
    expect(idsOf(cells, 'open').length).toBeGreaterThan(0);

    const snap = await u1.call('snapshot', {});
    expect(snap.text).not.toContain('SECRET-');
    expect(snap.text).not.toContain('INT-');
    expect(idsOf(snap.body.cells)).not.toContain(b);
    expect(fieldsOf(snap.body.cells, a)).toEqual(['id', 'meta', 'owner', 'title']);
    expect(fieldsOf(snap.body.cells, c)).toEqual(['id', 'meta.tag', 'owner', 'title']);

    // A query on a hidden field matches nothing: which documents arrive says nothing of it.
    const bySecret = [{ collection: 'todos', where: { secret: 'SECRET-A' } }];
    expect((await u1.pull(0, bySecret)).changes).toEqual([]);
    expect((await u1.snapshot(bySecret)).cells).toEqual([]);

    // The admin reads everything, secrets included.
    const all = await admin.snapshot();
    expect(idsOf(all.cells)).toEqual(expect.arrayContaining([a, b, c]));
    expect(JSON.stringify(all)).toContain('SECRET-B');
  });

  it('evict a document that stops being readable and send whole one that starts', async () => {
    const [a, b] = [fresh('ea'), fresh('eb')];
    const c0 = await write(
      w.doc('todos', a, { owner: 'u1', title: 'A-TITLE', secret: 'SECRET-EA' }),
      w.doc('todos', b, { owner: 'u2', title: 'B-TITLE', secret: 'SECRET-EB' }),
    );
    // Only the owner cells change: a's new state is u2's, b arrives at u1 whole.
    await write(w.update('todos', a, { owner: 'u2' }), w.update('todos', b, { owner: 'u1' }));
    const mine = await u1.call('pull', { cursor: c0 });
    expect(mine.body.evicted).toEqual([{ collection: 'todos', id: a }]);
    expect(idsOf(mine.body.changes)).toEqual([b]);
    expect(fieldsOf(mine.body.changes, b)).toEqual(['id', 'owner', 'title']);
    expect(mine.text).not.toContain('A-TITLE');
    expect(mine.text).not.toContain('SECRET-');
    const theirs = await u2.pull(c0);
    expect(theirs.evicted).toEqual([{ collection: 'todos', id: b }]);
    expect(fieldsOf(theirs.changes, a)).toEqual(['id', 'owner', 'title']);
    // With a query: the same, and a document never readable is not even named.
    const scoped = await u1.pull(c0, [{ collection: 'todos' }]);
    expect(scoped.evicted).toEqual([{ collection: 'todos', id: a }]);
    const c1 = await write(w.update('todos', a, { title: 'still not yours' }));
    const later = await u1.call('pull', { cursor: c1 - 1 });
    expect(later.body.evicted).toBeUndefined();
    expect(later.body.changes).toEqual([]);
    expect(later.text).not.toContain('still not yours');
  });

  it('send the tombstone of a deleted document only to those who could read it', async () => {
    const [a, b] = [fresh('da'), fresh('db')];
    const c0 = await write(w.doc('todos', a, { owner: 'u1' }), w.doc('todos', b, { owner: 'u2' }));
    await write(w.remove('todos', a), w.remove('todos', b));
    const mine = await u1.pull(c0);
    expect(mine.changes.map((c: { id: string; field: string }) => [c.id, c.field])).toEqual([
      [a, '_deleted'],
    ]);
    expect(mine.evicted).toBeUndefined();
  });
});

describe('live', () => {
  it('fans out filtered and masked; membership changes evict or add the whole document', async () => {
    const [a, other] = [fresh('la'), fresh('lo')];
    await write(w.doc('todos', a, { owner: 'u1', title: 'L-TITLE', secret: 'SECRET-LA' }));
    const c = await LiveClient.open(t.url, APP);
    try {
      expect((await c.hello({ token: tokens.u1 })).type).toBe('welcome');
      expect((await c.subscribe('q', { collection: 'todos' })).type).toBe('subscribed');

      // Someone else's document, then only a hidden field of mine: nothing reaches u1.
      const hidden1 = await write(w.doc('todos', other, { owner: 'u2', title: 'OTHER-TITLE' }));
      const hidden2 = await write(w.update('todos', a, { secret: 'SECRET-LA-2' }));
      const seen = await write(w.update('todos', a, { title: 'L-TITLE-2' }));
      const m1 = await c.next((m) => m.type === 'changes' && m.cursor === seen);
      expect(m1.cells.map((x: { field: string }) => x.field)).toEqual(['title']);
      expect(c.messages.some((m) => m.cursor === hidden1 || m.cursor === hidden2)).toBe(false);

      // Given away: evicted, with no cell of its new state.
      const gone = await write(w.update('todos', a, { owner: 'u2', title: 'NOW-U2S' }));
      const m2 = await c.next((m) => m.type === 'changes' && m.cursor === gone);
      expect(m2.evicted).toEqual([{ collection: 'todos', id: a }]);
      expect(m2.cells).toEqual([]);

      // Given to me: the whole document (what I may see of it), not only the owner cell.
      const back = await write(w.update('todos', other, { owner: 'u1' }));
      const m3 = await c.next((m) => m.type === 'changes' && m.cursor === back);
      expect(m3.evicted).toBeUndefined();
      expect(fieldsOf(m3.cells, other)).toEqual(['id', 'owner', 'title']);

      const raw = JSON.stringify(c.messages);
      expect(raw).not.toContain('SECRET-');
      expect(raw).not.toContain('NOW-U2S');
    } finally {
      c.close();
    }
  });

  it('a catch-up from a cursor carries the evictions since it', async () => {
    const a = fresh('ca');
    const c0 = await write(w.doc('todos', a, { owner: 'u1', title: 'x' }));
    await write(w.update('todos', a, { owner: 'u2' }));
    const c = await LiveClient.open(t.url, APP);
    try {
      await c.hello({ token: tokens.u1 });
      await c.subscribe('q', { collection: 'todos' }, c0);
      const catchUp = c.messages.filter((m) => m.type === 'changes' && m.queryId === 'q');
      expect(catchUp.flatMap((m) => m.evicted ?? [])).toEqual([{ collection: 'todos', id: a }]);
      expect(catchUp.flatMap((m) => m.cells).filter((x: { id: string }) => x.id === a)).toEqual([]);
    } finally {
      c.close();
    }
  });

  it('poke mode: no poke for a change the principal cannot see, one for an eviction', async () => {
    const [mine, theirs] = [fresh('km'), fresh('kt')];
    await write(w.doc('todos', mine, { owner: 'u1' }), w.doc('todos', theirs, { owner: 'u2' }));
    const c = await LiveClient.open(t.url, APP);
    try {
      await c.hello({ token: tokens.u1, mode: 'poke' });
      await c.subscribe('q', { collection: 'todos' });
      const invisible = await write(w.update('todos', theirs, { title: 'nope' }));
      const masked = await write(w.update('todos', mine, { secret: 'SECRET-K' }));
      const evicting = await write(w.update('todos', mine, { owner: 'u2' }));
      await c.next((m) => m.type === 'poke' && m.cursor === evicting);
      const pokes = c.messages.filter((m) => m.type === 'poke').map((m) => m.cursor);
      expect(pokes).not.toContain(invisible);
      expect(pokes).not.toContain(masked);
    } finally {
      c.close();
    }
  });
});

describe('a real client', () => {
  type Todo = { id: string; owner: string; title?: string; secret?: string };
  function open(name: string, mode: 'changes' | 'poke' | 'polling') {
    const client: Client = createClient({
      persistence: createFilePersistence({ path: join(t.dataDir, `${name}.omnisync`), fsync: false }),
      onError: () => {},
    });
    const source = createServerSource({
      app: APP,
      server: t.url,
      auth: () => tokens.u1,
      WebSocket: mode === 'polling' ? null : (WebSocket as unknown as WebSocketConstructor),
      ...(mode === 'poke' ? { liveMode: 'poke' as const } : {}),
      pollIntervalMs: 50,
    });
    const todos = client.collection<Todo>({ id: 'todos', source });
    return { client, source, todos };
  }
  const until = async (check: () => boolean, what: string) => {
    const deadline = Date.now() + 10_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  for (const mode of ['changes', 'poke', 'polling'] as const) {
    it(`drops an evicted row from its live query and gains a row given to it (${mode === 'polling' ? 'polling' : `live, ${mode}`}), across a restart`, async () => {
      const [a, b] = [fresh('ra'), fresh('rb')];
      await write(
        w.doc('todos', a, { owner: 'u1', title: 'A', secret: 'SECRET-RA' }),
        w.doc('todos', b, { owner: 'u2', title: 'B' }),
      );
      const name = fresh(mode);
      let r = open(name, mode);
      await r.todos.ready;
      const rows = liveQuery(r.client, q<Todo>('todos'));
      const stop = rows.subscribe(() => {});
      await until(() => rows.value.some((d) => d.id === a), 'the row arrived');
      expect(rows.value.find((d) => d.id === a)).toEqual({ id: a, owner: 'u1', title: 'A' });
      expect(rows.value.some((d) => d.id === b)).toBe(false);
      // Live modes: the socket is up and caught up, so what follows comes by fan-out (or a poke).
      if (mode !== 'polling')
        await until(() => r.source.status.get().transport === 'websocket', 'the live socket is ready');

      await write(w.update('todos', a, { owner: 'u2' }), w.update('todos', b, { owner: 'u1' }));
      await until(() => !rows.value.some((d) => d.id === a), 'the evicted row left the live query');
      await until(() => rows.value.some((d) => d.id === b), 'the given row joined the live query');
      expect(rows.value.find((d) => d.id === b)).toEqual({ id: b, owner: 'u1', title: 'B' });
      expect(r.todos.has(a)).toBe(false);
      // No delete was made: nothing to push, and the server still has the document.
      expect(r.source.experimental_outbox()).toEqual([]);
      await r.client.sync();
      expect(idsOf((await admin.snapshot([{ collection: 'todos', where: { id: a } }])).cells)).toEqual([a]);
      stop();
      await r.client.close();

      // The eviction was persisted: a restart does not bring the row back.
      r = open(name, mode);
      await r.todos.ready;
      expect(r.todos.has(a)).toBe(false);
      expect(r.todos.get(b)).toEqual({ id: b, owner: 'u1', title: 'B' });
      await r.client.close();
    });
  }
});
