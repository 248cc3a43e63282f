/**
 * A client whose system clock is hours ahead (issue 16 part 6), against a real in-process
 * server over HTTP: its writes are refused with ClockDriftError (failed, rolled back, the
 * error says what to fix); once the clock is put right the client recovers on its own — new
 * writes are accepted and win over what it wrote before — also across a restart on the same
 * file persistence, where the clock stays monotonic past every stamp the server accepted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient, NonRetriableError } from '@omnisync/client';
import { createFilePersistence } from '@omnisync/client/node';
import { ClockDriftError, type Scheduler, systemScheduler } from '@omnisync/core';
import { createServer } from '@omnisync/server';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { serverDocuments } from './helpers.js';

const APP = 'clock';
const HOURS_3_MS = 3 * 60 * 60 * 1000;

let dir: string;
let url: string;
let server: ReturnType<typeof createServer>;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'omni-clock-'));
  server = createServer({ dataDir: join(dir, 'server'), durability: 'off', logLevel: 'silent' });
  url = (await server.listen(0)).url;
});
afterAll(async () => {
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The real scheduler with a system clock that is `skew.ms` off (changed by the test). */
function skewedScheduler(skew: { ms: number }): Scheduler {
  return { now: () => Date.now() + skew.ms, setTimeout: systemScheduler.setTimeout };
}

function open(skew: { ms: number }) {
  const errors: Error[] = [];
  const client = createClient({
    app: APP,
    server: url,
    scheduler: skewedScheduler(skew),
    persistence: createFilePersistence({ path: join(dir, 'app.omnisync'), fsync: false }),
    serverOptions: { WebSocket: null, pollIntervalMs: 60_000, backoff: { baseDelayMs: 20, maxDelayMs: 100 } },
    onError: (e) => errors.push(e),
  });
  const notes = client.collection<{ id: string; text: string }>({ id: 'notes' });
  return { client, notes, errors };
}

test('refused while hours ahead, recovers when the clock is fixed, monotonic across a restart', async () => {
  const skew = { ms: 0 };
  const a = open(skew);
  await a.client.ready;
  await a.notes.insert({ id: 'n1', text: 'on time' }).promise;

  // The system clock jumps 3 hours ahead: the write is refused as clock drift, and rolled back.
  skew.ms = HOURS_3_MS;
  const ahead = a.notes.update('n1', (d) => {
    d.text = 'from the future';
  });
  const err = await ahead.promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NonRetriableError);
  expect((err as NonRetriableError).cause).toBeInstanceOf(ClockDriftError);
  expect((err as Error).message).toMatch(/clock/i);
  expect(a.notes.get('n1')?.text).toBe('on time');

  // Put right: the next write goes through (it is not stamped after the refused one) and wins.
  skew.ms = 0;
  await a.notes
    .update('n1', (d) => {
      d.text = 'fixed';
    })
    .promise.then(() => undefined);
  await a.client.sync();
  expect(await serverDocuments(url, APP, 'notes')).toEqual([{ id: 'n1', text: 'fixed' }]);
  const beforeRestart = a.client.hlc.last;
  await a.client.flush();
  await a.client.close();

  // A restart on the same persistence: stamps go on past every stamp issued (and accepted) so far.
  const b = open(skew);
  await b.client.ready;
  expect(b.client.hlc.now() > beforeRestart).toBe(true);
  await b.notes
    .update('n1', (d) => {
      d.text = 'after restart';
    })
    .promise.then(() => undefined);
  await b.client.sync();
  expect(await serverDocuments(url, APP, 'notes')).toEqual([{ id: 'n1', text: 'after restart' }]);
  await b.client.close();
});

test('a restart while the saved high-water mark is hours ahead (clock fixed while closed) still writes', async () => {
  const skew = { ms: HOURS_3_MS };
  const a = open(skew);
  await a.client.ready;
  // Offline-style: stamped hours ahead, refused by the server.
  const refused = a.notes.insert({ id: 'n2', text: 'ahead' });
  await refused.promise.catch(() => undefined);
  expect(refused.state).toBe('failed');
  await a.client.flush();
  await a.client.close();

  skew.ms = 0;
  const b = open(skew);
  await b.client.ready;
  await b.notes.insert({ id: 'n2', text: 'now' }).promise;
  await b.client.sync();
  expect(await serverDocuments(url, APP, 'notes')).toContainEqual({ id: 'n2', text: 'now' });
  expect(b.errors.filter((e) => e instanceof ClockDriftError)).toEqual([]);
  await b.client.close();
});
