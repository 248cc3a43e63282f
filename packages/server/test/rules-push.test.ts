/**
 * Permission rules on writes (issue 13): push over HTTP and over the WebSocket, named
 * mutators (run with the principal) and rooms, against a real server on loopback with its
 * SQLite files, and the auth matrix with rules on. A refused mutation applies nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mutators, rules } from './fixtures/rules-write.js';
import { signToken, tamperToken } from './helpers/jwt.js';
import { CellWriter, HttpClient, LiveClient, mutation, post } from './helpers/protocol-client.js';
import { startServer, type TestServer } from './helpers/servers.js';

const SECRET = 'rules-write-test-secret-0123456789abcdef';
const APP = 'rw';
let t: TestServer;
let alice: HttpClient;
let bob: HttpClient;
let admin: HttpClient;
let tokens: Record<'alice' | 'bob' | 'admin' | 'nosub', string>;
const w = new CellWriter('rules_w1');

const statuses = (res: { results: any[] }) =>
  res.results.map((r) => (r.status === 'applied' ? 'applied' : `rejected:${r.error.code}`));

/** Every document (as the admin, whom the read rule lets see everything), by id. */
async function docs(): Promise<Map<string, Record<string, unknown>>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const c of (await admin.snapshot()).cells) {
    const key = `${c.collection}/${c.id}`;
    const d = out.get(key) ?? {};
    d[c.field] = c.value;
    out.set(key, d);
  }
  for (const [k, d] of out) if (d._deleted) out.delete(k);
  return out;
}

beforeAll(async () => {
  t = await startServer({ auth: { secret: SECRET }, rules });
  tokens = {
    alice: await signToken(SECRET, { app: APP, sub: 'alice', team: 'red' }),
    bob: await signToken(SECRET, { app: APP, sub: 'bob', team: 'blue' }),
    admin: await signToken(SECRET, { app: APP, sub: 'root', roles: ['admin'] }),
    nosub: await signToken(SECRET, { app: APP, team: 'red' }),
  };
  alice = new HttpClient(t.url, APP, tokens.alice);
  bob = new HttpClient(t.url, APP, tokens.bob);
  admin = new HttpClient(t.url, APP, tokens.admin);
});
afterAll(() => t.close());

