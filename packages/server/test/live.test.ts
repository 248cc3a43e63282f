/** WebSocket live sync against a real server on loopback (clients are `ws` in this process). */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { op, q } from '@omnisync/core';
import { CellWriter, HttpClient, LiveClient, mutation } from './helpers/protocol-client.js';
import { startServer, type TestServer } from './helpers/servers.js';

let t: TestServer;
const open: LiveClient[] = [];
const live = async (app: string) => {
  const c = await LiveClient.open(t.url, app);
  open.push(c);
  return c;
};

beforeAll(async () => {
  t = await startServer({
    live: { heartbeatMs: 200, maxBufferedBytes: 64 * 1024, slowConsumerGraceMs: 30_000 },
  });
});
afterEach(() => {
  for (const c of open.splice(0)) c.close();
});
afterAll(() => t.close());

const cellsFor = (c: LiveClient, id: string) => c.cells().filter((x) => x.id === id);

describe('targeted fan-out', () => {
  it('sends a change only to connections whose query matches the document before or after it', async () => {
    const app = 'fanout';
    const http = new HttpClient(t.url, app);
    const w = new CellWriter('fan_1');
    const u1 = await live(app);
    const u2 = await live(app);
    const other = await live(app);
    for (const c of [u1, u2, other]) expect((await c.hello({ clientId: 'x' })).type).toBe('welcome');
    expect((await u1.subscribe('mine', { collection: 'todos', where: { ownerId: 'u1' } })).type).toBe(
      'subscribed',
    );
    expect((await u2.subscribe('mine', { collection: 'todos', where: { ownerId: 'u2' } })).type).toBe(
      'subscribed',
    );
    expect((await other.subscribe('notes', { collection: 'notes' })).type).toBe('subscribed');

    await http.push('p', [mutation(w.doc('todos', 't1', { title: 'u1 task', ownerId: 'u1' }))]);
    await http.push('p', [mutation(w.doc('todos', 't2', { title: 'u2 secret', ownerId: 'u2' }))]);
    await http.push('p', [mutation(w.update('todos', 't1', { title: 'u1 task, edited' }))]);
    await http.push('p', [mutation(w.update('todos', 't1', { ownerId: 'u2' }))]); // moves out of u1, into u2
    await http.push('p', [mutation(w.update('todos', 't1', { title: 'now u2 only' }))]);
    await http.push('p', [mutation(w.doc('todos', 't3', { title: 'short-lived', ownerId: 'u1' }))]);
    await http.push('p', [mutation(w.remove('todos', 't3'))]);
    const last = await http.push('p', [mutation(w.doc('todos', 'fin', { ownerId: 'u1' }))]);
    await u1.next((m) => m.type === 'changes' && m.cursor === last.cursor);

    // u1: its documents, including the change that moved t1 out and t3's delete; nothing of u2's
    expect(cellsFor(u1, 't2')).toEqual([]);
    expect(cellsFor(u1, 't1').map((c) => [c.field, c.value])).toEqual([
      ['id', 't1'],
      ['title', 'u1 task'],
      ['ownerId', 'u1'],
      ['title', 'u1 task, edited'],
      ['ownerId', 'u2'],
    ]);
    expect(cellsFor(u1, 't3').map((c) => c.field)).toEqual(['id', 'title', 'ownerId', '_deleted']);
    expect(u1.cells().some((c) => c.value === 'now u2 only')).toBe(false);

    // u2: t2, then t1 arrives whole when it moves in, then its later edit; of t3 only its
    // tombstone (deletions reach every subscriber of the collection, without data); never fin
    await u2.next((m) => m.type === 'changes' && m.cells.some((c: any) => c.value === 'now u2 only'));
    await u2.next((m) => m.type === 'changes' && m.cells.some((c: any) => c.id === 't3'));
    expect(cellsFor(u2, 't3').map((c) => c.field)).toEqual(['_deleted']);
    expect(cellsFor(u2, 'fin')).toEqual([]);
    const entered = u2.messages.find((m) => m.type === 'changes' && m.cells.some((c: any) => c.id === 't1'));
    expect(entered.cells.map((c: any) => c.field).sort()).toEqual(['id', 'ownerId', 'title']);
    expect(entered.cells.find((c: any) => c.field === 'title').value).toBe('u1 task, edited');

    // a subscriber of another collection got nothing; cursors in messages only go up
    await other.ping();
    expect(other.cells()).toEqual([]);
    const cursors = u1.messages.filter((m) => m.type === 'changes').map((m) => m.cursor);
    expect(cursors).toEqual([...cursors].sort((a, b) => a - b));
  });

  it('targets query ASTs (range, in, and/or; limit does not filter): before or after the change', async () => {
    const app = 'fanout-ast';
    const http = new HttpClient(t.url, app);
    const w = new CellWriter('fanast_1');
    const [a, b, c, bad] = [await live(app), await live(app), await live(app), await live(app)];
    for (const x of [a, b, c, bad]) await x.hello();
    // a: priority >= 3 and status in (open, review)
    await a.subscribe('q', {
      collection: 'todos',
      where: op.and(op.gte('priority', 3), op.in('status', ['open', 'review'])),
    });
    // b: owned by u2, or priority < 2
    await b.subscribe('q', q('todos').where(op.or(op.eq('ownerId', 'u2'), op.lt('priority', 2))).ast);
    // c: the top 1 of u1's and u3's by priority: every document of u1 and u3 syncs
    await c.subscribe(
      'q',
      q('todos').where('ownerId', 'in', ['u1', 'u3']).orderBy('priority', 'desc').limit(1).ast,
    );
    // a bad query is refused with a typed error and subscribes nothing
    const refused = await bad.subscribe('q', { collection: 'todos', where: { op: 'gt', field: 'priority' } });
    expect(refused.type).toBe('error');
    expect(refused.error.code).toBe('query_invalid');

    await http.push('p', [mutation(w.doc('todos', 't1', { priority: 5, status: 'open', ownerId: 'u1' }))]);
    await http.push('p', [mutation(w.doc('todos', 't2', { priority: 1, status: 'done', ownerId: 'u4' }))]);
    await http.push('p', [mutation(w.update('todos', 't1', { priority: 1 }))]); // leaves a, enters b
    await http.push('p', [mutation(w.doc('todos', 't3', { priority: 4, status: 'review', ownerId: 'u3' }))]);
    await http.push('p', [mutation(w.update('todos', 't2', { priority: 3, status: 'open' }))]); // leaves b, enters a
    await http.push('p', [mutation(w.doc('todos', 't4', { priority: 2, status: 'done', ownerId: 'u5' }))]); // nobody
    for (const x of [a, b, c, bad]) await x.ping(); // everything fanned out is ahead of the pong

    const seen = (x: LiveClient, id: string) =>
      cellsFor(x, id).map((cell) => `${cell.field}=${JSON.stringify(cell.value)}`);
    expect(seen(a, 't1')).toEqual(['id="t1"', 'priority=5', 'status="open"', 'ownerId="u1"', 'priority=1']);
    expect(seen(a, 't2').sort()).toEqual(['id="t2"', 'ownerId="u4"', 'priority=3', 'status="open"']); // whole on entry
    expect(seen(a, 't3')).toHaveLength(4);
    expect(seen(b, 't1').sort()).toEqual(['id="t1"', 'ownerId="u1"', 'priority=1', 'status="open"']); // whole on entry
    expect(seen(b, 't2')).toEqual([
      'id="t2"',
      'priority=1',
      'status="done"',
      'ownerId="u4"',
      'priority=3',
      'status="open"',
    ]);
    expect(seen(b, 't3')).toEqual([]);
    expect(seen(c, 't1')).toHaveLength(5);
    expect(seen(c, 't3')).toHaveLength(4);
    expect(seen(c, 't2')).toEqual([]);
    for (const x of [a, b, c]) expect(seen(x, 't4')).toEqual([]);
    expect(bad.cells()).toEqual([]);
  });

  it('catches a subscription up from a cursor, then streams; reset when compacted; snapshot without cursor', async () => {
    const app = 'catchup';
    const http = new HttpClient(t.url, app);
    const w = new CellWriter('cu_1');
    await http.push('p', [mutation(w.doc('t', 'a', { v: 1 }))]);
    const c1 = (await http.pull(0)).cursor;
    await http.push('p', [mutation(w.update('t', 'a', { v: 2 })), mutation(w.doc('t', 'b', { v: 1 }))]);

    const fromCursor = await live(app);
    await fromCursor.hello({ cursor: c1 });
    const sub = await fromCursor.subscribe('q', { collection: 't' });
    expect(sub.type).toBe('subscribed');
    expect(
      fromCursor
        .cells()
        .map((c) => `${c.id}.${c.field}=${c.value}`)
        .sort(),
    ).toEqual(['a.v=2', 'b.id=b', 'b.v=1']);
    await http.push('p', [mutation(w.update('t', 'b', { v: 9 }))]);
    const liveMsg = await fromCursor.next((m) => m.type === 'changes' && m.queryId === undefined);
    expect(liveMsg.cells.map((c: any) => c.value)).toEqual([9]);
    expect(liveMsg.cursor).toBeGreaterThan(sub.cursor);

    const fresh = await live(app);
    await fresh.hello();
    await fresh.subscribe('q', { collection: 't' });
    expect(new Set(fresh.cells().map((c) => c.id))).toEqual(new Set(['a', 'b']));

    const head = (await http.pull(0)).cursor;
    await t.server.engine.gc(app, { olderThanVersion: head });
    const stale = await live(app);
    await stale.hello({ cursor: c1 });
    const s = await stale.subscribe('q', { collection: 't' });
    expect(s.type).toBe('subscribed');
    expect(stale.messages.map((m) => m.type)).toEqual(['welcome', 'reset', 'changes', 'subscribed']);
    // Its answer to the reset, a subscribe without a cursor, gets a snapshot, not the
    // (compacted) hello cursor's reset again (that was a reset → resubscribe loop).
    const again = await stale.subscribe('q', { collection: 't' });
    expect(again.type).toBe('subscribed');
    expect(stale.messages.filter((m) => m.type === 'reset')).toHaveLength(1);
  });

  it('pushes over the socket with an ack after commit, and stops sending after unsubscribe', async () => {
    const app = 'wspush';
    const w = new CellWriter('wsp_1');
    const a = await live(app);
    const b = await live(app);
    await a.hello();
    await b.hello();
    await b.subscribe('all', { collection: 'x' });
    const m = mutation(w.doc('x', 'one', { v: 1 }));
    a.send({ type: 'push', requestId: 'r1', clientId: 'a', mutations: [m] });
    const ack = await a.next((msg) => msg.type === 'ack');
    expect(ack).toEqual({
      type: 'ack',
      requestId: 'r1',
      results: [{ id: m.id, status: 'applied' }],
      cursor: expect.any(Number),
    });
    await b.next((msg) => msg.type === 'changes' && msg.cursor === ack.cursor);
    // retry over the socket: same result, nothing applied
    a.send({ type: 'push', requestId: 'r2', clientId: 'a', mutations: [m] });
    expect((await a.next((msg) => msg.type === 'ack' && msg.requestId === 'r2')).cursor).toBe(ack.cursor);

    b.send({ type: 'unsubscribe', queryId: 'all' });
    await b.ping();
    const before = b.messages.length;
    a.send({
      type: 'push',
      requestId: 'r3',
      clientId: 'a',
      mutations: [mutation(w.update('x', 'one', { v: 2 }))],
    });
    await a.next((msg) => msg.type === 'ack' && msg.requestId === 'r3');
    await b.ping();
    expect(b.messages.slice(before).filter((msg) => msg.type === 'changes')).toEqual([]);
  });

  it('fans out and stores only the cell fields, never extra properties a client sent', async () => {
    const app = 'extra';
    const w = new CellWriter('extra_1');
    const a = await live(app);
    const b = await live(app);
    await a.hello();
    await b.hello();
    await b.subscribe('all', { collection: 'x' });
    const cells = w.doc('x', 'one', { v: 1 }).map((c) => ({ ...c, secret: 'do-not-forward' }));
    a.send({ type: 'push', requestId: 'r', clientId: 'a', mutations: [{ id: 'm', changes: cells }] });
    const ack = await a.next((m) => m.type === 'ack');
    const got = await b.next((m) => m.type === 'changes' && m.cursor === ack.cursor);
    expect(JSON.stringify(got)).not.toContain('do-not-forward');
    const snap = await new HttpClient(t.url, app).snapshot();
    expect(JSON.stringify(snap)).not.toContain('do-not-forward');
    expect(snap.cells.map((c) => Object.keys(c).sort())).toEqual(
      cells.map(() => ['collection', 'field', 'hlc', 'id', 'value']),
    );
  });

  it('pokes instead of sending cells in poke mode', async () => {
    const app = 'poke';
    const http = new HttpClient(t.url, app);
    const w = new CellWriter('pk_1');
    const c = await live(app);
    await c.hello({ mode: 'poke' });
    await c.subscribe('q', { collection: 'x', where: { hot: true } });
    await http.push('p', [mutation(w.doc('x', 'cold', { hot: false }))]);
    const hot = await http.push('p', [mutation(w.doc('x', 'warm', { hot: true }))]);
    expect(await c.next((m) => m.type === 'poke')).toEqual({ type: 'poke', cursor: hot.cursor });
    expect(c.messages.filter((m) => m.type === 'poke')).toHaveLength(1);
    expect(c.cells()).toEqual([]);
  });
});

