/**
 * The client's rules pre-check (issue 13 part 3) against a real server with the same rules on
 * loopback: a write the rules refuse fails at once, before any request (pushes are counted on
 * the client's real network), rolled back and never queued in the outbox, with the error the
 * server gives for the same write when the pre-check is off (a client without rules): same
 * code, same message, same details.
 */
import {
  defineMutators,
  defineRules,
  NonRetriableError,
  PermissionDeniedError,
  principal,
  ValidationError,
} from '@omnisync/core';
import { describe, expect, test } from 'vitest';
import {
  type Client,
  createClient,
  createLeanClient,
  createLocalOnlySource,
  createMemoryPersistence,
  mutatorsFeature,
  type Transaction,
} from '@omnisync/client';
import { signToken } from '../../../server/test/helpers/jwt.js';
import { createNetworkSwitch, inProcessServer } from './helpers.js';

const SECRET = 'client-precheck-test-secret-0123456789abcdef';
const APP = 'precheckapp';
type Todo = { id: string; owner: string; title: string; audit?: string };

const rules = defineRules({
  todos: {
    read: { owner: principal('sub') },
    insert: { owner: principal('sub') },
    update: { old: { owner: principal('sub') }, new: { owner: principal('sub') } },
    delete: (p) => ((p.roles as string[] | undefined) ?? []).includes('admin'),
    writeMask: ['audit'],
  },
});
const mutators = defineMutators({
  async handOver(tx, args: { id: string; to: string }) {
    await tx.set('todos', args.id, { owner: args.to });
  },
});

const srv = inProcessServer('omni-rules-precheck-', { auth: { secret: SECRET }, rules, mutators });

/** A client of `sub` on a counted network; `precheck: false` gives it no rules (the server decides alone). */
function open(sub: string, precheck = true, claims: Record<string, unknown> = {}) {
  const net = createNetworkSwitch();
  const persistence = createMemoryPersistence();
  const client = createClient({
    app: APP,
    server: srv.url,
    auth: () => signToken(SECRET, { app: APP, sub, ...claims }),
    mutators,
    persistence,
    ...(precheck ? { rules, principal: { sub, ...claims } } : {}),
    serverOptions: { WebSocket: null, pollIntervalMs: 60_000, fetch: net.fetch },
    onError: () => {},
  });
  const todos = client.collection<Todo>({ id: 'todos' });
  const pushes = () => net.sent.filter((r) => r.url.endsWith('/push')).length;
  return { client, todos, net, persistence, pushes };
}

/** The refusal a failed transaction carries: NonRetriableError caused by PermissionDeniedError. */
function refusal(tx: Transaction): { outer: NonRetriableError; cause: PermissionDeniedError } {
  expect(tx.state).toBe('failed');
  const outer = tx.error?.error as NonRetriableError;
  expect(outer).toBeInstanceOf(NonRetriableError);
  expect(outer.details).toMatchObject({ code: 'permission_denied' });
  const cause = outer.cause as PermissionDeniedError;
  expect(cause).toBeInstanceOf(PermissionDeniedError);
  expect(cause.code).toBe('permission_denied');
  return { outer, cause };
}

/** Nothing of a refused write anywhere: not in the outbox, not pending, nothing unfinished stored. */
async function nothingQueued(peer: ReturnType<typeof open>) {
  expect(peer.client.server!.experimental_outbox()).toEqual([]);
  expect(peer.client.server!.status.peek().pending).toBe(0);
  await peer.client.flush();
  const stored = await peer.persistence.load();
  expect(stored.transactions.filter((t) => !['completed', 'failed'].includes(t.state as string))).toEqual([]);
}

describe('the pre-check fails a refused write at once, without a request', () => {
  test('insert, update (old and new), delete, write mask, a transaction and a mutator', async () => {
    const alice = open('alice');
    await alice.todos.ready;
    await alice.todos.insert({ id: 't1', owner: 'alice', title: 'mine' }).promise;
    expect(alice.pushes()).toBe(1);

    // Each of these is failed when the write call returns: nothing shows, nothing is sent.
    const planted = alice.todos.insert({ id: 't2', owner: 'bob', title: 'planted' });
    expect(refusal(planted).cause.details).toMatchObject({ operation: 'insert', rule: 'insert', id: 't2' });
    expect(alice.todos.get('t2')).toBeUndefined();
    await expect(planted.promise).rejects.toBeInstanceOf(NonRetriableError);

    const give = alice.todos.update('t1', (d) => {
      d.owner = 'bob';
    });
    expect(refusal(give).cause.message).toContain('on the new document');
    expect(alice.todos.get('t1')).toEqual({ id: 't1', owner: 'alice', title: 'mine' });

    const masked = alice.todos.update('t1', { audit: 'x' });
    expect(refusal(masked).cause.details).toMatchObject({ rule: 'writeMask', clause: 'field audit' });

    const removed = alice.todos.delete('t1');
    expect(refusal(removed).cause.details).toMatchObject({ operation: 'delete', rule: 'delete' });
    expect(alice.todos.get('t1')).toBeDefined();

    // All or nothing: one refused document fails the whole transaction, the allowed write too.
    const both = alice.client.transaction(() => {
      alice.todos.insert({ id: 't3', owner: 'alice', title: 'fine' });
      alice.todos.insert({ id: 't4', owner: 'bob', title: 'not fine' });
    });
    expect(refusal(both).cause.details).toMatchObject({ id: 't4' });
    expect(alice.todos.get('t3')).toBeUndefined();

    // A named mutator's local writes are checked too (it finishes after its awaits).
    const handed = alice.client.mutate('handOver', { id: 't1', to: 'bob' });
    await handed.promise.catch(() => {});
    expect(refusal(handed).cause.details).toMatchObject({ rule: 'update' });
    expect(alice.todos.get('t1')?.owner).toBe('alice');

    await alice.client.sync();
    expect(alice.pushes()).toBe(1); // only the allowed insert ever went out
    await nothingQueued(alice);
    // The server has the allowed write only.
    const check = open('alice', false);
    await check.client.sync();
    expect(check.todos.get('t1')).toEqual({ id: 't1', owner: 'alice', title: 'mine' });
    expect(check.todos.get('t2')).toBeUndefined();
    expect(check.todos.get('t3')).toBeUndefined();
    await Promise.all([alice.client.close(), check.client.close()]);
  });

  test('allowed writes go through as before; the admin claim allows the delete', async () => {
    const admin = open('carol', true, { roles: ['admin'] });
    await admin.todos.ready;
    await admin.todos.insert({ id: 'c1', owner: 'carol', title: 'a' }).promise;
    await admin.todos.update('c1', { title: 'b' }).promise;
    await admin.todos.delete('c1').promise;
    expect(admin.pushes()).toBe(3);
    await admin.client.close();
  });
});

