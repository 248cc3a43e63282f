/** The authorize hook: refused writes reject their mutation; refused reads never leave the server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineMutators } from '@omnisync/core';
import type { Authorize } from '@omnisync/server';
import { CellWriter, HttpClient, LiveClient, mutation } from './helpers/protocol-client.js';
import { startServer, type TestServer } from './helpers/servers.js';

const authorize: Authorize = async (_ctx, req) => {
  await Promise.resolve(); // the hook may be async
  switch (req.op) {
    case 'write':
      return req.collection !== 'locked';
    case 'read':
      return !req.id.startsWith('secret');
    case 'mutate':
      return req.name !== 'adminOnly';
    case 'join':
      return req.room !== 'vip';
  }
};

let t: TestServer;
let http: HttpClient;
const w = new CellWriter('authz_1');
beforeAll(async () => {
  t = await startServer({
    authorize,
    mutators: defineMutators({
      async adminOnly(tx) {
        await tx.set('t', 'admin', { x: 1 });
      },
      async ok(tx) {
        await tx.set('t', 'fromMutator', { x: 1 });
      },
    }),
  });
  http = new HttpClient(t.url, 'authz');
});
afterAll(() => t.close());

describe('authorize', () => {
  it('rejects a refused write or mutator as forbidden, per mutation, and applies the rest', async () => {
    const res = await http.push('c', [
      mutation(w.doc('locked', 'l1', { x: 1 })),
      mutation(w.doc('t', 'open1', { x: 1 })),
      { id: 'admin-call', name: 'adminOnly', changes: [] },
      { id: 'ok-call', name: 'ok', changes: [] },
    ]);
    expect(res.results.map((r: any) => [r.status, r.error?.code])).toEqual([
      ['rejected', 'forbidden'],
      ['applied', undefined],
      ['rejected', 'forbidden'],
      ['applied', undefined],
    ]);
    const ids = new Set((await http.snapshot()).cells.map((c) => `${c.collection}/${c.id}`));
    expect(ids).toEqual(new Set(['t/open1', 't/fromMutator']));
  });

  it('keeps refused documents out of pull, snapshot and live fan-out', async () => {
    const c = await LiveClient.open(t.url, 'authz');
    try {
      await c.hello();
      await c.subscribe('q', { collection: 'r' });
      await http.push('c', [
        mutation(w.doc('r', 'secret-1', { pin: '1234' })),
        mutation(w.doc('r', 'public-1', { x: 1 })),
      ]);
      const last = await http.push('c', [mutation(w.doc('r', 'public-2', { x: 2 }))]);
      await c.next((m) => m.type === 'changes' && m.cursor === last.cursor);
      expect(JSON.stringify(c.messages)).not.toContain('1234');
      expect(new Set(c.cells().map((x) => x.id))).toEqual(new Set(['public-1', 'public-2']));
      expect(JSON.stringify(await http.pullAll(0))).not.toContain('1234');
      expect(JSON.stringify(await http.pullAll(0, [{ collection: 'r' }]))).not.toContain('1234');
      expect(JSON.stringify(await http.snapshot())).not.toContain('1234');
      // a subscription's catch-up goes through the same check
      const late = await LiveClient.open(t.url, 'authz');
      await late.hello();
      await late.subscribe('q', { collection: 'r' });
      expect(JSON.stringify(late.messages)).not.toContain('1234');
      late.close();
    } finally {
      c.close();
    }
  });

  it('refuses to join a room it forbids', async () => {
    const c = await LiveClient.open(t.url, 'authz');
    try {
      await c.hello();
      c.send({ type: 'join', room: 'vip' });
      expect((await c.next((m) => m.type === 'error')).error.code).toBe('forbidden');
      c.send({ type: 'join', room: 'lobby' });
      expect((await c.next((m) => m.type === 'room')).room).toBe('lobby');
    } finally {
      c.close();
    }
  });
});
