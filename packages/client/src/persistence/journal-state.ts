/**
 * The journal half of a stored state, shared by every journaled backend (the file store and
 * `createJournaledPersistence`'s backends such as OPFS): commit bodies as JSON text, their
 * decoding, and the state `load` returns from a columnar snapshot plus the journal after it.
 * Browser-safe: no node:* import.
 */
import { type Cell, DELETED_FIELD, type JsonValue } from '@omnisync/core';
import type { NormalizedBatch } from './batch.js';
import { groupCells, putColumnarDocs } from './file-columns.js';
import { attachLoadedBase, type ColumnarDocs, type LoadedGroup } from './loaded-base.js';
import { StateModel } from './state.js';
import type { PersistedState, PersistedTransaction } from './types.js';

type CellTuple = [string, string, string, string] | [string, string, string, string, JsonValue];

const cellTuple = (c: Cell): CellTuple =>
  c.value === undefined
    ? [c.collection, c.id, c.field, c.hlc]
    : [c.collection, c.id, c.field, c.hlc, c.value];

/** The JSON text of one commit's body (encoded at call time, framed when written). */
export function encodeCommitBody(batch: NormalizedBatch): string {
  const body: Record<string, unknown> = {};
  if (batch.forgetDocuments.length) body.f = batch.forgetDocuments.map((d) => [d.collection, d.id]);
  if (batch.cells.length) body.c = batch.cells.map(cellTuple);
  if (batch.deleteTransactions.length) body.d = batch.deleteTransactions;
  if (batch.putTransactions.length) body.p = batch.putTransactions;
  if (batch.meta.length) body.m = batch.meta;
  return JSON.stringify(body);
}

/** A decoded snapshot record. */
export interface Snapshot {
  readonly docs: ColumnarDocs | undefined;
  readonly cells: Cell[] | undefined;
  readonly transactions: PersistedTransaction[];
  readonly meta: [string, JsonValue][];
}

/** The model of a snapshot with the journal after it replayed. */
export function buildModel(snapshot: Snapshot | undefined, journal: readonly NormalizedBatch[]): StateModel {
  const model = new StateModel();
  if (snapshot) {
    if (snapshot.docs) putColumnarDocs(model, snapshot.docs);
    if (snapshot.cells) model.applyCells(snapshot.cells);
    model.setTransactions(snapshot.transactions);
    for (const [key, value] of snapshot.meta) model.setMeta(key, value);
  }
  for (const b of journal) model.apply(b);
  return model;
}

/** One document's changes in the journal, relative to the snapshot. */
interface Delta {
  /** The snapshot's cells of the document no longer count (a tombstone replaced them). */
  reset: boolean;
  /** The cells written, one per field, in the order the fields first appeared. */
  cells: Cell[];
  inSnapshot: boolean;
}

/** Upsert `cell` by field into `cells` (a tombstone replaces them all), as the state model does. */
function upsert(cells: Cell[], cell: Cell): void {
  const i = cells.findIndex((c) => c.field === cell.field);
  if (i >= 0) cells[i] = cell;
  else cells.push(cell);
}

/**
 * The state `load` returns. With a columnar snapshot and a journal that forgets no document,
 * the documents stay in their columns (attached, see loaded-base.ts), and the journal's
 * cells are folded per document: a document it changed carries its whole cells, as the
 * state model would hold them. Otherwise, the model's state.
 */
