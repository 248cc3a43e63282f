/**
 * A live subscription resumed by cursor gets its catch-up pages with each cell once. Found by
 * the load run (test/load): a client resuming after a few seconds away got some writes twice,
 * because a pull page loads its documents as they are now and so sends cells written after
 * the page's end, which the page holding their version sends again. (A paged HTTP pull still
 * may: the client's merge is idempotent, and pull-filter.property.test.ts holds it exact.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CellWriter, HttpClient, LiveClient, mutation } from './helpers/protocol-client.js';
import { startServer, type TestServer } from './helpers/servers.js';

let srv: TestServer;
beforeAll(async () => {
  srv = await startServer();
});
afterAll(() => srv.close());

const key = (c: { id: string; field: string; hlc: string }) => `${c.id}.${c.field}@${c.hlc}`;
const room = (r: string) => ({ collection: 'msgs', where: { op: 'eq', field: 'room', value: r } });

/**
 * `a` (room r1) and `b` (room r2) inserted, `others` documents after them, then `a` updated
 * and `b` moved into r1: both are in the first page and the last; `b` enters r1 after the
 * first page's end (judged there, it is not in r1 yet; it comes once, whole, in the last).
 */
async function seed(http: HttpClient, others: number): Promise<void> {
  const w = new CellWriter();
  await http.push('c1', [
    mutation(w.doc('msgs', 'a', { room: 'r1', text: 'first' })),
    mutation(w.doc('msgs', 'b', { room: 'r2', text: 'b' })),
  ]);
  for (let i = 0; i < others; i += 500)
    await http.push(
      'c1',
      Array.from({ length: Math.min(500, others - i) }, (_, k) =>
        mutation(w.doc('msgs', `o${i + k}`, { room: k % 2 ? 'r1' : 'r2', text: `other ${i + k}` })),
      ),
    );
  await http.push('c1', [mutation(w.update('msgs', 'a', { text: 'second' }))]);
  await http.push('c1', [mutation(w.update('msgs', 'b', { room: 'r1' }))]);
}

describe('paged catch-up', () => {
  it('live: a subscription resumed by cursor gets its catch-up pages without a cell twice', async () => {
    const http = new HttpClient(srv.url, 'pages-live');
    await http.push('c0', [mutation(new CellWriter().doc('msgs', 'x', { room: 'r9' }))]); // cursor 1
    await seed(http, 1100); // more versions than a catch-up page (1000)
    const live = await LiveClient.open(srv.url, 'pages-live');
    await live.hello();
    const sub = await live.subscribe('q', room('r1'), 1);
    expect(sub.type).toBe('subscribed');
    const caught = live.messages.filter((m) => m.type === 'changes' && m.queryId === 'q');
    expect(caught.length).toBeGreaterThan(1);
    const keys = caught.flatMap((m) => m.cells).map(key);
    expect(keys.length - new Set(keys).size).toBe(0);
    const snap = await http.snapshot([room('r1')]);
    expect(new Set(keys)).toEqual(new Set(snap.cells.map(key)));
    live.close();
  });
});
