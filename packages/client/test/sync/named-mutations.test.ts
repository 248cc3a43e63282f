/**
 * Named mutations end to end (seed 002 `mutate(name, args)`, DESIGN.md decision 5): the
 * same `defineMutators` object runs optimistically in real clients and authoritatively in a
 * real sync server (createServer in this process, HTTP and WebSocket on loopback). What the
 * server computes is what every client ends up showing, whatever the clients guessed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import WebSocket from 'ws';
import {
  defineMutators,
  MutationRejectedError,
  NonRetriableError,
  type Scheduler,
  systemScheduler,
} from '@omnisync/core';
import { createServer } from '@omnisync/server';
import { createClient, type Transaction, type WebSocketConstructor } from '@omnisync/client';
import { createFilePersistence } from '@omnisync/client/node';
import { createNetworkSwitch, eventually, type NetworkSwitch, serverDocuments } from './helpers.js';

type Counter = { id: string; n: number; touchedBy?: string };
type Account = { id: string; balance: number };
type Task = { id: string; title: string; assignee?: string; requestedBy?: string };

const mutators = defineMutators({
  async increment(tx, args: { id: string }) {
    const c = await tx.get('counters', args.id);
    await tx.set('counters', args.id, { n: ((c?.n as number | undefined) ?? 0) + 1, touchedBy: tx.location });
  },
  async withdraw(tx, args: { id: string; amount: number }) {
    const a = await tx.get('accounts', args.id);
    const balance = (a?.balance as number | undefined) ?? 0;
    if (balance < args.amount)
      return tx.reject(`insufficient funds: balance ${balance}, asked ${args.amount}`);
    await tx.set('accounts', args.id, { balance: balance - args.amount });
  },
  // Take a task if it is free; if someone has it, ask for it instead (different fields).
  async claim(tx, args: { id: string; who: string }) {
    const task = await tx.get('tasks', args.id);
    if (task?.assignee === undefined) await tx.set('tasks', args.id, { assignee: args.who });
    else await tx.set('tasks', args.id, { requestedBy: args.who });
  },
  async remove(tx, args: { collection: string; id: string }) {
    await tx.delete(args.collection, args.id);
  },
});

const APP = 'named';
let dir: string;
let server: ReturnType<typeof createServer>;
let url: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'omni-named-'));
  server = createServer({ dataDir: join(dir, 'server'), durability: 'off', logLevel: 'silent', mutators });
  url = (await server.listen(0)).url;
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/**
 * A client of the test server. Without `live`, only `sync()` (and the push after a write)
 * moves data, so the test says when clients see each other.
 */
function open(o: { net?: NetworkSwitch; live?: boolean; scheduler?: Scheduler; path?: string } = {}) {
  const client = createClient({
    app: APP,
    server: url,
    mutators,
    ...(o.scheduler ? { scheduler: o.scheduler } : {}),
    ...(o.path ? { persistence: createFilePersistence({ path: o.path, fsync: false }) } : {}),
    serverOptions: {
      WebSocket: o.live ? (WebSocket as unknown as WebSocketConstructor) : null,
      pollIntervalMs: 60_000,
      backoff: { baseDelayMs: 20, maxDelayMs: 100 },
      ...(o.net ? { fetch: o.net.fetch } : {}),
    },
    onError: () => {},
  });
  const counters = client.collection<Counter>({ id: 'counters' });
  const accounts = client.collection<Account>({ id: 'accounts' });
  const tasks = client.collection<Task>({ id: 'tasks' });
  return { client, counters, accounts, tasks };
}

const pushes = (net: NetworkSwitch) => net.sent.filter((r) => r.url.endsWith('/push'));

test('optimistic at once, before the push; the server result replaces the guess once pulled', async () => {
  const net = createNetworkSwitch();
  const a = open({ net });
  await a.counters.ready;
  net.online = false;
  const tx = a.client.mutate('increment', { id: 'c1' });
  await eventually(() => a.counters.get('c1') !== undefined, 'optimistic write visible');
  // Shown by the client's own run; nothing has reached the server.
  expect(a.counters.get('c1')).toEqual({ id: 'c1', n: 1, touchedBy: 'client' });
  expect(tx.mutator).toEqual({ name: 'increment', args: { id: 'c1' } });
  expect(tx.state).not.toBe('completed');
  expect(pushes(net)).toHaveLength(0);
  expect(await serverDocuments(url, APP, 'counters')).toEqual([]);

  net.online = true;
  await a.client.sync();
  await tx.promise;
  // The push carried the name and args besides the optimistic cells.
  const body = pushes(net)[0]!.body as {
    mutations: { id: string; name: string; args: unknown; changes: unknown[] }[];
  };
  expect(body.mutations).toEqual([
    expect.objectContaining({ id: tx.id, name: 'increment', args: { id: 'c1' }, changes: expect.any(Array) }),
  ]);
  expect(body.mutations[0]!.changes.length).toBeGreaterThan(0);
  // The server ran it too: its own cells (touchedBy: 'server') are what the client now shows.
  expect(await serverDocuments(url, APP, 'counters')).toEqual([{ id: 'c1', n: 1, touchedBy: 'server' }]);
  expect(a.counters.get('c1')).toEqual({ id: 'c1', n: 1, touchedBy: 'server' });
  await a.client.close();
});

