/**
 * Group commit on a real server (SQLite, loopback HTTP): pushes that queue behind an app's
 * write lock commit together in one storage transaction (seen as fewer `storage.write`
 * spans, with `omnisync.pushes` > 1, through the real OpenTelemetry SDK), each keeping its
 * own results and cursor; a push that throws inside a group fails alone and the others of
 * its group are applied once.
 */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Authorize } from '@omnisync/server';
import { CellWriter, HttpClient, mutation, post } from './helpers/protocol-client.js';
import { startServer, type TestServer } from './helpers/servers.js';

const exporter = new InMemorySpanExporter();
let t: TestServer;
// Async like a real hook (a lookup): it yields inside the write transaction, so the other
// pushes of the burst queue behind the lock. A write to `boom` is a hook that crashes.
const authorize: Authorize = async (_ctx, req) => {
  await new Promise((r) => setTimeout(r, 1));
  if (req.op === 'write' && req.collection === 'boom') throw new Error('the hook crashed');
  return true;
};

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
  );
  t = await startServer({ authorize });
});
afterAll(async () => {
  await t.close();
  trace.disable();
  context.disable();
});

const writes = () => exporter.getFinishedSpans().filter((s) => s.name === 'omnisync.storage.write');

test('a burst of 40 pushes commits in fewer transactions; every push keeps its own results and cursor', async () => {
  const http = new HttpClient(t.url, 'grouped');
  exporter.reset();
  const answers = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      http.push(`c${i}`, [mutation(new CellWriter(`w${i}`).doc('todos', `t${i}`, { n: i }))]),
    ),
  );
  for (const a of answers) expect(a.results).toMatchObject([{ status: 'applied' }]);
  // One version per push, all distinct: each push is its own commit inside the group.
  const cursors = answers.map((a) => a.cursor);
  expect(new Set(cursors).size).toBe(40);
  const spans = writes();
  expect(spans.length).toBeLessThan(40);
  expect(Math.max(...spans.map((s) => Number(s.attributes['omnisync.pushes'])))).toBeGreaterThan(1);
  const { cells } = await http.snapshot();
  expect(new Set(cells.map((c) => c.id)).size).toBe(40);
});

test('a push that throws inside a group fails alone; the rest of its group is applied once', async () => {
  const http = new HttpClient(t.url, 'grouped-fault');
  exporter.reset();
  const bad = 7;
  const answers = await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      post(t.url, '/v1/apps/grouped-fault/push', {
        clientId: `c${i}`,
        mutations: [mutation(new CellWriter(`w${i}`).doc(i === bad ? 'boom' : 'todos', `t${i}`, { n: i }))],
      }),
    ),
  );
  answers.forEach((a, i) => {
    if (i === bad) {
      expect(a.status).toBeGreaterThanOrEqual(500);
      expect(a.body.error.code).toBeTypeOf('string');
    } else {
      expect(a.status).toBe(200);
      expect(a.body.results).toMatchObject([{ status: 'applied' }]);
    }
  });
  // A group was tried together and failed (the crash), then committed one by one.
  expect(writes().some((s) => Number(s.attributes['omnisync.pushes']) > 1)).toBe(true);
  const { cells, cursor } = await http.snapshot();
  const ids = [...new Set(cells.map((c) => c.id))].sort();
  expect(ids).toEqual(
    Array.from({ length: 20 }, (_, i) => `t${i}`)
      .filter((_, i) => i !== bad)
      .sort(),
  );
  // Applied once: one version per successful push, no more.
  expect(cursor).toBe(19);
});
