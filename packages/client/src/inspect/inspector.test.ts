/**
 * `client.experimental_inspect` on a real client. Remote cells come from a cell source
 * written here (the `Source` contract's `applyCells`, as the OmniSync-server source calls
 * it); the same scenario against the real server is in test/sync/inspect.test.ts.
 */
import { type Cell, encodeHlc, parseHlc, q } from '@omnisync/core';
import { describe, expect, it } from 'vitest';
import { createClient } from '../client.js';
import type { EventHub } from '../events.js';
import { liveQuery } from '../state/live.js';
import type { PersistRequest, Source, SourceContext } from '../sources/types.js';

interface CellSource extends Source {
  ctx: SourceContext | undefined;
  /** Persists wait on this while set. */
  hold: Promise<void> | undefined;
  persisted: PersistRequest[];
}

function cellSource(): CellSource {
  const s: CellSource = {
    id: 'cells',
    kind: 'remote',
    ctx: undefined,
    hold: undefined,
    persisted: [],
    start(ctx) {
      s.ctx = ctx;
    },
    async persist(req) {
      s.persisted.push(req);
      await s.hold;
    },
  };
  return s;
}

type Todo = { id: string; title: string };

async function setup(options: Parameters<typeof createClient>[0] = {}) {
  const client = createClient({ clientId: 'me', ...options });
  const source = cellSource();
  const todos = client.collection<Todo>({ id: 'todos', source });
  await todos.ready;
  return { client, source, todos, inspect: client.experimental_inspect };
}

/** A cell written by another device, `deltaMs` after (or before) `hlc`. */
const theirs = (hlc: string, deltaMs: number, node: string, field: string, value: Cell['value']): Cell => ({
  collection: 'todos',
  id: 'a',
  field,
  value,
  hlc: encodeHlc({ wall: parseHlc(hlc).wall + deltaMs, counter: 0, node }),
});