describe('slow consumers and heartbeats', () => {
  it('closes a slow consumer with 4008 while another client keeps receiving everything', async () => {
    // Heartbeats far apart: this test is about the buffer limit alone.
    const own = await startServer({
      live: { heartbeatMs: 60_000, maxBufferedBytes: 64 * 1024, slowConsumerGraceMs: 30_000 },
    });
    const app = 'slow';
    const http = new HttpClient(own.url, app);
    const live = async (name: string) => {
      const c = await LiveClient.open(own.url, name);
      open.push(c);
      return c;
    };
    const w = new CellWriter('slow_1');
    const slow = await live(app);
    const fast = await live(app);
    await slow.hello();
    await fast.hello();
    await slow.subscribe('q', { collection: 'blobs' });
    await fast.subscribe('q', { collection: 'blobs' });
    // The slow client stops reading: its TCP window fills, then the server's buffer.
    (slow.ws as any)._socket.pause();
    const blob = 'x'.repeat(48 * 1024);
    const total = 400; // ~19 MB: more than loopback socket buffers hold
    let lastCursor = 0;
    for (let i = 0; i < total; i++)
      lastCursor = (await http.push('p', [mutation(w.doc('blobs', `b${i}`, { data: blob }))])).cursor;
    await fast.next((m) => m.type === 'changes' && m.cursor === lastCursor, 30_000);
    expect(new Set(fast.cells().map((c) => c.id)).size).toBe(total);
    // the server dropped the slow one at once (it is no longer fanned out to)
    (slow.ws as any)._socket.resume();
    expect(await slow.closed).toEqual({ code: 4008, reason: 'slow consumer, resume by cursor' });
    expect(new Set(slow.cells().map((c) => c.id)).size).toBeLessThan(total);
    await own.close();
  });

  it('treats a connection that cannot pong because our data is queued ahead as slow (4008), not dead', async () => {
    const own = await startServer({ live: { heartbeatMs: 500, maxBufferedBytes: 1024 * 1024 * 1024 } });
    try {
      const http = new HttpClient(own.url, 'hb');
      const w = new CellWriter('hb_1');
      const slow = await LiveClient.open(own.url, 'hb');
      await slow.hello();
      await slow.subscribe('q', { collection: 'blobs' });
      (slow.ws as any)._socket.pause();
      // ~24 MB queued quickly: more than the kernel's loopback buffers, so the server holds the rest
      const blob = 'y'.repeat(800 * 1024);
      for (let i = 0; i < 30 && own.server.engine.live.size > 0; i++)
        await http.push('p', [mutation(w.doc('blobs', `b${i}`, { blob }))]);
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && own.server.engine.live.size > 0)
        await new Promise((r) => setTimeout(r, 50));
      (slow.ws as any)._socket.resume();
      expect((await slow.closed).code).toBe(4008);
    } finally {
      await own.close();
    }
  });

  it('drops a connection that stops answering pings, and keeps a healthy idle one', async () => {
    const app = 'heartbeat';
    const healthy = await live(app);
    const dead = await live(app);
    await healthy.hello();
    await dead.hello();
    expect(t.server.engine.live.size).toBeGreaterThanOrEqual(2);
    (dead.ws as any)._socket.pause(); // never reads the ping, never pongs
    // wait for several heartbeat periods (200 ms each) via the server's own state
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && t.server.engine.live.size > 1)
      await new Promise((r) => setTimeout(r, 50));
    expect(t.server.engine.live.size).toBe(1);
    await healthy.ping();
    (dead.ws as any)._socket.resume();
    expect((await dead.closed).code).toBe(1006);
  });
});

