/** HTTP protocol v1 against a real server on loopback: push, pull, snapshot, cursor, gc, mutators. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  defineMutators,
  MutationRejectedError,
  PROTOCOL_HEADER,
  PROTOCOL_VERSION,
  Replica,
  type Cell,
} from '@omnisync/core';
import { CellWriter, HttpClient, mutation } from './helpers/protocol-client.js';
import { startServer, type TestServer } from './helpers/servers.js';

const mutators = defineMutators({
  async toggle(tx, args: { id: string }) {
    const todo = await tx.get('todos', args.id);
    if (!todo) return tx.reject(`todo ${args.id} does not exist`);
    await tx.set('todos', args.id, { done: !todo.done });
  },
  async addTodo(tx, args: { id: string; title: string }) {
    if (typeof args?.title !== 'string' || args.title.trim() === '')
      throw new MutationRejectedError('a todo needs a title');
    await tx.set('todos', args.id, { title: args.title, done: false, ownerId: tx.userId ?? 'anon' });
    // reads its own write
    const again = await tx.get('todos', args.id);
    await tx.set('audit', `${args.id}-created`, { title: again?.title ?? null });
  },
  async removeTodo(tx, args: { id: string }) {
    await tx.delete('todos', args.id);
  },
  async explode() {
    throw new Error('bug in mutator');
  },
});

let t: TestServer;
let http: HttpClient;
const w = new CellWriter('writer_1');

beforeAll(async () => {
  t = await startServer({ mutators });
  http = new HttpClient(t.url, 'todo');
});
afterAll(() => t.close());

const docsOf = (cells: Cell[] | any[]) => {
  const r = new Replica();
  r.apply(cells.map((c) => ({ ...c, value: c.value })));
  return r;
};

describe('push', () => {
  it('applies plain mutations and returns per-mutation results with the cursor', async () => {
    const res = await http.push('c1', [
      mutation(w.doc('todos', 'a', { title: 'A', ownerId: 'u1' })),
      mutation(w.doc('todos', 'b', { title: 'B' })),
    ]);
    expect(res.results.map((r: any) => r.status)).toEqual(['applied', 'applied']);
    expect(res.cursor).toBeGreaterThan(0);
    const snap = await http.snapshot([{ collection: 'todos' }]);
    const r = docsOf(snap.cells);
    expect(r.get('todos', 'a')).toEqual({ id: 'a', title: 'A', ownerId: 'u1' });
    expect(snap.cursor).toBe(res.cursor);
  });

  it('is idempotent by (clientId, mutation id): a retried push applies nothing', async () => {
    const m = mutation(w.doc('todos', 'idem', { title: 'first' }));
    const first = await http.push('c-idem', [m]);
    // Same id, different content: the stored result comes back and nothing is applied.
    const retry = await http.push('c-idem', [
      { ...m, changes: w.update('todos', 'idem', { title: 'second' }) },
    ]);
    expect(retry.results).toEqual(first.results);
    expect(retry.cursor).toBe(first.cursor);
    const snap = await http.snapshot([{ collection: 'todos', where: { title: 'second' } }]);
    expect(snap.cells).toEqual([]);
    // the same mutation id from another client is a different mutation
    const other = await http.push('c-other', [
      { ...m, changes: w.update('todos', 'idem', { title: 'second' }) },
    ]);
    expect(other.cursor).toBeGreaterThan(first.cursor);
  });

  it('treats a duplicate id inside one batch as a retry of the first', async () => {
    const m = mutation(w.doc('todos', 'dup', { n: 1 }));
    const res = await http.push('c-dup', [m, { ...m, changes: w.update('todos', 'dup', { n: 2 }) }]);
    expect(res.results).toEqual([
      { id: m.id, status: 'applied' },
      { id: m.id, status: 'applied' },
    ]);
    expect(
      docsOf((await http.snapshot([{ collection: 'todos', where: { n: 1 } }])).cells).get('todos', 'dup'),
    ).toBeDefined();
  });

  it('resolves concurrent writes per field by HLC and lets a delete win over a later write', async () => {
    const early = new CellWriter('early_1');
    const late = new CellWriter('late_1');
    const lateCells = late.doc('notes', 'n1', { text: 'late', color: 'red' });
    const earlyCells = early.doc('notes', 'n1', { text: 'early', size: 3 });
    // early's HLCs are older: pushed last, it still loses on `text`
    await http.push('late', [mutation(lateCells)]);
    await http.push('early', [mutation(earlyCells)]);
    const snap = docsOf((await http.snapshot([{ collection: 'notes' }])).cells);
    expect(snap.get('notes', 'n1')).toEqual({
      id: 'n1',
      text: earlyCells[1]!.hlc > lateCells[1]!.hlc ? 'early' : 'late',
      color: 'red',
      size: 3,
    });
    const del = early.remove('notes', 'n1');
    await http.push('early', [mutation(del)]);
    await http.push('late', [mutation(late.update('notes', 'n1', { text: 'after delete' }))]);
    const after = await http.snapshot([{ collection: 'notes' }]);
    expect(after.cells.filter((c) => c.id === 'n1')).toEqual([]);
    // A subscriber of the collection gets the tombstone even if it never saw the document
    // (it may hold it through its own writes), but never its data.
    const pulled = await http.pullAll(0, [{ collection: 'notes' }]);
    expect(pulled.changes.filter((c) => c.id === 'n1')).toEqual([
      { collection: 'notes', id: 'n1', field: '_deleted', value: true, hlc: del[0]!.hlc },
    ]);
    const all = await http.pullAll(0);
    expect(all.changes.filter((c) => c.id === 'n1')).toEqual([
      { collection: 'notes', id: 'n1', field: '_deleted', value: true, hlc: del[0]!.hlc },
    ]);
  });
});

describe('named mutations', () => {
  it('run on the server, read their own writes, and flow back as cells', async () => {
    const res = await http.push('c-named', [
      { id: 'n1', name: 'addTodo', args: { id: 'named1', title: 'Write tests' }, changes: [] },
    ]);
    expect(res.results).toEqual([{ id: 'n1', status: 'applied' }]);
    const r = docsOf((await http.snapshot()).cells);
    expect(r.get('todos', 'named1')).toEqual({
      id: 'named1',
      title: 'Write tests',
      done: false,
      ownerId: 'anon',
    });
    expect(r.get('audit', 'named1-created')).toEqual({ id: 'named1-created', title: 'Write tests' });
  });

  it('ignore the client’s optimistic cells in favour of the server’s result', async () => {
    const optimistic = w.update('todos', 'named1', { done: 'client guess' });
    await http.push('c-named', [{ id: 'n2', name: 'toggle', args: { id: 'named1' }, changes: optimistic }]);
    expect(docsOf((await http.snapshot()).cells).get('todos', 'named1')?.done).toBe(true);
  });

  it('reject with a reason, apply nothing of the rejected one, and keep the others', async () => {
    const res = await http.push('c-named', [
      {
        id: 'r1',
        name: 'toggle',
        args: { id: 'missing' },
        changes: w.doc('todos', 'missing', { done: true }),
      },
      { id: 'r2', name: 'addTodo', args: { id: 'kept', title: 'kept' }, changes: [] },
      { id: 'r3', name: 'addTodo', args: { id: 'x', title: '  ' }, changes: [] },
      { id: 'r4', name: 'explode', changes: [] },
      { id: 'r5', name: 'noSuchMutator', changes: w.doc('todos', 'nsm', { a: 1 }) },
    ]);
    expect(res.results).toEqual([
      {
        id: 'r1',
        status: 'rejected',
        error: { code: 'mutation_rejected', message: 'todo missing does not exist' },
      },
      { id: 'r2', status: 'applied' },
      { id: 'r3', status: 'rejected', error: { code: 'mutation_rejected', message: 'a todo needs a title' } },
      { id: 'r4', status: 'rejected', error: { code: 'mutation_rejected', message: 'bug in mutator' } },
      {
        id: 'r5',
        status: 'rejected',
        error: {
          code: 'mutation_rejected',
          message: expect.stringContaining('Unknown mutation "noSuchMutator"'),
        },
      },
    ]);
    const r = docsOf((await http.snapshot()).cells);
    expect(r.get('todos', 'missing')).toBeUndefined();
    expect(r.get('todos', 'nsm')).toBeUndefined();
    expect(r.get('todos', 'kept')).toBeDefined();
    // a rejection is remembered too: the retry answers the same
    const retry = await http.push('c-named', [
      { id: 'r1', name: 'toggle', args: { id: 'missing' }, changes: [] },
    ]);
    expect(retry.results[0]).toEqual(res.results[0]);
  });

  it('delete through a mutator wins over the document’s fields', async () => {
    await http.push('c-named', [{ id: 'd1', name: 'removeTodo', args: { id: 'kept' }, changes: [] }]);
    expect(docsOf((await http.snapshot()).cells).get('todos', 'kept')).toBeUndefined();
  });
});

describe('pull', () => {
  it('pages by cursor with hasMore and never skips or repeats a change', async () => {
    const api = new HttpClient(t.url, 'paging');
    const pw = new CellWriter('pager_1');
    for (let i = 0; i < 25; i++) await api.push('p', [mutation(pw.doc('items', `i${i}`, { n: i }))]);
    const first = await api.pull(0, undefined, 10);
    expect(first.hasMore).toBe(true);
    expect(new Set(first.changes.map((c: Cell) => c.id)).size).toBe(10);
    const all = await api.pullAll(0, undefined, 10);
    expect(all.pages).toBe(3);
    const ids = all.changes.filter((c) => c.field === 'n').map((c) => c.id);
    expect(ids).toEqual(Array.from({ length: 25 }, (_, i) => `i${i}`));
    const end = await api.pull(all.cursor);
    expect(end).toEqual({ changes: [], cursor: all.cursor, hasMore: false });
  });

  it('sends only changes after the cursor, and a document moving into a query whole', async () => {
    const api = new HttpClient(t.url, 'moves');
    const mw = new CellWriter('mover_1');
    await api.push('m', [mutation(mw.doc('todos', 'a', { title: 'A', ownerId: 'u1', note: 'first' }))]);
    await api.push('m', [mutation(mw.doc('todos', 'b', { title: 'B', ownerId: 'u2' }))]);
    const q = [{ collection: 'todos', where: { ownerId: 'u1' } }];
    const start = await api.pullAll(0, q);
    expect(new Set(start.changes.map((c) => c.id))).toEqual(new Set(['a']));
    // a changes a field; b moves into u1's query; then a moves out
    await api.push('m', [mutation(mw.update('todos', 'a', { note: 'second' }))]);
    await api.push('m', [mutation(mw.update('todos', 'b', { ownerId: 'u1' }))]);
    await api.push('m', [mutation(mw.update('todos', 'a', { ownerId: 'u3' }))]);
    const delta = await api.pullAll(start.cursor, q);
    const byDoc = (id: string) =>
      delta.changes
        .filter((c) => c.id === id)
        .map((c) => c.field)
        .sort();
    expect(byDoc('a')).toEqual(['note', 'ownerId']); // only what changed since the cursor, incl. the move out
    expect(byDoc('b')).toEqual(['id', 'ownerId', 'title']); // entered: every cell
    // a client that starts after a moved out does not get it at all
    const fresh = await api.pullAll(0, q);
    expect(new Set(fresh.changes.map((c) => c.id))).toEqual(new Set(['b']));
    // u3's query from the old cursor: a entered (whole)
    const u3 = await api.pullAll(start.cursor, [{ collection: 'todos', where: { ownerId: 'u3' } }]);
    expect(
      u3.changes
        .filter((c) => c.id === 'a')
        .map((c) => c.field)
        .sort(),
    ).toEqual(['id', 'note', 'ownerId', 'title']);
  });

  it('answers reset after compaction past the cursor, and for a cursor from the future', async () => {
    const api = new HttpClient(t.url, 'gcapp');
    const gw = new CellWriter('gc_1');
    await api.push('g', [mutation(gw.doc('t', 'a', { v: 1 }))]);
    const c1 = (await api.pull(0)).cursor;
    await api.push('g', [mutation(gw.doc('t', 'b', { v: 2 }))]);
    await api.push('g', [mutation(gw.remove('t', 'a'))]);
    const head = (await api.pull(c1)).cursor;
    const gc = await t.server.engine.gc('gcapp', { olderThanVersion: head });
    expect(gc.horizon).toBe(head - 1);
    expect(await api.pull(c1)).toEqual({ reset: true, cursor: head });
    expect(await api.pull(0)).toEqual({ reset: true, cursor: head });
    expect((await api.pull(head - 1)).changes.map((c: Cell) => c.field)).toEqual(['_deleted']);
    expect(await api.pull(head + 5)).toEqual({ reset: true, cursor: head });
    // the client then snapshots: the deleted document is gone, the other is there
    const snap = docsOf((await api.snapshot()).cells);
    expect(snap.get('t', 'a')).toBeUndefined();
    expect(snap.get('t', 'b')).toEqual({ id: 'b', v: 2 });
  });
});

describe('delete wins after compaction', () => {
  it('keeps tombstones through gc, and answers a write to a deleted document with its tombstone at a new version', async () => {
    const api = new HttpClient(t.url, 'gckeep');
    const a = new CellWriter('keep_a');
    const b = new CellWriter('keep_b');
    await api.push('a', [mutation(a.doc('t', 'x', { v: 1 })), mutation(a.doc('t', 'y', { v: 1 }))]);
    const seenByB = (await api.pull(0)).cursor; // b holds x and y from here, then goes offline
    const del = a.remove('t', 'x');
    await api.push('a', [mutation(del)]);
    const head = (await api.pull(seenByB)).cursor;
    const gc = await t.server.engine.gc('gckeep', { olderThanVersion: head + 1 });
    expect(gc).toEqual({ horizon: head, changesDropped: expect.any(Number), tombstonesDropped: 0 });
    expect(await api.pull(seenByB)).toEqual({ reset: true, cursor: head });
    // b, back past the horizon, pushes an edit of x written while offline (a newer HLC than the delete).
    const edit = await api.push('b', [mutation(b.update('t', 'x', { v: 2, note: 'offline edit' }))]);
    expect(edit.results).toEqual([{ id: expect.any(String), status: 'applied' }]);
    expect(edit.cursor).toBe(head + 1);
    // Delete wins: x stays deleted, and the tombstone is announced again at the push's version,
    // so a pull from just before it (b's cursor after its snapshot) delivers the delete.
    const snap = docsOf((await api.snapshot()).cells);
    expect(snap.get('t', 'x')).toBeUndefined();
    expect(snap.get('t', 'y')).toEqual({ id: 'y', v: 1 });
    const after = await api.pull(head);
    expect('changes' in after && after.changes).toEqual([
      { collection: 't', id: 'x', field: '_deleted', value: true, hlc: del[0]!.hlc },
    ]);
    // Scoped to a query the document never matched: the delete still reaches it.
    const scoped = await api.pull(head, [{ collection: 't', where: { v: 2 } }]);
    expect('changes' in scoped && scoped.changes.map((c: Cell) => c.field)).toEqual(['_deleted']);
    // Re-inserting the id is dropped the same way; a second write finds the tombstone written
    // in this batch and announces nothing more.
    const again = await api.push('b', [
      mutation(b.doc('t', 'x', { v: 3 })),
      mutation(b.update('t', 'x', { v: 4 })),
    ]);
    expect(again.cursor).toBe(head + 2);
    const last = await api.pull(head + 1);
    expect('changes' in last && last.changes.map((c: Cell) => c.field)).toEqual(['_deleted']);
    expect(docsOf((await api.snapshot()).cells).get('t', 'x')).toBeUndefined();
  });
});

describe('protocol version header', () => {
  const post = (headers: Record<string, string>, body: unknown) =>
    fetch(`${t.url}/v1/apps/proto/push`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });
  const push = (id: string) => {
    const pw = new CellWriter(`proto_${id}`);
    return { clientId: `proto-${id}`, mutations: [mutation(pw.doc('t', id, { v: 1 }))] };
  };

  it('accepts this version, an older one and none; refuses a newer or malformed one before applying anything', async () => {
    for (const [id, headers] of [
      ['cur', { [PROTOCOL_HEADER]: String(PROTOCOL_VERSION) }],
      ['old', { [PROTOCOL_HEADER]: '1' }],
      ['none', {}],
    ] as const) {
      const res = await post(headers, push(id));
      expect(res.status, id).toBe(200);
      expect((await res.json()).results).toEqual([{ id: expect.any(String), status: 'applied' }]);
    }
    const newer = await post({ [PROTOCOL_HEADER]: String(PROTOCOL_VERSION + 1) }, push('newer'));
    expect(newer.status).toBe(400);
    const body = await newer.json();
    expect(body.error).toMatchObject({
      code: 'protocol_invalid',
      details: { clientVersion: PROTOCOL_VERSION + 1, serverVersion: PROTOCOL_VERSION },
    });
    expect(body.error.message).toMatch(/Upgrade the server first/);
    for (const bad of ['abc', '0', '-1', '2.5', ''.padEnd(40, '9')]) {
      const res = await post({ [PROTOCOL_HEADER]: bad }, push(`bad${bad.length}`));
      expect(res.status, bad).toBe(400);
      expect((await res.json()).error.code).toBe('protocol_invalid');
    }
    const ids = docsOf((await new HttpClient(t.url, 'proto').snapshot()).cells);
    expect([...ids.ids('t')].sort()).toEqual(['cur', 'none', 'old']);
  });
});

describe('snapshot and cursor', () => {
  it('filters by query with equality on dotted paths', async () => {
    const api = new HttpClient(t.url, 'snap');
    const sw = new CellWriter('snap_1');
    await api.push('s', [
      mutation([
        ...sw.doc('t', 'x', { kind: 'a' }),
        { collection: 't', id: 'x', field: 'meta.level', value: 2, hlc: sw.hlc.now() },
      ]),
      mutation([
        ...sw.doc('t', 'y', { kind: 'a' }),
        { collection: 't', id: 'y', field: 'meta.level', value: 3, hlc: sw.hlc.now() },
      ]),
      mutation(sw.doc('u', 'z', { kind: 'a' })),
    ]);
    const ids = async (queries: unknown[]) =>
      [...new Set((await api.snapshot(queries)).cells.map((c) => `${c.collection}/${c.id}`))].sort();
    expect(await ids([{ collection: 't', where: { 'meta.level': 2 } }])).toEqual(['t/x']);
    expect(await ids([{ collection: 't', where: { kind: 'a' } }, { collection: 'u' }])).toEqual([
      't/x',
      't/y',
      'u/z',
    ]);
    expect(await ids([{ collection: 'nothing' }])).toEqual([]);
  });

  it('records device cursors (seed 004 updateCursor)', async () => {
    const api = new HttpClient(t.url, 'cursors');
    expect(await api.ok('cursor', { clientId: 'dev-1', cursor: 12 })).toEqual({ ok: true });
    await api.ok('cursor', { clientId: 'dev-1', cursor: 4 });
    await api.ok('cursor', { clientId: 'dev-2', cursor: 1 });
    const cursors = await t.server.engine.deviceCursors('cursors');
    expect(cursors.map(({ deviceId, cursor }) => ({ deviceId, cursor }))).toEqual([
      { deviceId: 'dev-1', cursor: 12 },
      { deviceId: 'dev-2', cursor: 1 },
    ]);
  });

  it('reports health', async () => {
    const health = await fetch(`${t.url}/v1/health`);
    expect(await health.json()).toEqual({ ok: true, protocolVersion: PROTOCOL_VERSION });
  });
});
