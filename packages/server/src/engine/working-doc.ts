/**
 * One document during a push batch: its cells as loaded, the merge of incoming cells with
 * exactly core Replica's rules (per-cell LWW by HLC via `cellWins`, an HLC tie broken by
 * canonical JSON; delete wins: a tombstone drops the document's cells and later writes to
 * it are ignored), and what to write and to fan out afterwards.
 */
import {
  type Cell,
  type CellValue,
  cellWins,
  DELETED_FIELD,
  type JsonValue,
  type Slot as ReplicaSlot,
  unflattenDocument,
} from '@omnisync/core';
import type { DocWrite, PriorCell, Priors, StoredCell, StoredDoc } from '../storage/storage.js';

/**
 * A cell's current winner: a loaded StoredCell, or the incoming Cell itself (no copy per
 * cell). Incoming cells carry `collection`; loaded ones do not: that is how a slot tells
 * "changed by this batch" from "as stored".
 */
type Slot = { readonly value: CellValue; readonly hlc: string; readonly collection?: string };

const isIncoming = (s: Slot | undefined): s is Cell => s !== undefined && s.collection !== undefined;

/** A visible document, or undefined. */
export type Doc = Readonly<Record<string, unknown>> | undefined;

/** Is a document with these cells visible? (not deleted, at least one defined field) */
export function isVisible(cells: ReadonlyMap<string, { value: CellValue }>): boolean {
  if (cells.has(DELETED_FIELD)) return false;
  for (const s of cells.values()) if (s.value !== undefined) return true;
  return false;
}

/** Materialise a document from its cells (undefined when not visible). */
export function materialize(id: string, cells: ReadonlyMap<string, { value: CellValue; hlc: string }>): Doc {
  if (!isVisible(cells)) return undefined;
  const entries: { field: string; value: CellValue; hlc: string }[] = [];
  for (const [field, s] of cells) entries.push({ field, value: s.value, hlc: s.hlc });
  return unflattenDocument(id, entries);
}

/** Undo changes (newest first) on a document's current cells: its state as of a cursor. */
export function stateBefore(
  stored: readonly StoredCell[],
  priorsNewestFirst: readonly Priors[],
): Map<string, { value: CellValue; hlc: string }> {
  const cells = new Map<string, { value: CellValue; hlc: string }>();
  for (const c of stored) cells.set(c.field, { value: c.value, hlc: c.hlc });
  for (const prior of priorsNewestFirst) {
    if (prior === null) {
      cells.clear(); // the document did not exist before this change
      continue;
    }
    for (const p of prior) {
      if (p.length < 2) cells.delete(p[0]);
      else cells.set(p[0], { value: p[1], hlc: '' });
    }
  }
  return cells;
}

/** A document's change in one committed batch, as fan-out consumes it. */
export interface DocChangeEvent {
  readonly collection: string;
  readonly id: string;
  readonly version: number;
  /** Visible document before the batch (undefined = absent or deleted). */
  readonly before: Doc;
  /** Visible document after the batch. */
  readonly after: Doc;
  /** The cells this batch changed (a tombstone: just the `_deleted` cell). */
  readonly changed: readonly Cell[];
  /** Every stored cell after the batch (for a document entering someone's query). */
  readonly all: readonly Cell[];
}

/** A working document's merge state, to put back (a mutation the permission rules refuse). */
export interface DocCheckpoint {
  readonly cells: ReadonlyMap<string, Slot>;
  readonly changed: readonly string[];
  readonly prior: ReadonlyMap<string, Slot | undefined> | undefined;
  readonly dropped: boolean;
}

/** A document being changed by a push batch. */
export class WorkingDoc {
  readonly collection: string;
  readonly id: string;
  /** The stored cells as loaded (empty for a new document). */
  readonly #before: readonly StoredCell[];
  readonly #cells = new Map<string, Slot>();
  /** Each changed field's stored cell before the batch (undefined = absent); first change wins. */
  #prior: Map<string, Slot | undefined> | undefined; // only for documents that existed before
  /** Fields this batch changed, in the order of their first change; each one's slot is incoming. */
  #changed: string[] = [];
  #dropped = false;

  constructor(stored: StoredDoc) {
    this.collection = stored.collection;
    this.id = stored.id;
    this.#before = stored.cells;
    // The loaded cells are slots as they are: nothing mutates them.
    for (const c of stored.cells) this.#cells.set(c.field, c);
  }

