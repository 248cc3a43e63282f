// @vitest-environment jsdom
/**
 * dexie-react-hooks' useLiveQuery keeps working with the bridge installed: a component
 * re-renders when a change from another device arrives through a real OmniSync server.
 * (React DOM under jsdom; IndexedDB from fake-indexeddb.)
 */
import 'fake-indexeddb/auto';
import { act, cleanup, render, screen } from '@testing-library/react';
import { useLiveQuery } from 'dexie-react-hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDexieSync } from '@omnisync/dexie';
import { createServer } from '@omnisync/server';
import { openDevice } from './helpers.js';

// A real server in this process (the shared helper's file-URL arithmetic does not run under jsdom).
const server = { dir: '', url: '', close: async () => {} };
beforeAll(async () => {
  server.dir = mkdtempSync(join(tmpdir(), 'omnisync-dexie-hooks-'));
  const s = createServer({ dataDir: join(server.dir, 'server'), durability: 'off', logLevel: 'silent' });
  server.url = (await s.listen(0)).url;
  server.close = () => s.close();
});
afterAll(async () => {
  await server.close();
  rmSync(server.dir, { recursive: true, force: true });
});
afterEach(cleanup);

describe('dexie-react-hooks with the bridge', () => {
  it('useLiveQuery re-renders after a remote change is applied', async () => {
    const a = openDevice();
    const b = openDevice();
    const sa = createDexieSync(a.bridge, { server: server.url, app: 'hooks' });
    const sb = createDexieSync(b.bridge, { server: server.url, app: 'hooks' });
    let renders = 0;
    function Titles() {
      renders++;
      const todos = useLiveQuery(() => b.db.table('todos').orderBy('id').toArray(), [], null);
      if (todos === null) return <p>loading</p>;
      return <p data-testid="titles">{todos.map((t: { title: string }) => t.title).join(',') || 'none'}</p>;
    }
    render(<Titles />);
    expect(await screen.findByText('none')).toBeTruthy();
    await a.db.table('todos').put({ id: '1', title: 'from A' });
    await sa.sync();
    await act(async () => {
      await sb.pull();
    });
    expect(await screen.findByText('from A')).toBeTruthy();
    const before = renders;
    await a.db.table('todos').update('1', { title: 'renamed on A' });
    await sa.sync();
    await act(async () => {
      await sb.pull();
    });
    expect(await screen.findByText('renamed on A')).toBeTruthy();
    expect(renders).toBeGreaterThan(before);
    expect(await b.bridge.outbox()).toEqual([]); // applied, not re-captured
  });
});