describe('rooms', () => {
  it('joins, shares presence per user, broadcasts events with an HLC, and cleans up on disconnect', async () => {
    const app = 'rooms';
    const a = await live(app);
    const b = await live(app);
    await a.hello({ clientId: 'alice' });
    await b.hello({ clientId: 'bob' });
    a.send({ type: 'join', room: 'doc-1', presence: { cursor: 1 } });
    expect(await a.next((m) => m.type === 'room')).toEqual({
      type: 'room',
      room: 'doc-1',
      user: 'alice',
      members: [{ user: 'alice', state: { cursor: 1 } }],
    });
    b.send({ type: 'join', room: 'doc-1' });
    const roomForB = await b.next((m) => m.type === 'room');
    expect(roomForB.members).toEqual([{ user: 'alice', state: { cursor: 1 } }, { user: 'bob' }]);
    expect(await a.next((m) => m.type === 'presence' && m.user === 'bob')).toEqual({
      type: 'presence',
      room: 'doc-1',
      user: 'bob',
      state: null,
    });
    b.send({ type: 'presence', room: 'doc-1', state: { cursor: 7 } });
    expect(
      (await a.next((m) => m.type === 'presence' && m.user === 'bob' && m.state !== null)).state,
    ).toEqual({ cursor: 7 });
    b.send({ type: 'event', room: 'doc-1', name: 'wave', payload: { emoji: 'hi' } });
    const ev = await a.next((m) => m.type === 'event');
    expect(ev).toMatchObject({
      type: 'event',
      room: 'doc-1',
      from: 'bob',
      name: 'wave',
      payload: { emoji: 'hi' },
    });
    expect(ev.hlc).toMatch(/^[0-9a-z]{11}-[0-9a-z]{6}-srv_/);
    expect(b.messages.filter((m) => m.type === 'event')).toEqual([]); // not echoed
    // sending to a room one has not joined is refused
    a.send({ type: 'event', room: 'elsewhere', name: 'x' });
    expect((await a.next((m) => m.type === 'error')).error.code).toBe('invalid_state');
    b.close();
    expect(
      await a.next(
        (m) => m.type === 'presence' && m.user === 'bob' && m.state === null && m.left === true,
        10_000,
        a.messages.length,
      ),
    ).toBeTruthy();
  });
});

describe('graceful shutdown', () => {
  it('closes sockets with 1001 and keeps every write it acknowledged', async () => {
    const own = await startServer();
    try {
      const http = new HttpClient(own.url, 'bye');
      const w = new CellWriter('bye_1');
      const c = await LiveClient.open(own.url, 'bye');
      await c.hello();
      const pushes = Array.from({ length: 20 }, (_, i) =>
        http.push('p', [mutation(w.doc('t', `d${i}`, { i }))]).then(
          () => 'acked',
          () => 'refused',
        ),
      );
      const closing = own.server.close();
      expect((await c.closed).code).toBe(1001);
      await closing;
      const outcomes = await Promise.all(pushes);
      expect(outcomes.length).toBe(20);
      // whatever was acknowledged is on disk
      const { createSqliteStorage } = await import('@omnisync/server');
      const s = createSqliteStorage({ file: `${own.dataDir}/bye.sqlite` });
      const stored = await s.read(async (r) => {
        let n = 0;
        for await (const _ of r.scan('t')) n++;
        return n;
      });
      await s.close();
      expect(stored).toBeGreaterThanOrEqual(outcomes.filter((o) => o === 'acked').length);
    } finally {
      await own.close();
    }
  });
});
