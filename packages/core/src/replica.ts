/**
 * A replica: the merged cell state of any number of collections, as every OmniSync node
 * (client synced base, server, simulation peer) holds it.
 *
 * Merge rules (DESIGN.md decision 4), which make `apply` commutative, associative and
 * idempotent over sets of cells:
 * - per cell, last-write-wins by HLC (string order); an exact HLC tie is broken by the
 *   canonical JSON of the value, so even a malformed duplicate converges;
 * - delete wins: once a `_deleted` cell arrives the document is a tombstone forever; its
 *   field cells are dropped and later field writes to it are ignored. Tombstones keep the
 *   greatest HLC of the deletes seen. Tombstones never appear in documents.
 *
 * `apply` validates the whole batch before touching anything: a bad cell throws and
 * nothing of the batch is applied. It returns exactly the documents and fields whose
 * visible value changed, which is what reactivity and live queries consume.
 */
import { type Cell, type CellValue, DELETED_FIELD, unflattenFields, validateCell } from './cells.js';
import { InvalidCellError } from './errors.js';

/** What one apply did to one document, as app code sees it. */
export interface DocChange {
  readonly collection: string;
  readonly id: string;
  /** insert: became visible; update: stayed visible, fields changed; delete: stopped being visible. */
  readonly kind: 'insert' | 'update' | 'delete';
  /** Field paths whose stored cell changed (refMany members as `field[member]`). Empty for delete. */
  readonly fields: readonly string[];
}

/** The stored winner of one cell. */
export interface Slot {
  value: CellValue;
  hlc: string;
  seq: number;
}

interface DocEntry {
  readonly collection: string;
  readonly id: string;
  readonly fields: Map<string, Slot>;
  /** HLC of the winning tombstone, if deleted. */
  deleted: string | undefined;
  /** Highest local sequence number of any change in this document. */
  seq: number;
  /** Number of fields with a defined value: visible iff > 0 and not deleted. */
  live: number;
  /** Materialised document, rebuilt lazily after a change. */
  doc: Record<string, unknown> | undefined;
  // Scratch state of the apply that last touched this document (valid while `batch` matches).
  batch: number;
  wasVisible: boolean;
  changed: boolean;
  changedFields: string[] | undefined;
}

const newEntry = (collection: string, id: string): DocEntry => ({
  collection,
  id,
  fields: new Map(),
  deleted: undefined,
  seq: 0,
  live: 0,
  doc: undefined,
  batch: 0,
  wasVisible: false,
  changed: false,
  changedFields: undefined,
});

const canonical = (v: CellValue): string => (v === undefined ? '' : JSON.stringify(v));

/** Does `incoming` beat `current` for the same cell? */
export function cellWins(incomingHlc: string, incomingValue: CellValue, current: Slot | undefined): boolean {
  if (current === undefined) return true;
  if (incomingHlc !== current.hlc) return incomingHlc > current.hlc;
  if (incomingValue === current.value) return false;
  return canonical(incomingValue) > canonical(current.value);
}

/**
 * The merged state of a set of collections.
 * @example
 * const r = new Replica();
 * const changes = r.apply([{ collection: 'todos', id: 'a', field: 'id', value: 'a', hlc }]);
 * r.get('todos', 'a'); // { id: 'a' }
 */
export class Replica {
  readonly #collections = new Map<string, Map<string, DocEntry>>();
  #seq = 0;
  #batch = 0;

  /** The local sequence number of the last change: pass it to {@link cellsSince} later. */
  get seq(): number {
    return this.#seq;
  }

  /**
   * Validate then merge a batch of cells. Throws (and applies nothing) if any cell is bad.
   * Returns the visible changes, one entry per touched document.
   */
  apply(cells: readonly Cell[]): DocChange[] {
    if (!Array.isArray(cells)) throw new InvalidCellError('apply() takes an array of cells.');
    for (let i = 0; i < cells.length; i++) validateCell(cells[i], i);
    return this.applyTrusted(cells);
  }

