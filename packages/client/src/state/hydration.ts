/**
 * Server rendering: `dehydrate` the synced base of a client that rendered a page into a
 * JSON snapshot, embed it in the HTML, and `hydrate` the browser's client from it before
 * the first render, so hydration shows exactly what the server rendered (no loading state).
 */
import { type Cell, ValidationError } from '@omnisync/core';
import type { Client } from '../client.js';

/** A JSON snapshot of a client's synced data. */
export interface DehydratedState {
  readonly version: 1;
  /** The synced cells (with their HLCs, so hydrating never overrides newer data). */
  readonly cells: readonly Cell[];
}

/**
 * The synced data of `client` (optionally only some collections), as JSON-safe data.
 * Pending optimistic writes are not included: a snapshot holds confirmed data only.
 */
export function dehydrate(
  client: Client,
  options: { collections?: readonly string[] } = {},
): DehydratedState {
  const only = options.collections ? new Set(options.collections) : undefined;
  const cells = client.store.base.cellsSince(0).filter((c) => only === undefined || only.has(c.collection));
  return { version: 1, cells };
}

/**
 * Apply a snapshot made by {@link dehydrate} to `client` (before rendering). Cells merge by
 * HLC like any sync, so data newer than the snapshot (from persistence) is kept. A snapshot
 * that is not one throws a ValidationError and applies nothing.
 */
export function hydrate(client: Client, snapshot: DehydratedState): void {
  if (
    snapshot === null ||
    typeof snapshot !== 'object' ||
    snapshot.version !== 1 ||
    !Array.isArray(snapshot.cells)
  )
    throw new ValidationError(
      'hydrate(client, snapshot): snapshot must be what dehydrate() returned ({ version: 1, cells }).',
    );
  client.store.applyBase(snapshot.cells);
}
