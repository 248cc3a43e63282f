/**
 * The React driver of the adapter conformance suite (also used by bench/frameworks.bench.ts):
 * the list reads `useLiveQuery`, each row is a memoised component counting its renders; a
 * Suspense fallback shows loading, an error boundary shows errors.
 */
import type { AdapterDriver, AdapterListProps, ConformanceRow } from '@omnisync/client/testing';
import { act, memo, Suspense } from 'react';
import { createRoot } from 'react-dom/client';
import { OmniErrorBoundary, OmniSyncProvider, useLiveQuery } from '../src/index.js';

const Row = memo(function Row({ row, onRender }: { row: ConformanceRow; onRender: (id: string) => void }) {
  onRender(row.id);
  return (
    <li data-id={row.id} data-done={String(row.done)}>
      {row.title}
    </li>
  );
});

function List({ query, onRowRender }: Omit<AdapterListProps, 'client'>) {
  const rows = useLiveQuery(query);
  return (
    <ul>
      {rows.map((r) => (
        <Row key={r.id} row={r} onRender={onRowRender} />
      ))}
    </ul>
  );
}

/** The React driver; `useAct: false` for the benchmark (no act environment there). */
export function reactDriver({ useAct = true }: { useAct?: boolean } = {}): AdapterDriver {
  return {
    name: 'React',
    mount({ client, query, onRowRender }, container) {
      const root = createRoot(container);
      root.render(
        <OmniSyncProvider client={client}>
          <OmniErrorBoundary fallback={(e) => <p role="alert">{e.message}</p>}>
            <Suspense fallback={<p data-testid="loading">loading</p>}>
              <List query={query} onRowRender={onRowRender} />
            </Suspense>
          </OmniErrorBoundary>
        </OmniSyncProvider>,
      );
      return { unmount: () => root.unmount() };
    },
    ...(useAct ? { act: async (fn: () => void | Promise<void>) => act(async () => fn()) } : {}),
  };
}