describe('rules on push (HTTP)', () => {
  it('allows an insert the rule allows and refuses one for another owner, applying nothing of it', async () => {
    const res = await alice.push('c_alice', [
      mutation(w.doc('todos', 'a1', { owner: 'alice', title: 'mine' })),
      mutation(w.doc('todos', 'a2', { owner: 'bob', title: 'planted' })),
    ]);
    expect(statuses(res)).toEqual(['applied', 'rejected:permission_denied']);
    const refused = res.results[1].error;
    expect(refused.message).toContain('todos.insert');
    expect(refused.message).toContain('owner eq "alice"');
    expect(refused.details).toMatchObject({
      collection: 'todos',
      id: 'a2',
      operation: 'insert',
      rule: 'insert',
    });
    const all = await docs();
    expect(all.get('todos/a1')).toMatchObject({ owner: 'alice', title: 'mine' });
    expect(all.has('todos/a2')).toBe(false);
  });

  it('checks an update on the old document and on the new one', async () => {
    await bob.push('c_bob', [mutation(w.doc('todos', 'b1', { owner: 'bob', title: 'bob’s' }))]);
    const res = await alice.push('c_alice', [
      // another user's document (old side)
      mutation(w.update('todos', 'b1', { title: 'hijacked' })),
      // my own document given away (new side)
      mutation(w.update('todos', 'a1', { owner: 'bob' })),
      // my own document, still mine
      mutation(w.update('todos', 'a1', { title: 'renamed' })),
    ]);
    expect(statuses(res)).toEqual(['rejected:permission_denied', 'rejected:permission_denied', 'applied']);
    expect(res.results[0].error.message).toContain('on the old document');
    expect(res.results[1].error.message).toContain('on the new document');
    expect(res.results[1].error.details).toMatchObject({ operation: 'update', rule: 'update' });
    const all = await docs();
    expect(all.get('todos/b1')).toMatchObject({ owner: 'bob', title: 'bob’s' });
    expect(all.get('todos/a1')).toMatchObject({ owner: 'alice', title: 'renamed' });
  });

  it('takes an { old, new } update rule side by side', async () => {
    const res = await alice.push('c_alice', [
      mutation(w.doc('notes', 'n1', { team: 'red', text: 'x' })),
      mutation(w.doc('notes', 'n2', { team: 'blue', text: 'y' })),
    ]);
    expect(statuses(res)).toEqual(['applied', 'rejected:permission_denied']);
    await bob.push('c_bob', [mutation(w.doc('notes', 'n3', { team: 'blue', text: 'z' }))]);
    const upd = await alice.push('c_alice', [
      mutation(w.update('notes', 'n1', { team: 'blue' })), // old red (mine), new unlocked: allowed
      mutation(w.update('notes', 'n3', { text: 'mine now' })), // old blue: refused
      mutation(w.update('notes', 'n1', { locked: true })), // old is blue now: refused (old side)
    ]);
    expect(statuses(upd)).toEqual(['applied', 'rejected:permission_denied', 'rejected:permission_denied']);
    expect(upd.results[1].error.message).toContain('notes.update.old');
    const lock = await bob.push('c_bob', [mutation(w.update('notes', 'n1', { locked: true }))]);
    expect(statuses(lock)).toEqual(['rejected:permission_denied']);
    expect(lock.results[0].error.message).toContain('notes.update.new');
    const all = await docs();
    expect(all.get('notes/n1')).toMatchObject({ team: 'blue', text: 'x' });
    expect(all.get('notes/n1')!.locked).toBeUndefined();
    expect(all.get('notes/n3')).toMatchObject({ text: 'z' });
  });

  it('checks a delete on the old document; a document that does not exist is checked as { id }', async () => {
    await alice.push('c_alice', [mutation(w.doc('todos', 'a3', { owner: 'alice', title: 'to go' }))]);
    const res = await alice.push('c_alice', [
      mutation(w.remove('todos', 'b1')),
      mutation(w.remove('todos', 'never-made')),
      mutation(w.remove('todos', 'a3')),
      mutation(w.remove('notes', 'n1')), // delete: false
    ]);
    expect(statuses(res)).toEqual([
      'rejected:permission_denied',
      'rejected:permission_denied',
      'applied',
      'rejected:permission_denied',
    ]);
    expect(res.results[0].error.details).toMatchObject({ operation: 'delete', rule: 'delete' });
    expect(res.results[3].error.message).toContain('constant false');
    // The refused delete of a missing id left no tombstone: its owner can still create it.
    const later = await bob.push('c_bob', [mutation(w.doc('todos', 'never-made', { owner: 'bob' }))]);
    expect(statuses(later)).toEqual(['applied']);
    const all = await docs();
    expect(all.has('todos/a3')).toBe(false);
    expect(all.has('todos/b1')).toBe(true);
    expect(all.has('todos/never-made')).toBe(true);
    expect(all.has('notes/n1')).toBe(true);
  });

  it('refuses a write touching a write-masked field (nested too), per principal', async () => {
    const res = await alice.push('c_alice', [
      mutation(w.update('todos', 'a1', { audit: 'forged' })),
      mutation(w.update('todos', 'a1', { 'meta.secret': 's' })),
      mutation(w.update('todos', 'a1', { 'meta.note': 'fine' })),
      mutation(w.update('todos', 'a1', { 'tags[x]': true })),
    ]);
    expect(statuses(res)).toEqual([
      'rejected:permission_denied',
      'rejected:permission_denied',
      'applied',
      'applied',
    ]);
    expect(res.results[0].error.details).toMatchObject({ rule: 'writeMask', clause: 'field audit' });
    const byAdmin = await admin.push('c_admin', [mutation(w.update('todos', 'a1', { audit: 'ok' }))]);
    // The admin passes the mask but not the update rule (not the owner).
    expect(statuses(byAdmin)).toEqual(['rejected:permission_denied']);
    expect(byAdmin.results[0].error.details).toMatchObject({ rule: 'update' });
    const all = await docs();
    expect(all.get('todos/a1')!.audit).toBeUndefined();
    expect(all.get('todos/a1')!['meta.secret']).toBeUndefined();
    expect(all.get('todos/a1')!['meta.note']).toBe('fine');
  });

  it('refuses the whole mutation when one of its documents is refused; the others of the push apply', async () => {
    const res = await alice.push('c_alice', [
      mutation([
        ...w.doc('todos', 'a4', { owner: 'alice', title: 'half' }),
        ...w.doc('todos', 'a5', { owner: 'bob', title: 'other half' }),
      ]),
      mutation(w.doc('todos', 'a6', { owner: 'alice' })),
    ]);
    expect(statuses(res)).toEqual(['rejected:permission_denied', 'applied']);
    // An allowed delete and update, then a refused write, in one mutation: neither applies.
    const mixed = await alice.push('c_alice', [
      mutation([
        ...w.remove('todos', 'a6'),
        ...w.update('todos', 'a1', { title: 'mixed' }),
        ...w.doc('todos', 'a7', { owner: 'bob' }),
      ]),
    ]);
    expect(statuses(mixed)).toEqual(['rejected:permission_denied']);
    const all = await docs();
    expect(all.has('todos/a4')).toBe(false);
    expect(all.has('todos/a5')).toBe(false);
    expect(all.has('todos/a6')).toBe(true);
    expect(all.has('todos/a7')).toBe(false);
    expect(all.get('todos/a1')!.title).toBe('renamed');
  });

  it('denies a collection without rules by default, and repeats a refused result on a retry', async () => {
    const m = mutation(w.doc('elsewhere', 'e1', { owner: 'alice' }));
    const res = await alice.push('c_alice', [m]);
    expect(statuses(res)).toEqual(['rejected:permission_denied']);
    expect(res.results[0].error.message).toContain('denied by default');
    const again = await alice.push('c_alice', [m]);
    expect(again.results).toEqual(res.results);
    expect((await docs()).has('elsewhere/e1')).toBe(false);
  });
});

