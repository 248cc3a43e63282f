/**
 * The Solid driver of the adapter conformance suite (also used by bench/frameworks.bench.ts),
 * without a JSX compiler (`createComponent` and `solid-js/h`): the list reads `useLiveQuery`
 * in a `<For>` (a row is created once per row object, so a row component "renders" once per
 * change of its document), inside `<Suspense>` and `<ErrorBoundary>`.
 */
import type { AdapterDriver, AdapterListProps, ConformanceRow } from '@omnisync/client/testing';
import { createComponent, ErrorBoundary, For, Suspense } from 'solid-js';
import type { JSX } from 'solid-js';
import hyper from 'solid-js/h';
import { render } from 'solid-js/web';
import { OmniSyncProvider, useLiveQuery } from '../src/index.js';

/** `solid-js/h`, typed as returning an element (its own types say a thunk). */
const h = hyper as unknown as (...args: unknown[]) => JSX.Element;

function Row(props: { row: ConformanceRow; onRender: (id: string) => void }) {
  props.onRender(props.row.id);
  return h('li', { 'data-id': props.row.id, 'data-done': String(props.row.done) }, props.row.title);
}

function List(props: Omit<AdapterListProps, 'client'>) {
  const rows = useLiveQuery(props.query);
  return h(
    'ul',
    createComponent(For<readonly ConformanceRow[], JSX.Element>, {
      get each() {
        return rows();
      },
      children: (row: ConformanceRow) => createComponent(Row, { row, onRender: props.onRowRender }),
    }),
  );
}

/** The Solid driver. */
export function solidDriver(): AdapterDriver {
  return {
    name: 'Solid',
    mount({ client, query, onRowRender }, container) {
      const dispose = render(
        () =>
          createComponent(OmniSyncProvider, {
            client,
            get children() {
              return createComponent(ErrorBoundary, {
                fallback: (e: Error) => h('p', { role: 'alert' }, e.message),
                get children() {
                  return createComponent(Suspense, {
                    fallback: h('p', { 'data-testid': 'loading' }, 'loading'),
                    get children() {
                      return createComponent(List, { query, onRowRender });
                    },
                  });
                },
              });
            },
          }),
        container,
      );
      return { unmount: dispose };
    },
  };
}
