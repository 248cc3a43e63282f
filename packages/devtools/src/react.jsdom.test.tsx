// @vitest-environment jsdom
/** `<OmniSyncDevtools client={...} />` in React DOM under jsdom. */
import { createClient } from '@omnisync/client';
import { act, cleanup, render } from '@testing-library/react';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OmniSyncDevtools } from './react.js';

afterEach(cleanup);

describe('OmniSyncDevtools (React, jsdom)', () => {
  it('mounts the panel in its own element, updates live, calls onClose, and unmounts with the component', async () => {
    const client = createClient({ clientId: 'react-dev' });
    const todos = client.collection<{ id: string; title: string }>({ id: 'todos' });
    const onClose = vi.fn();
    const view = render(
      <OmniSyncDevtools client={client} tab="fields" onClose={onClose} style={{ height: 300 }} />,
    );
    const host = view.container.querySelector('[data-omnisync-devtools=react]') as HTMLElement;
    const root = host.shadowRoot!;
    expect(root.querySelector('[data-testid=devtools-tab-fields]')!.getAttribute('aria-selected')).toBe(
      'true',
    );

    await act(async () => {
      await todos.insert({ id: 'a', title: 'hello' }).promise;
    });
    await vi.waitFor(() =>
      expect(
        root.querySelector('[data-testid=devtools-field-ref][data-field="todos/a/title"]'),
      ).not.toBeNull(),
    );
    (root.querySelector('[aria-label="Close devtools"]') as HTMLElement).click();
    expect(onClose).toHaveBeenCalledTimes(1);

    view.unmount();
    expect(root.childNodes.length).toBe(0);
    await client.close();
  });
});