describe('the same error as the server', () => {
  test('pre-check on and off: the same code, message and details for each refused write', async () => {
    const on = open('dave');
    const off = open('dave', false);
    await Promise.all([on.todos.ready, off.todos.ready]);
    await off.todos.insert({ id: 'd1', owner: 'dave', title: 'mine' }).promise;
    await on.client.sync();
    expect(on.todos.get('d1')).toBeDefined();

    const writes: [string, (p: typeof on) => Transaction][] = [
      ['insert', (p) => p.todos.insert({ id: 'd2', owner: 'erin', title: 'x' })],
      ['update new', (p) => p.todos.update('d1', { owner: 'erin' })],
      ['write mask', (p) => p.todos.update('d1', { audit: 'x' })],
      ['delete', (p) => p.todos.delete('d1')],
    ];
    for (const [what, w] of writes) {
      const before = on.pushes();
      const early = refusal(w(on));
      expect(on.pushes(), what).toBe(before);
      const late = w(off);
      expect(late.state, what).not.toBe('failed'); // no pre-check: it goes to the server
      await late.promise.catch(() => {});
      const server = refusal(late);
      expect(early.cause.code, what).toBe(server.cause.code);
      expect(early.cause.message, what).toBe(server.cause.message);
      expect(early.cause.details, what).toEqual(server.cause.details);
      expect(early.outer.details, what).toEqual(server.outer.details);
    }
    await Promise.all([on.client.close(), off.client.close()]);
  });
});

describe('what is and is not checked', () => {
  test('a local-only collection is not checked (no rules name it, and it never reaches the server)', async () => {
    const alice = open('alice');
    const ui = alice.client.collection<{ id: string; open: boolean }>({
      id: 'ui',
      source: createLocalOnlySource('local:ui'),
    });
    await ui.insert({ id: 'panel', open: true }).promise;
    expect(ui.get('panel')).toEqual({ id: 'panel', open: true });
    await alice.client.close();
  });

  test('a principal function: read at each write; undefined (signed out) leaves the write to the server', async () => {
    const session: { claims?: { sub: string } } = {};
    const net = createNetworkSwitch();
    const client = createClient({
      app: APP,
      server: srv.url,
      auth: () => signToken(SECRET, { app: APP, sub: 'frank' }),
      rules,
      principal: () => session.claims,
      serverOptions: { WebSocket: null, pollIntervalMs: 60_000, fetch: net.fetch },
      onError: () => {},
    });
    const todos = client.collection<Todo>({ id: 'todos' });
    await todos.ready;
    const unchecked = todos.insert({ id: 'f1', owner: 'gina', title: 'x' });
    expect(unchecked.state).not.toBe('failed');
    await unchecked.promise.catch(() => {});
    expect(refusal(unchecked).outer.message).toContain('The server rejected'); // the server said no
    session.claims = { sub: 'frank' };
    const checked = todos.insert({ id: 'f2', owner: 'gina', title: 'x' });
    expect(refusal(checked).outer.message).toContain('The rules refused transaction');
    expect(net.sent.filter((r) => r.url.endsWith('/push'))).toHaveLength(1);
    await client.close();
  });

  test('createLeanClient takes rules too', async () => {
    const client = createLeanClient(
      { app: APP, server: srv.url, rules, principal: { sub: 'hal' }, serverOptions: { WebSocket: null } },
      { mutators: mutatorsFeature },
    );
    const todos = client.collection<Todo>({ id: 'todos' });
    expect(todos.insert({ id: 'h1', owner: 'ivy', title: 'x' }).state).toBe('failed');
    await client.close();
  });

  test('bad options: ValidationError saying what to pass', async () => {
    const clients: Client[] = [];
    expect(() => clients.push(createClient({ rules }))).toThrow(ValidationError);
    expect(() => clients.push(createClient({ rules }))).toThrow(/needs `principal`/);
    expect(() =>
      clients.push(createClient({ rules: { kind: 'omnisync.rules' } as never, principal: { sub: 'x' } })),
    ).toThrow(/defineRules/);
    expect(clients).toEqual([]);
  });
});