test('a server rejection fails the transaction with NonRetriableError carrying the reason, and rolls it back', async () => {
  const a = open();
  const net = createNetworkSwitch();
  const b = open({ net });
  await Promise.all([a.accounts.ready, b.accounts.ready]);
  await a.accounts.insert({ id: 'acc', balance: 10 }).promise;
  await b.client.sync();
  expect(b.accounts.get('acc')?.balance).toBe(10);
  // A spends 8; B, not synced since, still sees 10 and asks for 5: fine here, not on the server.
  await a.client.mutate('withdraw', { id: 'acc', amount: 8 }).promise;
  net.online = false;
  const tx = b.client.mutate('withdraw', { id: 'acc', amount: 5 });
  await eventually(() => b.accounts.get('acc')?.balance === 5, 'optimistic withdrawal shown');
  net.online = true;
  void b.client.sync().catch(() => {});
  const error = await tx.promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(NonRetriableError);
  expect((error as Error).message).toContain('insufficient funds: balance 2, asked 5');
  expect((error as Error).cause).toBeInstanceOf(MutationRejectedError);
  expect(((error as Error).cause as Error).message).toBe('insufficient funds: balance 2, asked 5');
  expect(tx.state).toBe('failed');
  // Rolled back: B shows what it had, then the server's value once it syncs.
  expect(b.accounts.get('acc')?.balance).toBe(10);
  await b.client.sync();
  expect(b.accounts.get('acc')?.balance).toBe(2);
  expect(await serverDocuments(url, APP, 'accounts')).toEqual([{ id: 'acc', balance: 2 }]);
  await Promise.all([a.client.close(), b.client.close()]);
});

test('concurrent increments by two clients converge to the server total (one client clock a minute ahead)', async () => {
  // B's optimistic cells carry later stamps than anything the server writes for it: only
  // dropping them (not last-write-wins) lets the server's total show on B.
  const ahead: Scheduler = { now: () => Date.now() + 60_000, setTimeout: systemScheduler.setTimeout };
  const a = open();
  const b = open({ scheduler: ahead });
  await Promise.all([a.counters.ready, b.counters.ready]);
  const txs: Transaction[] = [];
  for (let i = 0; i < 5; i++) {
    txs.push(a.client.mutate('increment', { id: 'shared' }));
    txs.push(b.client.mutate('increment', { id: 'shared' }));
  }
  await Promise.all(txs.map((t) => t.promise));
  await Promise.all([a.client.sync(), b.client.sync()]);
  expect(await serverDocuments(url, APP, 'counters')).toContainEqual({
    id: 'shared',
    n: 10,
    touchedBy: 'server',
  });
  expect(a.counters.get('shared')).toEqual({ id: 'shared', n: 10, touchedBy: 'server' });
  expect(b.counters.get('shared')).toEqual({ id: 'shared', n: 10, touchedBy: 'server' });
  await Promise.all([a.client.close(), b.client.close()]);
});

test('when the server takes another branch than the client guessed, the client ends with the server result', async () => {
  // B is stale (it has not seen A's claim) and its clock runs ahead: its guess `assignee: B`
  // is stamped after A's real assignment. The server gives B `requestedBy` instead; only
  // dropping B's guess on completion (never confirming it) keeps B from showing itself.
  const ahead: Scheduler = { now: () => Date.now() + 60_000, setTimeout: systemScheduler.setTimeout };
  const a = open();
  const b = open({ scheduler: ahead });
  await Promise.all([a.tasks.ready, b.tasks.ready]);
  await a.tasks.insert({ id: 'task', title: 'Ship it' }).promise;
  await b.client.sync();
  await a.client.mutate('claim', { id: 'task', who: 'A' }).promise;
  const tx = b.client.mutate('claim', { id: 'task', who: 'B' });
  await eventually(() => tx.mutations.length > 0, 'B ran its mutator');
  expect(tx.mutations[0]!.changes).toEqual({ assignee: 'B' });
  await tx.promise;
  const server = { id: 'task', title: 'Ship it', assignee: 'A', requestedBy: 'B' };
  expect(await serverDocuments(url, APP, 'tasks')).toEqual([server]);
  expect(b.tasks.get('task')).toEqual(server);
  expect(b.client.store.base.get('tasks', 'task')).toEqual(server);
  await a.client.sync();
  expect(a.tasks.get('task')).toEqual(server);
  await Promise.all([a.client.close(), b.client.close()]);
});

