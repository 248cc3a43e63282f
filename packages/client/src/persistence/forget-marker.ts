/**
 * @internal Persisting "forget this document" in order with the writes around it. The
 * client's grouped writer carries cells, transactions and meta; a forget rides it as a
 * marker cell, queued like any cell, so it lands in the commit where it belongs. This
 * wrapper, between the writer and the persistence, turns each batch's markers into
 * `forgetDocuments` (applied first) and drops the cells of those documents queued before
 * the marker (the forget replaces them), keeping those queued after it.
 */
import type { Cell } from '@omnisync/core';
import type { Persistence, PersistenceBatch } from './types.js';

/** A persistence that understands forget markers, and the way to make one. */
export interface ForgetMarkers {
  readonly persistence: Persistence;
  /** A marker to queue through the writer's `cells`: forget this document at that point. */
  marker(collection: string, id: string): Cell;
}

const keyOf = (c: { collection: string; id: string }) => `${c.collection}\u0000${c.id}`;

/** Wrap `inner` so forget markers among a batch's cells become `forgetDocuments`. */
export function withForgetMarkers(inner: Persistence): ForgetMarkers {
  const markers = new WeakSet<Cell>();
  const rewrite = (batch: PersistenceBatch): PersistenceBatch => {
    const cells = batch.cells;
    if (cells === undefined || !cells.some((c) => markers.has(c))) return batch;
    const forgets = new Map<string, { collection: string; id: string }>();
    const kept: Cell[] = [];
    // Backwards: a cell after its document's last marker stays; one before it is replaced.
    for (let i = cells.length - 1; i >= 0; i--) {
      const c = cells[i]!;
      const k = keyOf(c);
      if (markers.has(c)) {
        if (!forgets.has(k)) forgets.set(k, { collection: c.collection, id: c.id });
      } else if (!forgets.has(k)) kept.push(c);
    }
    kept.reverse();
    const { cells: _cells, ...rest } = batch;
    return {
      ...rest,
      forgetDocuments: [...(batch.forgetDocuments ?? []), ...forgets.values()],
      ...(kept.length > 0 ? { cells: kept } : {}),
    };
  };
  return {
    persistence: {
      get name() {
        return inner.name;
      },
      load: () => inner.load(),
      commit: (batch) => inner.commit(rewrite(batch)),
      clear: () => inner.clear(),
      close: () => inner.close(),
    },
    marker(collection, id) {
      const m: Cell = { collection, id, field: 'id', value: id, hlc: '' };
      markers.add(m);
      return m;
    },
  };
}
