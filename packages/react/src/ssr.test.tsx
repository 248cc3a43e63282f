/**
 * Server rendering in plain Node (no DOM): importing the packages touches no `window`, and a
 * page renders to a string from a client's data.
 */
import { createClient, createState, defineState, dehydrate, type StateOf } from '@omnisync/client';
import { Suspense } from 'react';
import { renderToString } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { OmniSyncProvider, useLiveQuery, useOmni } from './index.js';

type Todo = { id: string; title: string; completed: boolean; n: number };
const appState = defineState({ ui: { filter: 'all' }, todos: { _source: 'local', _type: [] as Todo[] } });

function Page() {
  const state = useOmni<StateOf<typeof appState>>();
  const open = useLiveQuery((q) => q<Todo>('todos').where({ completed: false }).orderBy('n'));
  return (
    <main>
      <p>filter: {state.ui.filter}</p>
      <ul>
        {state.todos.orderBy('n').map((t) => (
          <li key={t.id}>{t.title}</li>
        ))}
      </ul>
      <p>{open.length} open</p>
    </main>
  );
}

describe('SSR (Node, no DOM)', () => {
  it('imports without a window and renders a page from the client data; the snapshot is plain JSON', async () => {
    expect(typeof (globalThis as { window?: unknown }).window).toBe('undefined');
    expect(typeof (globalThis as { document?: unknown }).document).toBe('undefined');
    const client = createClient({ clientId: 'ssr' });
    const state = createState(client, appState);
    state.todos.insert([
      { id: 'a', title: 'Alpha', completed: false, n: 1 },
      { id: 'b', title: 'Beta', completed: true, n: 2 },
    ]);
    await client.ready;
    await client.flush();
    await new Promise((r) => setTimeout(r, 0));
    const html = renderToString(
      <OmniSyncProvider client={client} state={appState}>
        <Suspense fallback={<p>loading</p>}>
          <Page />
        </Suspense>
      </OmniSyncProvider>,
    );
    expect(html).toContain('<li>Alpha</li><li>Beta</li>');
    expect(html).toContain('1<!-- --> open');
    expect(html).toContain('filter: <!-- -->all');
    const snapshot = dehydrate(client, { collections: ['todos'] });
    expect(JSON.parse(JSON.stringify(snapshot))).toEqual(snapshot);
    expect(new Set(snapshot.cells.map((c) => c.id))).toEqual(new Set(['a', 'b']));
  });
});