export function loadedState(
  snapshot: Snapshot | undefined,
  journal: readonly NormalizedBatch[],
  modelOf: () => StateModel,
): PersistedState {
  const docs = snapshot?.docs;
  if (!docs || journal.some((b) => b.forgetDocuments.length > 0)) return modelOf().toState(false);
  const rest = new StateModel();
  rest.setTransactions(snapshot.transactions);
  for (const [key, value] of snapshot.meta) rest.setMeta(key, value);
  const order: Delta[] = [];
  const byCollection = new Map<string, Map<string, Delta>>();
  for (const b of journal) {
    for (const cell of b.cells) {
      let m = byCollection.get(cell.collection);
      if (!m) byCollection.set(cell.collection, (m = new Map()));
      let d = m.get(cell.id);
      if (!d) {
        m.set(cell.id, (d = { reset: false, cells: [], inSnapshot: false }));
        order.push(d);
      }
      if (cell.field === DELETED_FIELD) {
        d.reset = true;
        d.cells = [cell];
      } else upsert(d.cells, cell);
    }
    if (b.deleteTransactions.length || b.putTransactions.length || b.meta.length)
      rest.apply({ ...b, forgetDocuments: [], cells: [] });
  }
  const groups: LoadedGroup[] = docs.groups.map((g) => {
    const m = byCollection.get(g.collection);
    let replaced: Map<number, Cell[]> | undefined;
    if (m)
      for (let i = 0; i < g.ids.length; i++) {
        const d = m.get(g.ids[i]!);
        if (d === undefined) continue;
        d.inSnapshot = true;
        let cells = d.cells;
        if (!d.reset) {
          cells = groupCells(docs, g, i);
          for (const c of d.cells) upsert(cells, c);
        }
        (replaced ??= new Map()).set(i, cells);
      }
    return { ...g, replaced };
  });
  const extra: Cell[] = [];
  for (const d of order) if (!d.inSnapshot) for (const c of d.cells) extra.push(c);
  const { transactions, meta } = rest.toState(false);
  const state = { transactions, meta } as PersistedState;
  let cells: Cell[] | undefined;
  Object.defineProperty(state, 'cells', {
    enumerable: true,
    configurable: true,
    get: () => (cells ??= modelOf().toState(false).cells),
    set: (v: Cell[]) => {
      cells = v;
    },
  });
  attachLoadedBase(state, { hlcs: docs.hlcs, groups, extra });
  return state;
}

export type Body = Record<string, unknown>;

export function asObject(v: unknown, what: string): Body {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`${what} is not an object`);
  return v as Body;
}

export function asArray(v: unknown, what: string): unknown[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) throw new Error(`${what} is not an array`);
  return v;
}

export function decodeCell(t: unknown): Cell {
  if (
    !Array.isArray(t) ||
    (t.length !== 4 && t.length !== 5) ||
    typeof t[0] !== 'string' ||
    typeof t[1] !== 'string' ||
    typeof t[2] !== 'string' ||
    typeof t[3] !== 'string'
  )
    throw new Error('a cell is not [collection, id, field, hlc, value?]');
  return {
    collection: t[0],
    id: t[1],
    field: t[2],
    hlc: t[3],
    value: t.length === 5 ? (t[4] as JsonValue) : undefined,
  };
}

function decodeDocRef(t: unknown): { collection: string; id: string } {
  if (!Array.isArray(t) || t.length !== 2 || typeof t[0] !== 'string' || typeof t[1] !== 'string')
    throw new Error('a forgotten document is not [collection, id]');
  return { collection: t[0], id: t[1] };
}

export function decodeTransaction(t: unknown): PersistedTransaction {
  const o = asObject(t, 'a transaction');
  if (typeof o.id !== 'string') throw new Error('a transaction has no string id');
  return o as PersistedTransaction;
}

export function decodeMeta(m: unknown, allowNull: boolean): [string, JsonValue | null] {
  if (!Array.isArray(m) || m.length !== 2 || typeof m[0] !== 'string' || (!allowNull && m[1] === null))
    throw new Error('a meta entry is not [key, value]');
  return [m[0], m[1] as JsonValue | null];
}

export function decodeCommit(body: unknown): NormalizedBatch {
  const o = asObject(body, 'a commit record');
  const deleteTransactions = asArray(o.d, 'the deleted transaction ids');
  if (!deleteTransactions.every((id) => typeof id === 'string'))
    throw new Error('a deleted transaction id is not a string');
  return {
    forgetDocuments: asArray(o.f, 'the forgotten documents').map(decodeDocRef),
    cells: asArray(o.c, 'the cells').map(decodeCell),
    deleteTransactions: deleteTransactions as string[],
    putTransactions: asArray(o.p, 'the transactions').map(decodeTransaction),
    meta: asArray(o.m, 'the meta entries').map((m) => decodeMeta(m, true)),
  };
}
