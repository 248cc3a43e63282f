/**
 * A write the server's permission rules refuse, seen from the real client (issue 13): its
 * transaction ends `failed` with NonRetriableError whose cause is PermissionDeniedError
 * (`permission_denied`, the rule and clause in its details), and its optimistic change is
 * rolled back. The client is given no rules here, so the refusal comes from the server.
 */
import {
  defineMutators,
  defineRules,
  NonRetriableError,
  PermissionDeniedError,
  principal,
} from '@omnisync/core';
import { expect, test } from 'vitest';
import { createClient } from '@omnisync/client';
import { signToken } from '../../../server/test/helpers/jwt.js';
import { createNetworkSwitch, inProcessServer } from './helpers.js';

const SECRET = 'client-rules-test-secret-0123456789abcdef';
const APP = 'rulesapp';
type Todo = { id: string; owner: string; title: string };

const rules = defineRules({
  todos: {
    read: { owner: principal('sub') },
    insert: { owner: principal('sub') },
    update: { owner: principal('sub') },
    delete: { owner: principal('sub') },
    writeMask: ['audit'],
  },
});
const mutators = defineMutators({
  async handOver(tx, args: { id: string; to: string }) {
    await tx.set('todos', args.id, { owner: args.to });
  },
});

const srv = inProcessServer('omni-rules-client-', { auth: { secret: SECRET }, rules, mutators });

function open(sub: string) {
  const net = createNetworkSwitch();
  const client = createClient({
    app: APP,
    server: srv.url,
    auth: () => signToken(SECRET, { app: APP, sub }),
    mutators,
    serverOptions: { WebSocket: null, pollIntervalMs: 60_000, fetch: net.fetch },
    onError: () => {},
  });
  const todos = client.collection<Todo>({ id: 'todos' });
  return { client, todos, net };
}

function expectRefused(tx: { state: string; error?: { error: unknown } | undefined }, rule: string) {
  expect(tx.state).toBe('failed');
  const err = tx.error?.error;
  expect(err).toBeInstanceOf(NonRetriableError);
  const cause = (err as NonRetriableError).cause;
  expect(cause).toBeInstanceOf(PermissionDeniedError);
  expect((cause as PermissionDeniedError).code).toBe('permission_denied');
  expect((cause as PermissionDeniedError).details).toMatchObject({ collection: 'todos', rule });
  expect((err as NonRetriableError).details).toMatchObject({ code: 'permission_denied' });
}

test('refused insert, update and mutator: failed with NonRetriableError(PermissionDeniedError), rolled back', async () => {
  const alice = open('alice');
  await alice.todos.ready;

  await alice.todos.insert({ id: 't1', owner: 'alice', title: 'mine' }).promise;

  // An insert for someone else: optimistic at once, then refused and gone.
  const planted = alice.todos.insert({ id: 't2', owner: 'bob', title: 'planted' });
  expect(alice.todos.get('t2')).toMatchObject({ owner: 'bob' });
  await planted.promise.catch(() => {});
  expectRefused(planted, 'insert');
  expect(alice.todos.get('t2')).toBeUndefined();

  // Giving my todo away (the update's new side): the optimistic owner change is rolled back.
  const give = alice.todos.update('t1', (d) => {
    d.owner = 'bob';
  });
  expect(alice.todos.get('t1')?.owner).toBe('bob');
  await give.promise.catch(() => {});
  expectRefused(give, 'update');
  expect((give.error?.error as NonRetriableError).message).toContain('new document');
  expect(alice.todos.get('t1')).toEqual({ id: 't1', owner: 'alice', title: 'mine' });

  // A write-masked field.
  const masked = alice.todos.update('t1', (d) => {
    (d as Todo & { audit?: string }).audit = 'x';
  });
  await masked.promise.catch(() => {});
  expectRefused(masked, 'writeMask');
  expect(alice.todos.get('t1')).toEqual({ id: 't1', owner: 'alice', title: 'mine' });

  // A named mutator's writes are checked the same way.
  const handed = alice.client.mutate('handOver', { id: 't1', to: 'bob' });
  await handed.promise.catch(() => {});
  expectRefused(handed, 'update');
  expect(alice.todos.get('t1')?.owner).toBe('alice');

  // Five transactions, five pushes: a refusal is not retried.
  const pushes = alice.net.sent.filter((r) => r.url.endsWith('/push')).length;
  expect(pushes).toBe(5);
  // Nothing refused was applied on the server; the allowed write was (a fresh client reads it).
  await alice.client.close();
  const check = open('alice');
  await check.todos.ready;
  await check.client.sync();
  expect(check.todos.get('t1')).toEqual({ id: 't1', owner: 'alice', title: 'mine' });
  expect(check.todos.get('t2')).toBeUndefined();
  await check.client.close();
});