  /** A copy, to try staged writes without touching this one. */
  clone(): WorkingDoc {
    const copy = new WorkingDoc({ collection: this.collection, id: this.id, cells: [] });
    for (const [f, s] of this.#cells) copy.#cells.set(f, { value: s.value, hlc: s.hlc });
    return copy;
  }

  /** The merge state now (the slots are shared: nothing mutates them), for {@link restore}. */
  checkpoint(): DocCheckpoint {
    return {
      cells: new Map(this.#cells),
      changed: this.#changed.slice(),
      prior: this.#prior && new Map(this.#prior),
      dropped: this.#dropped,
    };
  }

  /** Put the merge state of a {@link checkpoint} back: what was merged since is undone. */
  restore(c: DocCheckpoint): void {
    this.#cells.clear();
    for (const [f, s] of c.cells) this.#cells.set(f, s);
    this.#changed = c.changed.slice();
    this.#prior = c.prior && new Map(c.prior);
    this.#dropped = c.dropped;
  }

  get changed(): boolean {
    return this.#changed.length > 0;
  }

  get deleted(): boolean {
    return this.#cells.has(DELETED_FIELD);
  }

  /** The greatest HLC of the document's cells, if any. */
  newestHlc(): string | undefined {
    let max: string | undefined;
    for (const s of this.#cells.values()) if (max === undefined || s.hlc > max) max = s.hlc;
    return max;
  }

  /** The visible document now. */
  current(): Doc {
    return materialize(this.id, this.#cells);
  }

  /** Note a field's value before its first change in this batch (`slot` = its current slot). */
  #remember(field: string, slot: Slot | undefined) {
    // A new document logs `null` priors: nothing to remember. A field changed before in this
    // batch (incoming slot) already has its prior.
    if (this.#before.length === 0 || isIncoming(slot)) return;
    const prior = (this.#prior ??= new Map());
    if (!prior.has(field)) prior.set(field, slot);
  }

  /** Merge cells of this document (already validated). Returns true when anything changed. */
  apply(cells: readonly Cell[]): boolean {
    let any = false;
    for (const c of cells) {
      const slot = this.#cells.get(c.field);
      if (c.field === DELETED_FIELD) {
        if (slot === undefined) {
          for (const [f, s] of this.#cells) this.#remember(f, s);
          this.#remember(DELETED_FIELD, undefined);
          this.#cells.clear();
          this.#changed = [];
          this.#dropped = true;
        } else if (c.hlc > slot.hlc) this.#remember(DELETED_FIELD, slot);
        else continue;
        // A validated tombstone cell has value true: it is its own slot.
        if (!isIncoming(slot)) this.#changed.push(DELETED_FIELD);
        this.#cells.set(DELETED_FIELD, c);
        any = true;
        continue;
      }
      const tombstone = this.#cells.get(DELETED_FIELD);
      if (tombstone !== undefined) {
        // Delete wins: the write is dropped. Its writer may not know of the delete (it was
        // offline past the compaction horizon, or never synced the document): the stored
        // tombstone is written again in this batch, at its new version, so every pull and
        // subscription from before it (the writer's included) delivers the delete.
        if (!isIncoming(tombstone)) {
          this.#remember(DELETED_FIELD, tombstone);
          this.#changed.push(DELETED_FIELD);
          this.#cells.set(DELETED_FIELD, this.#cell(DELETED_FIELD, tombstone));
          any = true;
        }
        continue;
      }
      // cellWins reads only value and hlc of the slot.
      if (!cellWins(c.hlc, c.value, slot as ReplicaSlot | undefined)) continue;
      this.#remember(c.field, slot);
      if (!isIncoming(slot)) this.#changed.push(c.field);
      this.#cells.set(c.field, c);
      any = true;
    }
    return any;
  }

  // An unset cell keeps `value: undefined`; JSON leaves the key out, which is "unset" on the wire.
  #cell(field: string, s: Slot): Cell {
    return { collection: this.collection, id: this.id, field, value: s.value, hlc: s.hlc };
  }

  /**
   * The storage write for this batch's changes, at `version`. Its cells are the received
   * objects (storage reads only the cell fields); fan-out builds clean ones (see toEvent).
   */
  toWrite(version: number): DocWrite {
    const changed = this.#changed;
    const cells: Cell[] = new Array<Cell>(changed.length);
    for (let i = 0; i < changed.length; i++) cells[i] = this.#cells.get(changed[i]!) as Cell;
    if (this.#before.length === 0)
      return {
        collection: this.collection,
        id: this.id,
        version,
        cells,
        dropOthers: this.#dropped,
        prior: null,
      };
    const prior: PriorCell[] = [];
    const priorVersions: number[] = [];
    for (const [f, slot] of this.#prior ?? []) {
      prior.push(slot === undefined || slot.value === undefined ? [f] : [f, slot.value as JsonValue]);
      // A remembered slot is never incoming (see #remember): it is the loaded StoredCell.
      priorVersions.push(slot === undefined ? 0 : (slot as StoredCell).version);
    }
    return {
      collection: this.collection,
      id: this.id,
      version,
      cells,
      dropOthers: this.#dropped,
      prior,
      priorVersions,
    };
  }

  /** The fan-out event for this batch's changes, at `version` (documents materialised lazily). */
  toEvent(version: number, write: DocWrite): DocChangeEvent {
    const before = this.#before;
    const cells = this.#cells;
    const id = this.id;
    const cellOf = (f: string, s: Slot) => this.#cell(f, s);
    let b: { doc: Doc } | undefined;
    let a: { doc: Doc } | undefined;
    let all: Cell[] | undefined;
    // Clean copies: a received cell may carry extra properties that must not be fanned out.
    const changed = write.cells.map((c) => cellOf(c.field, c));
    return {
      collection: this.collection,
      id,
      version,
      changed,
      get before() {
        return (b ??= { doc: materialize(id, new Map(before.map((c) => [c.field, c]))) }).doc;
      },
      get after() {
        return (a ??= { doc: materialize(id, cells) }).doc;
      },
      get all() {
        if (!all) {
          all = [];
          for (const [f, s] of cells) all.push(cellOf(f, s));
        }
        return all;
      },
    };
  }
}