  /**
   * Merge cells already validated (by {@link validateCell} or because this process made
   * them). Skips validation; everything else is as {@link apply}.
   * @internal
   */
  applyTrusted(cells: readonly Cell[]): DocChange[] {
    const batch = ++this.#batch;
    // A slot whose seq is above this was already changed earlier in this batch: list its field once.
    const batchStart = this.#seq;
    const touched: DocEntry[] = [];
    // Batches usually hold several cells of one document in a row: skip the lookups then.
    let lastCollection: string | undefined;
    let lastId: string | undefined;
    let entry: DocEntry | undefined;
    for (let i = 0; i < cells.length; i++) {
      const c = cells[i]!;
      if (c.id !== lastId || c.collection !== lastCollection || entry === undefined) {
        let coll = this.#collections.get(c.collection);
        if (!coll) this.#collections.set(c.collection, (coll = new Map()));
        entry = coll.get(c.id);
        if (!entry) coll.set(c.id, (entry = newEntry(c.collection, c.id)));
        lastCollection = c.collection;
        lastId = c.id;
        if (entry.batch !== batch) {
          entry.batch = batch;
          entry.wasVisible = entry.deleted === undefined && entry.live > 0;
          entry.changed = false;
          entry.changedFields = undefined;
          touched.push(entry);
        }
      }

      if (c.field === DELETED_FIELD) {
        if (entry.deleted === undefined || c.hlc > entry.deleted) {
          if (entry.deleted === undefined) {
            entry.fields.clear();
            entry.live = 0;
            entry.doc = undefined;
          }
          entry.deleted = c.hlc;
          entry.seq = ++this.#seq;
          entry.changed = true;
        }
        continue;
      }
      if (entry.deleted !== undefined) continue; // delete wins: writes to a tombstone are dropped
      const slot = entry.fields.get(c.field);
      if (!cellWins(c.hlc, c.value, slot)) continue;
      const seq = ++this.#seq;
      if (slot) {
        if (slot.value === undefined) {
          if (c.value !== undefined) entry.live++;
        } else if (c.value === undefined) entry.live--;
        if (slot.seq <= batchStart) (entry.changedFields ??= []).push(c.field);
        slot.value = c.value;
        slot.hlc = c.hlc;
        slot.seq = seq;
      } else {
        entry.fields.set(c.field, { value: c.value, hlc: c.hlc, seq });
        if (c.value !== undefined) entry.live++;
        (entry.changedFields ??= []).push(c.field);
      }
      entry.seq = seq;
      entry.doc = undefined;
      entry.changed = true;
    }

    const changes: DocChange[] = [];
    for (let i = 0; i < touched.length; i++) {
      const e = touched[i]!;
      if (!e.changed) continue;
      const visible = e.deleted === undefined && e.live > 0;
      if (visible) {
        changes.push({
          collection: e.collection,
          id: e.id,
          kind: e.wasVisible ? 'update' : 'insert',
          fields: e.changedFields ?? [],
        });
      } else if (e.wasVisible) {
        changes.push({ collection: e.collection, id: e.id, kind: 'delete', fields: [] });
      }
      e.changedFields = undefined; // hand the array to the caller; keep no reference
    }
    return changes;
  }

  /** The visible document, or undefined if missing or deleted. The same object until it changes. */
  get(collection: string, id: string): Readonly<Record<string, unknown>> | undefined {
    const entry = this.#collections.get(collection)?.get(id);
    if (!entry || entry.deleted !== undefined || entry.live === 0) return undefined;
    return (entry.doc ??= unflattenFields(id, entry.fields));
  }

  /** True when the document is visible. */
  has(collection: string, id: string): boolean {
    const entry = this.#collections.get(collection)?.get(id);
    return !!entry && entry.deleted === undefined && entry.live > 0;
  }

  /** True when the document has been deleted (a tombstone exists). */
  isDeleted(collection: string, id: string): boolean {
    return this.#collections.get(collection)?.get(id)?.deleted !== undefined;
  }

  /** The stored winner of one cell (tombstoned documents have only `_deleted`). */
  cell(collection: string, id: string, field: string): Readonly<Slot> | undefined {
    const entry = this.#collections.get(collection)?.get(id);
    if (!entry) return undefined;
    if (field === DELETED_FIELD)
      return entry.deleted === undefined ? undefined : { value: true, hlc: entry.deleted, seq: entry.seq };
    return entry.fields.get(field);
  }

  /** The stored cells of one document (field → slot); undefined when unknown. */
  fields(collection: string, id: string): ReadonlyMap<string, Readonly<Slot>> | undefined {
    return this.#collections.get(collection)?.get(id)?.fields;
  }

  /** Ids of the visible documents of a collection. */
  *ids(collection: string): IterableIterator<string> {
    const coll = this.#collections.get(collection);
    if (!coll) return;
    for (const [id, e] of coll) if (e.deleted === undefined && e.live > 0) yield id;
  }

  /** The visible documents of a collection. */
  *documents(collection: string): IterableIterator<Readonly<Record<string, unknown>>> {
    const coll = this.#collections.get(collection);
    if (!coll) return;
    for (const [id, e] of coll)
      if (e.deleted === undefined && e.live > 0) yield (e.doc ??= unflattenFields(id, e.fields));
  }

  /** Number of visible documents in a collection. */
  count(collection: string): number {
    let n = 0;
    const coll = this.#collections.get(collection);
    if (coll) for (const e of coll.values()) if (e.deleted === undefined && e.live > 0) n++;
    return n;
  }

  /** Names of the collections this replica has seen. */
  collections(): string[] {
    return [...this.#collections.keys()];
  }

  /**
   * Every stored cell that changed after local sequence `since` (0 = all), tombstones
   * included. Cost: one pass over the documents, plus the cells of changed documents.
   */
  cellsSince(since = 0): Cell[] {
    const out: Cell[] = [];
    for (const [collection, coll] of this.#collections) {
      for (const [id, e] of coll) {
        if (e.seq <= since) continue;
        if (e.deleted !== undefined) {
          out.push({ collection, id, field: DELETED_FIELD, value: true, hlc: e.deleted });
          continue;
        }
        for (const [field, s] of e.fields)
          if (s.seq > since) out.push({ collection, id, field, value: s.value, hlc: s.hlc });
      }
    }
    return out;
  }

  /**
   * Forget a document entirely (its cells and any tombstone), as if it had never been seen:
   * for a snapshot that replaces what a client holds (the server no longer has it, e.g. its
   * tombstone was compacted away, or it left the client's queries). Not a merge operation:
   * replicas that forget differently no longer converge. Returns the visible change: a
   * `delete` when the document was visible, else undefined.
   */
  forget(collection: string, id: string): DocChange | undefined {
    const coll = this.#collections.get(collection);
    const entry = coll?.get(id);
    if (!coll || !entry) return undefined;
    coll.delete(id);
    const wasVisible = entry.deleted === undefined && entry.live > 0;
    return wasVisible ? { collection, id, kind: 'delete', fields: [] } : undefined;
  }

  /** Drop everything. */
  clear(): void {
    this.#collections.clear();
  }
}