describe('client.experimental_inspect', () => {
  it('is off by default: nothing is recorded, and the synced winner is still known', async () => {
    const { client, todos, inspect } = await setup();
    expect(inspect.enabled).toBe(false);
    // Nothing listens: the engine does not even build the events the inspector would record.
    const hub = client.events as EventHub;
    expect(hub.wants('sync.op:action:captured') || hub.wants('transaction:stateChange')).toBe(false);
    const tx = todos.insert({ id: 'a', title: 'one' });
    await tx.promise;
    expect(inspect.fields()).toEqual([]);
    expect(inspect.transitions()).toEqual([]);
    const f = inspect.field('todos', 'a', 'title');
    expect(f.recording).toBe(false);
    expect(f.writes).toHaveLength(1);
    expect(f.winner).toMatchObject({ value: 'one', origin: 'me', via: ['base'], status: 'winner' });
    expect(f.winner!.hlc).toBe(tx.mutations[0]!.hlc);
  });

  it('names the winner of competing writes with their HLCs and origins: a newer remote write beats ours, an older one loses', async () => {
    const { client, source, todos, inspect } = await setup();
    inspect.enable();
    const tx = todos.insert({ id: 'a', title: 'mine' });
    await tx.promise;
    const mine = tx.mutations[0]!.hlc;
    const newer = theirs(mine, 1_000, 'dev-b', 'title', 'theirs');
    const older = theirs(mine, -1_000, 'dev-c', 'title', 'stale');
    source.ctx!.applyCells([newer]);
    source.ctx!.applyCells([older]);

    const f = inspect.field('todos', 'a', 'title');
    expect(f.visible).toBe('theirs');
    expect(f.winner).toMatchObject({ value: 'theirs', hlc: newer.hlc, origin: 'dev-b', via: ['cells'] });
    expect(f.writes.map((w) => [w.value, w.origin, w.status])).toEqual([
      ['theirs', 'dev-b', 'winner'],
      ['mine', 'me', 'lost'],
      ['stale', 'dev-c', 'lost'],
    ]);
    expect(f.writes[1]).toMatchObject({ hlc: mine, via: ['local'], transactionId: tx.id });
    expect(inspect.fields()[0]).toMatchObject({ collection: 'todos', id: 'a', field: 'title', origins: 3 });
    expect(inspect.fieldsOf('todos', 'a')).toEqual(expect.arrayContaining(['title', 'id']));
    expect(client.store.get('todos', 'a')).toMatchObject({ title: 'theirs' });
  });

  it('shows a pending local write as pending (visible, not yet synced) and a delete as beating every write', async () => {
    const { source, todos, inspect } = await setup({ experimental_inspect: true });
    await todos.insert({ id: 'a', title: 'first' }).promise;
    let release!: () => void;
    source.hold = new Promise((r) => (release = r));
    const tx = todos.update('a', { title: 'second' });
    let f = inspect.field('todos', 'a', 'title');
    expect(f.visible).toBe('second');
    expect(f.writes.map((w) => [w.value, w.status])).toEqual([
      ['second', 'pending'],
      ['first', 'winner'],
    ]);
    release();
    await tx.promise;
    expect(inspect.field('todos', 'a', 'title').winner).toMatchObject({ value: 'second' });

    source.ctx!.applyCells([theirs(tx.mutations[0]!.hlc, 10, 'dev-b', '_deleted', true)]);
    f = inspect.field('todos', 'a', 'title');
    expect(f.deleted).toMatchObject({ origin: 'dev-b' });
    expect(f.visible).toBeUndefined();
    expect(f.writes.every((w) => w.status === 'lost')).toBe(true);
  });

  it('records transaction state changes, lists sources and live queries, and tells subscribers', async () => {
    const { client, todos, inspect } = await setup({ experimental_inspect: true });
    let calls = 0;
    const stop = inspect.subscribe(() => calls++);
    const tx = todos.insert({ id: 'a', title: 'one' });
    await tx.promise;
    expect(calls).toBeGreaterThan(0);
    expect(inspect.transitions(tx.id).map((t) => `${t.from}>${t.to}`)).toEqual([
      'pending>persisting',
      'persisting>persisted_awaiting_sync',
      'persisted_awaiting_sync>completed',
    ]);
    expect(inspect.transactions().map((t) => t.id)).toContain(tx.id);
    expect(inspect.sources()).toEqual([
      expect.objectContaining({ id: 'cells', kind: 'remote', collections: ['todos'], state: 'ready' }),
    ]);

    const lq = liveQuery(client, q('todos'));
    const unsub = lq.subscribe(() => {});
    expect(inspect.liveQueries()).toEqual([
      expect.objectContaining({ collection: 'todos', status: 'ready', completeness: 'complete', rows: 1 }),
    ]);
    unsub();

    stop();
    const before = calls;
    await todos.update('a', { title: 'two' }).promise;
    expect(calls).toBe(before); // unsubscribed: no more calls
  });

  it('is bounded: at most writesPerField writes per field', async () => {
    const { todos, inspect } = await setup({ experimental_inspect: { writesPerField: 3 } });
    await todos.insert({ id: 'a', title: 't0' }).promise;
    for (let i = 1; i <= 8; i++) await todos.update('a', { title: `t${i}` }).promise;
    expect(inspect.field('todos', 'a', 'title').writes.map((w) => w.value)).toEqual(['t8', 't7', 't6']);
  });

  it('disable() stops recording and drops the record', async () => {
    const { client, todos, inspect } = await setup({ experimental_inspect: true });
    await todos.insert({ id: 'a', title: 'one' }).promise;
    expect(inspect.fields().length).toBeGreaterThan(0);
    inspect.disable();
    expect(inspect.enabled).toBe(false);
    expect(inspect.fields()).toEqual([]);
    await todos.update('a', { title: 'two' }).promise;
    expect(inspect.fields()).toEqual([]);
    expect(inspect.field('todos', 'a', 'title').writes.map((w) => w.via)).toEqual([['base']]);
    expect((client.events as EventHub).wants('sync.op:action:captured')).toBe(false);
  });
});
