/**
 * OpenTelemetry spans on a real server with the real SDK registered (sdk-trace-base with an
 * in-memory exporter, AsyncLocalStorage context): push, its storage write and the fan-out
 * nest under one trace; pull and snapshot have their storage read spans; a failed push is
 * marked failed. With no SDK (the API's no-op) the server serves the same.
 */
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { createHlc } from '@omnisync/core';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { CellWriter, HttpClient, LiveClient, mutation } from './helpers/protocol-client.js';
import { startServer, type TestServer } from './helpers/servers.js';

const exporter = new InMemorySpanExporter();
beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
  );
});
afterAll(() => {
  trace.disable();
  context.disable();
});

const servers: TestServer[] = [];
afterEach(async () => {
  exporter.reset();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const named = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name);

test('push → storage.write and fanout spans under it, in one trace', async () => {
  const s = await startServer();
  servers.push(s);
  const sub = await LiveClient.open(s.url, 'traced');
  await sub.hello();
  await sub.subscribe('q', { collection: 'todos' });
  exporter.reset();
  const w = new CellWriter();
  await new HttpClient(s.url, 'traced').push('c1', [mutation(w.doc('todos', 't1', { title: 'a' }))]);
  await sub.next((m) => m.type === 'changes');
  sub.close();

  const [push] = named('omnisync.push');
  expect(push).toBeDefined();
  expect(push!.attributes).toMatchObject({ 'omnisync.app': 'traced', 'omnisync.mutations': 1 });
  const [write] = named('omnisync.storage.write');
  const [fanout] = named('omnisync.fanout');
  expect(parentOf(write!)).toBe(push!.spanContext().spanId);
  expect(parentOf(fanout!)).toBe(push!.spanContext().spanId);
  expect(new Set([push, write, fanout].map((x) => x!.spanContext().traceId)).size).toBe(1);
});

test('pull and snapshot have a storage.read child; a refused push is a failed span with its code', async () => {
  const s = await startServer();
  servers.push(s);
  const http = new HttpClient(s.url, 'traced2');
  await http.pull(0);
  await http.snapshot();
  const [pull] = named('omnisync.pull');
  const [snap] = named('omnisync.snapshot');
  const reads = named('omnisync.storage.read');
  expect(reads.map(parentOf).sort()).toEqual([pull!.spanContext().spanId, snap!.spanContext().spanId].sort());

  // A client clock hours ahead: refused by the engine (clock drift), inside the push span.
  const ahead = createHlc({ nodeId: 'ahead', clock: { now: () => Date.now() + 3 * 3600_000 } });
  const far = { collection: 'todos', id: 't', field: 'a', value: 1, hlc: ahead.now() };
  const res = await http.call('push', { clientId: 'c1', mutations: [mutation([far])] });
  expect(res.status).toBeGreaterThanOrEqual(400);
  const failed = named('omnisync.push').find((x) => x.status.code === 2);
  expect(failed).toBeDefined();
  expect(failed!.status.message).toBe(res.body.error.code);
});

test('tracing: false makes no spans', async () => {
  const s = await startServer({ tracing: false });
  servers.push(s);
  await new HttpClient(s.url, 'untraced').pull(0);
  expect(exporter.getFinishedSpans()).toEqual([]);
});