describe('rules on push (WebSocket)', () => {
  it('gives the same per-mutation results over the socket', async () => {
    const c = await LiveClient.open(t.url, APP);
    try {
      expect((await c.hello({ token: tokens.bob, clientId: 'ws_bob' })).type).toBe('welcome');
      c.send({
        type: 'push',
        requestId: 'p1',
        clientId: 'ws_bob',
        mutations: [
          mutation(w.doc('todos', 'wb1', { owner: 'bob' })),
          mutation(w.update('todos', 'a1', { title: 'by bob' })),
          mutation(w.doc('todos', 'wb2', { owner: 'alice' })),
        ],
      });
      const ack = await c.next((m) => m.type === 'ack' && m.requestId === 'p1');
      expect(statuses(ack)).toEqual(['applied', 'rejected:permission_denied', 'rejected:permission_denied']);
      expect(ack.results[1].error.details).toMatchObject({ operation: 'update', id: 'a1' });
    } finally {
      c.close();
    }
    const all = await docs();
    expect(all.has('todos/wb1')).toBe(true);
    expect(all.has('todos/wb2')).toBe(false);
    expect(all.get('todos/a1')!.title).toBe('renamed');
  });
});

describe('the auth matrix with rules on', () => {
  it("another user's documents: neither updated nor deleted", async () => {
    const res = await bob.push('c_bob', [
      mutation(w.update('todos', 'a1', { title: 'bob was here' })),
      mutation(w.update('todos', 'a1', { owner: 'bob' })),
      mutation(w.remove('todos', 'a1')),
    ]);
    expect(statuses(res)).toEqual([
      'rejected:permission_denied',
      'rejected:permission_denied',
      'rejected:permission_denied',
    ]);
    expect((await docs()).get('todos/a1')).toMatchObject({ owner: 'alice', title: 'renamed' });
  });

  it('a forged claim (another secret, a tampered payload) is refused before any rule: 401, nothing applied', async () => {
    const otherSecret = await signToken('another-secret-entirely-0123456789abcdef', {
      app: APP,
      sub: 'alice',
    });
    const tampered = tamperToken(tokens.bob, { sub: 'alice', roles: ['admin'] });
    for (const token of [otherSecret, tampered]) {
      const r = await post(
        t.url,
        `/v1/apps/${APP}/push`,
        { clientId: 'forger', mutations: [mutation(w.update('todos', 'a1', { title: 'forged' }))] },
        { token },
      );
      expect(r.status).toBe(401);
      expect(r.body.error.code).toBe('unauthorized');
      const c = await LiveClient.open(t.url, APP);
      const hello = await c.hello({ token, clientId: 'forger' });
      expect(hello.type).toBe('error');
      expect(hello.error.code).toBe('unauthorized');
      c.close();
    }
    expect((await docs()).get('todos/a1')!.title).toBe('renamed');
  });

  it('a token without sub owns nothing: no insert, update or delete through owner rules', async () => {
    const nosub = new HttpClient(t.url, APP, tokens.nosub);
    const res = await nosub.push('c_nosub', [
      mutation(w.doc('todos', 'ns1', { title: 'no owner field' })),
      mutation(w.doc('todos', 'ns2', { owner: null, title: 'null owner' })),
      mutation(w.update('todos', 'a1', { title: 'nosub' })),
      mutation(w.remove('todos', 'a1')),
      // a claim it has still works
      mutation(w.doc('notes', 'ns3', { team: 'red' })),
    ]);
    expect(statuses(res)).toEqual([
      'rejected:permission_denied',
      'rejected:permission_denied',
      'rejected:permission_denied',
      'rejected:permission_denied',
      'applied',
    ]);
    const all = await docs();
    expect(all.has('todos/ns1')).toBe(false);
    expect(all.has('todos/ns2')).toBe(false);
    expect(all.has('notes/ns3')).toBe(true);
  });
});

