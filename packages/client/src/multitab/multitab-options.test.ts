/** `createClient({ multiTab })` option checks and the single-tab fallback (Node has no navigator.locks). */
import { ValidationError } from '@omnisync/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createClient } from '../client.js';
import { createMemoryPersistence } from '../persistence/memory.js';
import { broadcastChannels } from './browser-tabs.js';
import { createInProcessTabLock } from './in-process-lock.js';

afterEach(() => vi.restoreAllMocks());

describe('createClient({ multiTab })', () => {
  it('needs the persistence the tabs share', () => {
    expect(() => createClient({ multiTab: true })).toThrow(ValidationError);
  });

  it('refuses query-scoped sync, which followers cannot extend yet', () => {
    expect(() =>
      createClient({
        app: 'a',
        server: 'http://127.0.0.1:9',
        persistence: createMemoryPersistence(),
        multiTab: { lock: createInProcessTabLock(), channel: broadcastChannels()! },
        serverOptions: { scope: 'queries' },
      }),
    ).toThrow(/scope "queries"/);
  });

  it('falls back to single-tab, with a warning and the reason, where Web Locks are missing', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    expect((globalThis as { navigator?: { locks?: unknown } }).navigator?.locks).toBeUndefined();
    const client = createClient({ persistence: createMemoryPersistence(), multiTab: true });
    await client.ready;
    expect(client.tabs?.get().role).toBe('single');
    expect(client.tabs?.get().reason).toMatch(/Web Locks/);
    expect(warn.mock.calls.join(' ')).toMatch(/multiTab: Web Locks/);
    const todos = client.collection<{ id: string; title: string }>({ id: 'todos' });
    await todos.insert({ id: 'a', title: 'still works' }).promise;
    expect(todos.get('a')?.title).toBe('still works');
    await client.close();
  });
});
