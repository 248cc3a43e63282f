import { createManualScheduler, seededRandom, ValidationError } from '@omnisync/core';
import { describe, expect, test } from 'vitest';
import { serverSourceFromOptions, syncSources } from './client-options.js';

const scheduler = createManualScheduler();
const random = seededRandom(1);

describe('client options for the server transport', () => {
  test('no server: no source; app or auth without server is a mistake', () => {
    expect(serverSourceFromOptions({}, scheduler, random)).toBeUndefined();
    expect(() => serverSourceFromOptions({ app: 'x' }, scheduler, random)).toThrow(ValidationError);
  });

  test('server needs app and a valid URL; the source is named after the app', () => {
    expect(() => serverSourceFromOptions({ server: 'http://h' }, scheduler, random)).toThrow(/needs `app`/);
    expect(() => serverSourceFromOptions({ server: 'nope', app: 'a' }, scheduler, random)).toThrow(
      ValidationError,
    );
    const s = serverSourceFromOptions(
      { server: 'http://127.0.0.1:1', app: 'todo', serverOptions: { WebSocket: null } },
      scheduler,
      random,
    );
    expect(s).toMatchObject({ id: 'omnisync:todo', kind: 'remote' });
    expect(s!.status.get().state).toBe('connecting');
  });

  test('syncSources calls sync() on the sources that have it', async () => {
    const calls: string[] = [];
    await syncSources([
      { id: 'a', kind: 'local', persist: async () => {} },
      { id: 'b', kind: 'remote', persist: async () => {}, sync: async () => void calls.push('b') } as never,
    ]);
    expect(calls).toEqual(['b']);
  });
});

describe('server source options', () => {
  test('bad options are refused at creation, naming the option', () => {
    const base = { server: 'http://127.0.0.1:1', app: 'a' } as const;
    expect(() =>
      serverSourceFromOptions({ ...base, serverOptions: { pullLimit: 0 } }, scheduler, random),
    ).toThrow(/pullLimit/);
    expect(() =>
      serverSourceFromOptions({ ...base, serverOptions: { requestTimeoutMs: -1 } }, scheduler, random),
    ).toThrow(/requestTimeoutMs/);
    expect(() =>
      serverSourceFromOptions({ ...base, serverOptions: { liveMode: 'push' as never } }, scheduler, random),
    ).toThrow(/liveMode/);
    expect(() =>
      serverSourceFromOptions({ ...base, serverOptions: { backoff: { factor: 0 } } }, scheduler, random),
    ).toThrow(/factor/);
    expect(() =>
      serverSourceFromOptions(
        { ...base, serverOptions: { collections: ['x'], queries: [{ collection: 'x' }] } },
        scheduler,
        random,
      ),
    ).toThrow(/either/);
  });
});