describe('rules on rooms', () => {
  it('refuses a join and an event the $rooms rules do not allow, with permission_denied', async () => {
    const a = await LiveClient.open(t.url, APP);
    const b = await LiveClient.open(t.url, APP);
    try {
      await a.hello({ token: tokens.alice, clientId: 'room_a' });
      await b.hello({ token: tokens.bob, clientId: 'room_b' });
      a.send({ type: 'join', room: 'lobby' });
      await a.next((m) => m.type === 'room' && m.room === 'lobby');
      b.send({ type: 'join', room: 'user:alice' });
      const refused = await b.next((m) => m.type === 'error');
      expect(refused.error.code).toBe('permission_denied');
      expect(refused.error.details).toMatchObject({ room: 'user:alice', operation: 'join' });
      // Not a member: its events are refused as before any rule.
      b.send({ type: 'event', room: 'user:alice', name: 'hi' });
      await b.nextNew((m) => m.type === 'error' && m.error.code === 'invalid_state');
      b.send({ type: 'join', room: 'lobby' });
      await b.next((m) => m.type === 'room' && m.room === 'lobby');
      const from = b.messages.length;
      b.send({ type: 'event', room: 'lobby', name: 'announce', payload: 'all hands' });
      const ev = await b.next((m) => m.type === 'error', 10_000, from);
      expect(ev.error.code).toBe('permission_denied');
      expect(ev.error.details).toMatchObject({ room: 'lobby', event: 'announce', operation: 'event' });
      b.send({ type: 'event', room: 'lobby', name: 'wave', payload: 1 });
      const got = await a.next((m) => m.type === 'event' && m.name === 'wave');
      expect(got.from).toBe('bob');
      await b.ping();
      expect(a.messages.some((m) => m.type === 'event' && m.name === 'announce')).toBe(false);
      // Own room: allowed.
      a.send({ type: 'join', room: 'user:alice' });
      await a.next((m) => m.type === 'room' && m.room === 'user:alice');
    } finally {
      a.close();
      b.close();
    }
  });
});

describe('rules on named mutators', () => {
  let m: TestServer;
  let mAlice: HttpClient;
  let mBob: HttpClient;
  let mAdmin: HttpClient;
  beforeAll(async () => {
    m = await startServer({ auth: { secret: SECRET }, rules, mutators });
    mAlice = new HttpClient(m.url, APP, tokens.alice);
    mBob = new HttpClient(m.url, APP, tokens.bob);
    mAdmin = new HttpClient(m.url, APP, tokens.admin);
  });
  afterAll(() => m.close());
  const call = (name: string, args: unknown) => ({ ...mutation([]), name, args });

  it('runs mutators with the principal and checks their writes like plain ones', async () => {
    const res = await mAlice.push('m_alice', [
      call('create', { id: 'm1', title: 'one' }),
      call('give', { id: 'm1', to: 'bob' }),
      call('retitle', { id: 'm1', title: 'two' }),
      call('both', { mine: 'm2', theirs: 'm3' }),
    ]);
    expect(statuses(res)).toEqual([
      'applied',
      'rejected:permission_denied',
      'applied',
      'rejected:permission_denied',
    ]);
    expect(res.results[1].error.message).toContain('on the new document');
    const byBob = await mBob.push('m_bob', [
      call('retitle', { id: 'm1', title: 'bob' }),
      call('remove', { id: 'm1' }),
    ]);
    expect(statuses(byBob)).toEqual(['rejected:permission_denied', 'rejected:permission_denied']);
    const byAdmin = await mAdmin.push('m_admin', [call('create', { id: 'm4', title: 'root' })]);
    expect(statuses(byAdmin)).toEqual(['applied']);
    const cells = (await mAdmin.snapshot()).cells;
    const doc = (id: string) =>
      Object.fromEntries(cells.filter((c) => c.id === id).map((c) => [c.field, c.value]));
    expect(doc('m1')).toMatchObject({ owner: 'alice', title: 'two', byRoles: '' });
    expect(doc('m4')).toMatchObject({ owner: 'root', byRoles: 'admin' });
    expect(cells.some((c) => c.id === 'm2' || c.id === 'm3')).toBe(false);
  });
});
