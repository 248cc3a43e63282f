/**
 * Clocks against the real server over HTTP (issue 16 part 6): a client whose system clock runs
 * hours ahead has its writes refused with `clock_drift` (a `ClockDriftError`, nothing applied),
 * and once its clock is right again its next writes are accepted — the client's HLC does not
 * keep the refused future stamp. And an HLC stays monotonic across restarts: a client restarted
 * on the same persistence with its clock set back issues stamps above every stamp it issued.
 */
import { expect, test } from 'vitest';
import { compareHlc, type Scheduler, systemScheduler } from '@omnisync/core';
import { createClient, createServerSource } from '@omnisync/client';
import { createMemoryPersistence, createMemoryPersistenceStore } from '../../src/persistence/memory.js';
import { eventually, inProcessServer, serverDocuments } from './helpers.js';

const APP = 'clock';
const HOUR = 3_600_000;
const srv = inProcessServer('omni-clock-');

/** The real scheduler with a wall clock the test can set off by `skew` ms. */
function skewedScheduler(): Scheduler & { skew: number } {
  const s = {
    skew: 0,
    now: () => Date.now() + s.skew,
    setTimeout: (fn: () => void, ms: number) => systemScheduler.setTimeout(fn, ms),
  };
  return s as Scheduler & { skew: number };
}

function peer(scheduler: Scheduler, store = createMemoryPersistenceStore()) {
  const errors: Error[] = [];
  const client = createClient({
    scheduler,
    persistence: createMemoryPersistence({ store }),
    onError: (e) => errors.push(e),
  });
  const source = createServerSource({
    app: APP,
    server: srv.url,
    WebSocket: null,
    pollIntervalMs: 100,
    requestTimeoutMs: 3000,
    backoff: { baseDelayMs: 20, maxDelayMs: 200 },
  });
  const todos = client.collection<{ id: string; n: number }>({ id: 'todos', source });
  return { client, source, todos, errors, store };
}

test('a client clock hours ahead is refused with ClockDriftError, and recovers once the clock is fixed', async () => {
  const clock = skewedScheduler();
  const p = peer(clock);
  await p.client.ready;
  clock.skew = 3 * HOUR;
  const ahead = p.todos.insert({ id: 'future', n: 1 });
  const refused = await ahead.promise.then(
    () => undefined,
    (e: unknown) => e as { code?: string; details?: { code?: string }; cause?: Error & { code?: string } },
  );
  // The transaction fails (NonRetriableError: rolled back, not retried); the server's reason
  // is the typed ClockDriftError.
  expect(refused?.code).toBe('non_retriable');
  expect(refused?.details?.code).toBe('clock_drift');
  expect(refused?.cause?.name).toBe('ClockDriftError');
  expect(refused?.cause?.code).toBe('clock_drift');
  // Nothing of it applied: not on the server, rolled back locally.
  expect((await serverDocuments(srv.url, APP, 'todos')).map((d) => d.id)).not.toContain('future');
  await eventually(() => p.todos.get('future') === undefined, 'the refused insert rolled back');

  // The clock is fixed: the next write is accepted (stamped now, not 3 hours ahead).
  clock.skew = 0;
  await p.todos.insert({ id: 'fixed', n: 2 }).promise;
  const docs = await serverDocuments(srv.url, APP, 'todos');
  expect(docs.map((d) => d.id)).toContain('fixed');
  expect(Number.parseInt(p.client.hlc.last.slice(0, 11), 36)).toBeLessThan(Date.now() + HOUR);
  await p.client.close();
});

test('HLC stamps stay monotonic across a restart, even with the clock set back', async () => {
  const clock = skewedScheduler();
  const first = peer(clock);
  await first.client.ready;
  await first.todos.insert({ id: 'm1', n: 1 }).promise;
  await first.todos.update('m1', { n: 2 }).promise;
  const before = first.client.hlc.last;
  await first.client.close();

  clock.skew = -10 * 60_000; // ten minutes back (an NTP correction while it was down)
  const second = peer(clock, first.store);
  await second.client.ready;
  expect(compareHlc(second.client.hlc.last, before)).toBeGreaterThanOrEqual(0);
  await second.todos.update('m1', { n: 3 }).promise;
  expect(compareHlc(second.client.hlc.last, before)).toBeGreaterThan(0);
  // The write after the restart wins over the one before it, on the server too.
  await eventually(
    async () => (await serverDocuments(srv.url, APP, 'todos')).find((d) => d.id === 'm1')?.n === 3,
    'the post-restart update won on the server',
  );
  await second.client.close();
});