test('with live sockets, increments from both clients converge without explicit syncs', async () => {
  const a = open({ live: true });
  const b = open({ live: true });
  await Promise.all([a.counters.ready, b.counters.ready]);
  const txs: Transaction[] = [];
  for (let i = 0; i < 3; i++) {
    txs.push(a.client.mutate('increment', { id: 'live' }));
    txs.push(b.client.mutate('increment', { id: 'live' }));
  }
  await Promise.all(txs.map((t) => t.promise));
  const want = { id: 'live', n: 6, touchedBy: 'server' };
  await eventually(
    () =>
      JSON.stringify(a.counters.get('live')) === JSON.stringify(want) &&
      JSON.stringify(b.counters.get('live')) === JSON.stringify(want),
    'both clients show the server total',
  );
  await Promise.all([a.client.close(), b.client.close()]);
});

test('name and args survive a client restart (file persistence) before the push; the server applies it once', async () => {
  const path = join(dir, 'restart.omni');
  const net = createNetworkSwitch();
  net.online = false;
  const first = open({ net, path });
  await first.client.ready;
  const tx = first.client.mutate('increment', { id: 'restart' });
  await eventually(() => first.counters.get('restart')?.n === 1, 'optimistic write visible');
  await first.client.flush();
  await first.client.close();
  expect(pushes(net)).toHaveLength(0);

  const second = open({ path });
  await second.client.ready;
  // Back on the overlay from the outbox, then pushed (with its name) and confirmed by the server.
  expect(second.counters.get('restart')).toEqual({ id: 'restart', n: 1, touchedBy: 'client' });
  const again = second.client.transactions.get().find((t) => t.id === tx.id)!;
  expect(again.mutator).toEqual({ name: 'increment', args: { id: 'restart' } });
  await again.promise;
  expect(second.counters.get('restart')).toEqual({ id: 'restart', n: 1, touchedBy: 'server' });
  await second.client.close();

  // A third start finds nothing left to send: the server counted it once.
  const third = open({ path });
  await third.client.sync();
  expect(third.counters.get('restart')).toEqual({ id: 'restart', n: 1, touchedBy: 'server' });
  expect(await serverDocuments(url, APP, 'counters')).toContainEqual({
    id: 'restart',
    n: 1,
    touchedBy: 'server',
  });
  await third.client.close();
});

test('a mutation that writes nothing here (the document is not on this client yet) still runs on the server', async () => {
  const net = createNetworkSwitch();
  const a = open();
  const c = open({ net });
  await Promise.all([a.counters.ready, c.counters.ready]);
  // C synced before this insert and has no live socket: it does not have `late`.
  await a.counters.insert({ id: 'late', n: 1 }).promise;
  expect(c.counters.get('late')).toBeUndefined();
  const tx = c.client.mutate('remove', { collection: 'counters', id: 'late' });
  await tx.promise;
  expect(tx.mutations).toHaveLength(0);
  const sent = pushes(net).map(
    (r) => (r.body as { mutations: { name?: string; changes: unknown[] }[] }).mutations,
  );
  expect(sent).toEqual([[expect.objectContaining({ id: tx.id, name: 'remove', changes: [] })]]);
  await a.client.sync();
  expect(a.counters.get('late')).toBeUndefined();
  expect(await serverDocuments(url, APP, 'counters')).not.toContainEqual(
    expect.objectContaining({ id: 'late' }),
  );
  await Promise.all([a.client.close(), c.client.close()]);
});

test('unknown names and non-JSON args are refused at once with typed errors; nothing is written or pushed', async () => {
  const net = createNetworkSwitch();
  const a = open({ net });
  await a.counters.ready;
  const before = a.client.transactions.get().length;
  const m = a.client.mutate as (name: string, args?: unknown) => Transaction;
  expect(() => m('decrement', { id: 'x' })).toThrow(expect.objectContaining({ code: 'not_found' }));
  expect(() => m('increment', { id: 'x', at: new Date() })).toThrow(
    expect.objectContaining({ code: 'invalid_value', details: { mutator: 'increment', path: 'args.at' } }),
  );
  await a.client.sync();
  expect(a.client.transactions.get()).toHaveLength(before);
  expect(pushes(net)).toHaveLength(0);
  expect(a.counters.get('x')).toBeUndefined();
  await a.client.close();
});
