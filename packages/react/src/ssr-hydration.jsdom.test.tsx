// @vitest-environment jsdom
/**
 * Hydration from a server-rendered snapshot (jsdom as the browser): the server's HTML and a
 * `dehydrate()` snapshot; the browser's client hydrates from it before the first render,
 * so React hydrates without a mismatch and without a loading state.
 */
import { createClient, createState, defineState, dehydrate, type StateOf } from '@omnisync/client';
import { act } from '@testing-library/react';
import { Suspense } from 'react';
import { hydrateRoot } from 'react-dom/client';
import { renderToString } from 'react-dom/server';
import { describe, expect, it } from 'vitest';
import { OmniSyncProvider, useLiveQuery, useOmni } from './index.js';

(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = true;

type Todo = { id: string; title: string; completed: boolean; n: number };
const appState = defineState({ todos: { _source: 'local', _type: [] as Todo[] } });

function Page() {
  const state = useOmni<StateOf<typeof appState>>();
  const open = useLiveQuery((q) => q<Todo>('todos').where({ completed: false }));
  return (
    <main>
      <ul>
        {state.todos.orderBy('n').map((t) => (
          <li key={t.id}>{t.title}</li>
        ))}
      </ul>
      <p data-testid="open">{open.length} open</p>
    </main>
  );
}

const app = (client: ReturnType<typeof createClient>, snapshot?: ReturnType<typeof dehydrate>) => (
  <OmniSyncProvider client={client} state={appState} {...(snapshot ? { snapshot } : {})}>
    <Suspense fallback={<p>loading</p>}>
      <Page />
    </Suspense>
  </OmniSyncProvider>
);

describe('SSR hydration (jsdom)', () => {
  it('hydrates the server HTML from the snapshot with no mismatch and no loading state, then stays live', async () => {
    const server = createClient({ clientId: 'server' });
    createState(server, appState).todos.insert([
      { id: 'a', title: 'Alpha', completed: false, n: 1 },
      { id: 'b', title: 'Beta', completed: true, n: 2 },
    ]);
    await server.ready;
    await new Promise((r) => setTimeout(r, 0));
    const html = renderToString(app(server));
    const snapshot = JSON.parse(JSON.stringify(dehydrate(server)));

    const container = document.createElement('div');
    container.innerHTML = html;
    document.body.appendChild(container);
    const browser = createClient({ clientId: 'browser' });
    const errors: unknown[] = [];
    await act(async () => {
      hydrateRoot(container, app(browser, snapshot), { onRecoverableError: (e) => errors.push(e) });
    });
    expect(errors).toEqual([]);
    expect(container.innerHTML).toBe(html);
    expect(container.textContent).not.toContain('loading');
    await act(async () => {
      createState(browser, appState).todos.insert({ id: 'c', title: 'Gamma', completed: false, n: 3 });
    });
    expect([...container.querySelectorAll('li')].map((li) => li.textContent)).toEqual([
      'Alpha',
      'Beta',
      'Gamma',
    ]);
    expect(container.querySelector('[data-testid=open]')!.textContent).toBe('2 open');
  });

  it('without the snapshot the same page would not match (the snapshot is what makes hydration work)', async () => {
    const server = createClient({ clientId: 'server2' });
    createState(server, appState).todos.insert({ id: 'a', title: 'Alpha', completed: false, n: 1 });
    await server.ready;
    const html = renderToString(app(server));
    const container = document.createElement('div');
    container.innerHTML = html;
    const browser = createClient({ clientId: 'browser2' });
    const errors: unknown[] = [];
    const onError = console.error;
    console.error = () => {};
    try {
      await act(async () => {
        hydrateRoot(container, app(browser), { onRecoverableError: (e) => errors.push(e) });
      });
    } finally {
      console.error = onError;
    }
    expect(container.innerHTML).not.toBe(html);
  });
});
