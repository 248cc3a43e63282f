// @vitest-environment jsdom
/**
 * The adapter conformance suite itself: a framework-free reference driver (plain DOM over
 * the client's live query, rows kept by object identity) passes it, and drivers with the
 * faults it exists to catch fail it — every row re-rendered on a write, a live query never
 * unsubscribed, no loading state, an error swallowed.
 */
import { describe, expect, it } from 'vitest';
import { liveQuery } from '../state/live.js';
import { type AdapterDriver, adapterCases, adapterConformanceSuite } from './adapter-conformance.js';

interface Faults {
  /** Re-render every row on every change (no keyed reuse). */
  rerenderAll?: boolean;
  /** Keep the subscription on unmount. */
  leak?: boolean;
  /** Render an empty list while loading. */
  noLoading?: boolean;
  /** Render an empty list on error. */
  swallowErrors?: boolean;
}

function plainDriver(faults: Faults = {}): AdapterDriver {
  return {
    name: 'plain DOM',
    mount({ client, query, onRowRender }, container) {
      const lq = liveQuery(client, query);
      let rows = new Map<object, HTMLLIElement>();
      const paint = () => {
        const status = lq.status;
        if (status === 'loading' && !faults.noLoading) {
          container.innerHTML = '<p data-testid="loading">loading</p>';
          return;
        }
        if (status === 'error' && !faults.swallowErrors) {
          const p = document.createElement('p');
          p.setAttribute('role', 'alert');
          p.textContent = lq.error?.message ?? 'error';
          container.replaceChildren(p);
          return;
        }
        const ul = document.createElement('ul');
        const next = new Map<object, HTMLLIElement>();
        for (const row of status === 'ready' ? lq.value : []) {
          let li = faults.rerenderAll ? undefined : rows.get(row);
          if (li === undefined) {
            onRowRender(row.id);
            li = document.createElement('li');
            li.setAttribute('data-id', row.id);
            li.setAttribute('data-done', String(row.done));
            li.textContent = row.title;
          }
          next.set(row, li);
          ul.appendChild(li);
        }
        rows = next;
        container.replaceChildren(ul);
      };
      const off = lq.subscribe(paint);
      paint();
      return {
        unmount: () => {
          if (!faults.leak) off();
          container.replaceChildren();
        },
      };
    },
  };
}

adapterConformanceSuite(plainDriver(), { describe, it });

const caseNamed = (start: string) => adapterCases.find((c) => c.name.startsWith(start))!;
/** Faulty drivers never get there: fail fast. */
const fast = { timeoutMs: 3_000 };

describe('the suite catches faulty drivers', () => {
  it('every row re-rendered on a write', async () => {
    await expect(
      caseNamed('a write to one row').run(plainDriver({ rerenderAll: true }), fast),
    ).rejects.toThrow(/only r7 re-renders, once; got r0:1,r1:1/);
    await expect(
      caseNamed('an insert and a delete').run(plainDriver({ rerenderAll: true }), fast),
    ).rejects.toThrow(/only the new row renders/);
  });

  it('a live query still subscribed after unmount', async () => {
    await expect(caseNamed('unmount unsubscribes').run(plainDriver({ leak: true }), fast)).rejects.toThrow(
      /timed out waiting until the live query is released after unmount/,
    );
  });

  it('no loading state, and an error that never shows', async () => {
    await expect(
      caseNamed('loading state until the first').run(plainDriver({ noLoading: true }), fast),
    ).rejects.toThrow(/timed out waiting until the loading state shows/);
    await expect(caseNamed('a failed sync').run(plainDriver({ swallowErrors: true }), fast)).rejects.toThrow(
      /timed out waiting until the error shows/,
    );
  });
});
