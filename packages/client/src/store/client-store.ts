/**
 * The client store (DESIGN.md decision 6): a synced base (core `Replica`: what sources
 * confirmed) and an optimistic overlay (the pending writes, in transaction order). What apps
 * and queries see is the overlay applied on the base, kept materialised per document and
 * recomputed only for the documents a change touches.
 *
 *     writes ──► overlay (per document: pending mutations in order) ─┐
 *                                                                    ├─► visible docs ─► DocChange[] ─► listeners, signals
 *     sync / confirm ──► base (Replica, LWW per cell) ───────────────┘
 *
 * Contract for the query engine: {@link ClientStore.documents}, {@link ClientStore.get}
 * (the same object while the document is unchanged) and {@link ClientStore.subscribe}
 * (one call with every visible change of a transaction or sync batch).
 */
import {
  assertStorableValue,
  batch,
  type Cell,
  type CellValue,
  ColumnEntries,
  DELETED_FIELD,
  type DocChange,
  flattenDocument,
  ID_FIELD,
  isValidCollectionName,
  isValidFieldPath,
  isValidHlc,
  isValidId,
  isTracking,
  Replica,
  ReplicaEntry,
  type Signal,
  signal,
  validateCell,
} from '@omnisync/core';
import type { Doc, PendingMutation } from '../types.js';
import { applyData, deepEqual, diffFlat, materialize } from './doc-ops.js';
import type { MutationRecord } from '../transactions/mutation.js';
import { type LoadedBase, type LoadedGroup, stampAt } from '../persistence/loaded-base.js';

/** Receives the visible changes of one transaction or sync batch. */
export type StoreListener = (changes: readonly DocChange[]) => void;

/** Per-collection behaviour of the visible layer. */
export interface CollectionViewOptions {
  /** Turn a stored document into the app's form (e.g. ISO strings → Dates). Must be idempotent. */
  readonly decode?: (doc: Doc) => Doc;
  /** Seed 001's parallel merge: visible document from the synced one and the pending writes. */
  readonly merge?: (synced: Doc | undefined, pending: readonly PendingMutation[]) => Doc | undefined;
  /** refMany fields (for change field lists). */
  readonly refMany?: ReadonlySet<string>;
}

const identity = (d: Doc) => d;

/** Pending writes of one document: one record (the common case, no array), or several in order. */
type Pending = MutationRecord | MutationRecord[];
const NONE: readonly MutationRecord[] = Object.freeze([]);
const asList = (p: Pending | undefined): readonly MutationRecord[] =>
  p === undefined ? NONE : Array.isArray(p) ? p : [p];

/**
 * @internal One document: its entry in the synced base (core `ReplicaEntry`: the confirmed
 * cells) extended with what is visible and the pending writes on it. Base and overlay share
 * the object and its one map entry, so a write finds all of it with one lookup, an insert
 * adds one entry, and confirming a write (its record keeps the slot) needs no lookup at all.
 * A slot the base holds nothing of, with nothing visible or pending, is released.
 */
export class Slot extends ReplicaEntry {
  /** The visible document (undefined: not visible). */
  visible: Doc | undefined = undefined;
  /** Pending optimistic mutations, in order. */
  pending: Pending | undefined = undefined;
}

const newSlot = (): Slot => new Slot();

function* visibleDocs(v: CollectionView): IterableIterator<Doc> {
  const slots = v.slots;
  if (slots instanceof ColumnEntries && slots.parts !== undefined) {
    yield* columnDocs(slots, slots.parts, v.columnVisible!);
    return;
  }
  for (const s of slots.values()) if (s.visible !== undefined) yield s.visible;
}

/**
 * The visible document `id` of a collection loaded from columns whose entries are not built
 * yet: one written beside the columns, else its row's (found without building the entries).
 */
function columnGet(v: CollectionView, slots: ColumnEntries<Slot>, id: string): Doc | undefined {
  const built = slots.peek(id);
  if (built !== undefined) return built.visible;
  const g = slots.locate(id);
  if (g < 0) return undefined;
  const p = slots.partOf(g);
  return v.columnVisible![p]![g - slots.partStart(p)];
}

/**
 * The visible documents of a collection loaded from columns whose entries are not built yet
 * (see core `ColumnEntries`), in the order the built map will have: the columns' rows, then
 * the documents written beside them.
 */
function* columnDocs(
  slots: ColumnEntries<Slot>,
  parts: NonNullable<ColumnEntries<Slot>['parts']>,
  visible: readonly (readonly (Doc | undefined)[])[],
): IterableIterator<Doc> {
  const early = [...slots.built()];
  const placed = new Set<string>();
  for (let p = 0; p < parts.length; p++) {
    const { ids, skip } = parts[p]!.rows;
    const docs = visible[p]!;
    for (let i = 0; i < ids.length; i++) {
      if (skip !== undefined && skip.has(i)) {
        const id = ids[i]!;
        placed.add(id);
        const d = slots.peek(id)?.visible;
        if (d !== undefined) yield d;
        continue;
      }
      const d = docs[i];
      if (d !== undefined) yield d;
    }
  }
  for (const [id, s] of early) if (!placed.has(id) && s.visible !== undefined) yield s.visible;
}

/** @internal Visible state of one collection. */
class CollectionView {
  readonly name: string;
  /**
   * The collection's documents by id: the base replica's entries of the collection, which
   * include every document that is visible or has pending writes.
   */
  slots: Map<string, Slot>;
  /**
   * While the collection's entries are columns not built yet (`slots` is a core
   * `ColumnEntries`): the visible document of each row of each part (see `loadBase`).
   */
  columnVisible: (Doc | undefined)[][] | undefined = undefined;
  /** Number of visible documents. */
  size = 0;
  /** Documents with a pending delete (not visible, but their id is taken). */
  readonly pendingDeletes = new Set<string>();
  /** Documents whose base changed while they had pending writes (their visible doc must be recomputed on confirm). */
  readonly dirty = new Set<string>();
  /** Per-document signals, created on the first tracked read. */
  readonly signals = new Map<string, Signal<number>>();
  /** Per-document signals of the pending-write list (isDirty), created on the first tracked read. */
  readonly pendingSignals = new Map<string, Signal<number>>();
  /** Bumped once per batch that changes any document's pending writes (created when tracked). */
  pendingVersion: Signal<number> | undefined;
  /** `pendingVersion` is queued for this batch's flush. */
  pendingQueued = false;
  /** Bumped once per batch that changes this collection. */
  readonly version: Signal<number> = signal(0);
  /** Called once, just before the next visible change (see {@link ClientStore.beforeChange}). */
  before: Set<() => void> | undefined;
  decode: (doc: Doc) => Doc = identity;
  merge: CollectionViewOptions['merge'];
  refMany: ReadonlySet<string> | undefined;
  /** Touched in the current batch. */
  changed = false;
  /** Bumped on every visible change, at once (caches key on it; signals wait for the batch end). */
  rev = 0;
  constructor(name: string, slots: Map<string, Slot>) {
    this.name = name;
    this.slots = slots;
  }
}

/** The synced base + optimistic overlay of one client. */
export class ClientStore {
  /** The synced base: cells confirmed by sources. */
  readonly base = new Replica<Slot>({ entry: newSlot });
  readonly #views = new Map<string, CollectionView>();
  readonly #listeners = new Set<StoreListener>();
  #depth = 0;
  #confirmMark = 0;
  #changes: DocChange[] = [];
  /**
   * Collections and document signals touched in the running batch: arrays used up to a count
   * (never truncated, so a write a microtask does not reallocate them), swapped with spares at
   * the flush (a listener or effect that writes starts a fresh batch).
   */
  #touched: CollectionView[] = [];
  #nTouched = 0;
  #bumps: Signal<number>[] = [];
  #nBumps = 0;
  #spareTouched: CollectionView[] | undefined = [];
  #spareBumps: Signal<number>[] | undefined = [];
  // What the flush's signal batch bumps (set just before it runs).
  #flushTouched: CollectionView[] = [];
  #flushNTouched = 0;
  #flushBumps: Signal<number>[] = [];
  #flushNBumps = 0;
  /**
   * A fresh HLC stamp: given to a prepared write whose transaction already has a pending write
   * on the same document, so the later write wins over the earlier (set by the client).
   */
  restamp: (() => string) | undefined;
  /** Called when a base change lands on a document with pending writes (a conflict, seed 004). */
  onOverlap: ((collection: string, id: string) => void) | undefined;
  /** Collections whose `pendingVersion` is queued in the running batch. */
  #pendingViews: CollectionView[] = [];
  /** The id {@link idState} last found free, with no slot (an insert of it then skips a lookup). */
  #freeId: string | undefined;
  #freeView: CollectionView | undefined;

  /** @internal */
  view(collection: string): CollectionView {
    let v = this.#views.get(collection);
    if (!v) this.#views.set(collection, (v = new CollectionView(collection, this.base.entries(collection))));
    return v;
  }

  /** Set how a collection's visible documents are built (decode, merge, refMany). */
  configure(collection: string, options: CollectionViewOptions): void {
    const v = this.view(collection);
    v.decode = options.decode ?? identity;
    v.merge = options.merge;
    v.refMany = options.refMany;
  }

  // ── reads (the query-engine contract) ────────────────────────────────────────────

  /** The visible document, or undefined. The same object until it changes. */
  get(collection: string, id: string): Doc | undefined {
    const v = this.#views.get(collection);
    if (v === undefined) return undefined;
    const slots = v.slots;
    if (slots instanceof ColumnEntries && slots.parts !== undefined) return columnGet(v, slots, id);
    return slots.get(id)?.visible;
  }

  /**
   * @internal The slot of a document (visible, or with pending writes), for a write prepared
   * from it and applied at once (see {@link applyOptimistic}).
   */
  slot(collection: string, id: string): Slot | undefined {
    return this.#views.get(collection)?.slots.get(id);
  }

  /** The visible documents of a collection (live iterator: do not write while iterating). */
  documents(collection: string): IterableIterator<Doc> {
    const v = this.#views.get(collection);
    return v ? visibleDocs(v) : [][Symbol.iterator]();
  }

  /** Number of visible documents. */
  count(collection: string): number {
    return this.#views.get(collection)?.size ?? 0;
  }

  /** True when the document is visible. */
  has(collection: string, id: string): boolean {
    return this.get(collection, id) !== undefined;
  }

  /**
   * Whether an id can be inserted: `taken` (visible, or with pending writes), `deleted` (a
   * tombstone: ids are never reused), or `free`. One lookup in the common case.
   */
  idState(collection: string, id: string): 'free' | 'taken' | 'deleted' {
    const v = this.#views.get(collection);
    if (v === undefined) return this.base.isDeleted(collection, id) ? 'deleted' : 'free';
    const slot = v.slots.get(id);
    if (slot === undefined) {
      this.#freeId = id;
      this.#freeView = v;
      return 'free';
    }
    if (slot.visible !== undefined || (v.pendingDeletes.size > 0 && v.pendingDeletes.has(id))) return 'taken';
    return slot.deleted !== undefined ? 'deleted' : 'free';
  }

  /** True when the synced base holds a tombstone for the document (its id can never be used again). */
  isDeleted(collection: string, id: string): boolean {
    return this.base.isDeleted(collection, id);
  }

  /** Pending optimistic writes to a document, in order. */
  pending(collection: string, id: string): readonly MutationRecord[] {
    const slots = this.#views.get(collection)?.slots;
    // Documents still in columns have no pending write (a write builds the entries).
    if (slots instanceof ColumnEntries && slots.parts !== undefined) return asList(slots.peek(id)?.pending);
    return asList(slots?.get(id)?.pending);
  }

  /**
   * Call `fn` once, synchronously, just before the next visible change of a document of
   * `collection` (the query engine copies the documents it has to remember then, not when
   * a query opens). Returns a function that cancels it.
   */
  beforeChange(collection: string, fn: () => void): () => void {
    const v = this.view(collection);
    const set = (v.before ??= new Set());
    const once = () => fn();
    set.add(once);
    return () => void v.before?.delete(once);
  }

  /** Listen to visible changes; one call per transaction or sync batch. Returns unsubscribe. */
  subscribe(listener: StoreListener): () => void {
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  /** Subscribe the running computed/effect to one document. */
  trackDocument(collection: string, id: string): void {
    if (isTracking()) track(this.view(collection).signals, id);
  }

  /**
   * Subscribe the running computed/effect to one document's pending writes: it re-runs when
   * a write to the document is added, confirmed or rolled back (not on other documents').
   */
  trackPending(collection: string, id: string): void {
    if (isTracking()) track(this.view(collection).pendingSignals, id);
  }

  /** Subscribe the running computed/effect to the pending writes of every document of a collection. */
  trackAnyPending(collection: string): void {
    if (!isTracking()) return;
    const v = this.view(collection);
    (v.pendingVersion ??= signal(0)).get();
  }

  /** Bump the pending-list signals of a document (and its collection's) at the end of the batch, if tracked. */
  #pendingChanged(v: CollectionView, id: string): void {
    if (v.pendingVersion !== undefined && !v.pendingQueued) {
      v.pendingQueued = true;
      this.#bumps[this.#nBumps++] = v.pendingVersion;
      this.#pendingViews.push(v);
    }
    if (v.pendingSignals.size === 0) return;
    const s = v.pendingSignals.get(id);
    if (s !== undefined) this.#bumps[this.#nBumps++] = s;
  }

  /** A number that changes whenever the collection's visible documents change (for caches). */
  revision(collection: string): number {
    return this.#views.get(collection)?.rev ?? 0;
  }

  /** Subscribe the running computed/effect to any change of a collection. */
  trackCollection(collection: string): number {
    return this.view(collection).version.get();
  }

  // ── writes ───────────────────────────────────────────────────────────────────────

  /** Run `fn` with notifications deferred: listeners hear once, signals fire once. */
  batch<T>(fn: () => T): T {
    this.#depth++;
    try {
      return fn();
    } finally {
      if (--this.#depth === 0) this.#flush();
    }
  }

  /**
   * Writes recovered after a restart sit on a base that may already hold newer cells (held
   * remote cells are stored on arrival): mark their documents so confirming them recomputes
   * the visible document from the base instead of keeping what was shown.
   */
  markRecovered(records: readonly MutationRecord[]): void {
    for (let i = 0; i < records.length; i++) this.view(records[i]!.collection).dirty.add(records[i]!.key);
  }

  /**
   * Apply optimistic writes on top of the visible state. `prepared`: each record's
   * `modified` was computed from the current visible document just now (a fresh write), so
   * it is the new visible document as it is.
   */
  applyOptimistic(records: readonly MutationRecord[], prepared = false): void {
    this.#depth++;
    try {
      let v: CollectionView | undefined;
      for (let i = 0; i < records.length; i++) {
        const m = records[i]!;
        if (v === undefined || v.name !== m.collection) v = this.view(m.collection);
        // A prepared write carries the slot it was prepared from (see prepare.ts).
        let slot: Slot | undefined = prepared ? m.slot : undefined;
        if (slot === undefined) {
          if (this.#freeId === m.key && this.#freeView === v) {
            // idState just found this id without a slot (a fresh insert): no lookup.
            this.#freeId = this.#freeView = undefined;
          } else slot = v.slots.get(m.key);
          slot ??= this.#newSlot(v, m.key);
        }
        m.slot = slot;
        const before = slot.pending;
        this.#pendingChanged(v, m.key);
        if (prepared && m.type === 'insert' && v.merge === undefined && before === undefined) {
          // A fresh insert was checked against a free id: no pending write, nothing visible.
          slot.pending = m;
          this.#set(v, m.key, slot, undefined, v.decode(m.modified), m);
          continue;
        }
        if (prepared && before !== undefined && this.restamp !== undefined) {
          const tx = m.tx;
          if (Array.isArray(before) ? before.some((p) => p.tx === tx) : before.tx === tx)
            m.hlc = this.restamp();
        }
        if (before === undefined) slot.pending = m;
        else if (Array.isArray(before)) before.push(m);
        else slot.pending = [before, m];
        if (m.type === 'delete') v.pendingDeletes.add(m.key);
        const prev = slot.visible;
        if (v.merge !== undefined) {
          this.#recompute(v, m.key, slot);
          continue;
        }
        let next: Doc | undefined;
        if (m.type === 'delete') next = undefined;
        else if (prepared) next = v.decode(m.modified);
        else if (prev === undefined) {
          // A key with an earlier pending delete, or a base tombstone, stays deleted (delete wins).
          if (asList(before).some((p) => p.type === 'delete') || slot.deleted !== undefined) next = undefined;
          else
            next = v.decode(
              m.type === 'insert' ? materialize(m.key, m.data, m.hlc) : applyData({ id: m.key }, m.data),
            );
        } else next = v.decode(applyData(prev, m.data));
        this.#set(v, m.key, slot, prev, next, m);
      }
    } finally {
      if (--this.#depth === 0) this.#flush();
    }
  }

  /**
   * Take writes off the overlay: rolled back (`confirmed` false), or confirmed, in which case
   * their cells go into the base first (`extraCells`: more confirmed cells, e.g. a pessimistic
   * write's). A document whose visible value does not change keeps its object and is not
   * reported.
   */
  removeOptimistic(
    records: readonly MutationRecord[],
    confirmed: boolean,
    extraCells?: readonly Cell[],
  ): void {
    this.#depth++;
    try {
      if (confirmed) {
        const mark = ++this.#confirmMark;
        for (let i = 0; i < records.length; i++) records[i]!.confirmMark = mark;
        // Written straight into the base, no cell objects. The replica's change list is not
        // needed: every document here has overlay entries, settled in the loop below.
        const base = this.base;
        base.beginWrite(false);
        try {
          for (let i = 0; i < records.length; i++) records[i]!.writeTo(base);
        } finally {
          base.endWrite();
        }
        if (extraCells !== undefined && extraCells.length > 0) this.#applyBase(extraCells, mark);
      }
      let v: CollectionView | undefined;
      for (let i = 0; i < records.length; i++) {
        const m = records[i]!;
        const slot = m.slot;
        if (slot === undefined) continue; // not on the overlay (pessimistic, or settled already)
        if (v === undefined || v.name !== m.collection) v = this.view(m.collection);
        this.#pendingChanged(v, m.key);
        const cur = slot.pending!;
        if (
          cur === m ||
          (confirmed && Array.isArray(cur) && cur.every((p) => p.confirmMark === m.confirmMark))
        ) {
          slot.pending = undefined;
          if (cur === m) m.slot = undefined;
          else for (const p of cur as MutationRecord[]) p.slot = undefined;
          if (v.pendingDeletes.size > 0) v.pendingDeletes.delete(m.key);
          // Confirmed, nothing else pending, and the base did not move underneath: the base now
          // holds exactly what was visible, so the visible object stays as it is.
          if (confirmed && v.merge === undefined && (v.dirty.size === 0 || !v.dirty.has(m.key))) {
            if (slot.visible === undefined) this.base.release(v.slots, m.key, slot);
            continue;
          }
          v.dirty.delete(m.key);
        } else {
          const list = cur as MutationRecord[];
          list.splice(list.indexOf(m), 1);
          m.slot = undefined;
          if (list.length === 1) slot.pending = list[0]!;
          if (m.type === 'delete' && !list.some((p) => p.type === 'delete')) v.pendingDeletes.delete(m.key);
        }
        this.#recompute(v, m.key, slot);
      }
    } finally {
      if (--this.#depth === 0) this.#flush();
    }
  }

  /** Apply cells to the base (from a source, or recovered): visible where no write is pending. */
  applyBase(cells: readonly Cell[], trusted = false): DocChange[] {
    this.#depth++;
    try {
      return this.#applyBase(cells, undefined, trusted);
    } finally {
      if (--this.#depth === 0) this.#flush();
    }
  }

  /**
   * Apply a persisted base given in columns (see persistence/loaded-base.ts): the same as
   * {@link applyBase} of its cells (validated, one merge batch), but documents of a shape are
   * built straight from the columns, without a cell object per field, when the collections
   * they go to are empty and nothing listens yet (as at a client's start). Anything else, or anything that does not validate, takes the
   * cell path (which reports the invalid cell).
   */
  loadBase(base: LoadedBase, cells: () => readonly Cell[]): void {
    // Listeners hear the changes in cell order: the cell path keeps that order exactly.
    if (this.#listeners.size > 0 || !this.#canLoadColumns(base)) {
      this.applyBase(cells());
      return;
    }
    this.#depth++;
    try {
      const r = this.base;
      const hlcs = base.hlcs;
      const byCollection = new Map<string, LoadedGroup[]>();
      for (const g of base.groups) {
        const list = byCollection.get(g.collection);
        if (list === undefined) byCollection.set(g.collection, [g]);
        else list.push(g);
      }
      const collections = new Set<string>();
      const columns: ColumnEntries<Slot>[] = [];
      r.beginWrite(false);
      try {
        for (const [name, groups] of byCollection) {
          collections.add(name);
          const lazy = this.#loadColumns(name, groups, hlcs);
          if (lazy !== undefined) {
            columns.push(lazy);
            // The documents the journal changed are written beside the columns.
            for (const g of groups)
              if (g.replaced !== undefined)
                for (const cs of g.replaced.values())
                  for (const c of cs) r.write(c.collection, c.id, c.field, c.value, c.hlc);
            continue;
          }
          for (const g of groups) {
            const shape = g.fields.includes(DELETED_FIELD) ? undefined : r.shapeOf(g.fields);
            this.#loadGroup(g, shape, hlcs);
          }
        }
        for (const c of base.extra) {
          collections.add(c.collection);
          r.write(c.collection, c.id, c.field, c.value, c.hlc);
        }
      } finally {
        r.endWrite();
      }
      const noFields: readonly string[] = []; // no listener hears them (see above)
      for (const name of collections) {
        const v = this.view(name);
        // A collection loaded from columns: only the entries written beside them are built.
        const built = v.slots instanceof ColumnEntries ? v.slots.built() : v.slots.entries();
        for (const [id, slot] of built) {
          const raw = r.docOf(id, slot) as Doc | undefined;
          if (raw === undefined) continue;
          this.#set(v, id, slot, undefined, v.decode(raw), undefined, noFields);
        }
      }
      for (const lazy of columns) lazy.hold = false;
    } finally {
      if (--this.#depth === 0) this.#flush();
    }
  }

  /**
   * Load the groups of one collection as core `ColumnEntries` (entries built on first need;
   * each visible document made now), when nothing would notice the difference from a load
   * cell by cell: no document signal or "before" hook waits on the collection, and every
   * group is of one flat shape. Undefined otherwise (nothing done).
   */
  #loadColumns(
    name: string,
    groups: readonly LoadedGroup[],
    hlcs: readonly string[],
  ): ColumnEntries<Slot> | undefined {
    const v = this.view(name);
    if (v.signals.size > 0 || (v.before !== undefined && v.before.size > 0)) return undefined;
    const lazy = this.base.loadColumns(
      name,
      hlcs,
      groups.map((g) => ({ ...g, skip: g.replaced })),
    );
    if (lazy === undefined) return undefined;
    lazy.hold = true;
    const parts = lazy.parts!;
    const decode = v.decode;
    let size = 0;
    const visible = parts.map(({ docs }) => {
      const out =
        decode === identity ? (docs as (Doc | undefined)[]) : new Array<Doc | undefined>(docs.length);
      for (let i = 0; i < docs.length; i++) {
        const d = docs[i] as Doc | undefined;
        if (d === undefined) continue;
        size++;
        if (decode !== identity) out[i] = decode(d);
      }
      return out;
    });
    v.slots = lazy;
    v.columnVisible = visible;
    v.size += size;
    if (size > 0) {
      v.rev++;
      if (!v.changed) {
        v.changed = true;
        this.#touched[this.#nTouched++] = v;
      }
    }
    lazy.adopt = (slot, p, i) => {
      slot.visible = visible[p]![i];
    };
    lazy.settled = () => {
      v.columnVisible = undefined;
      // A snapshot holds each document once; one that repeats an id keeps its last copy (as
      // a load cell by cell does), so the count is taken again.
      let n = 0;
      for (const slot of lazy.built()) if (slot[1].visible !== undefined) n++;
      v.size = n;
    };
    return lazy;
  }

  #loadGroup(g: LoadedGroup, shape: object | undefined, hlcs: readonly string[]): void {
    const r = this.base;
    const { collection, fields, ids, stamps, values, replaced } = g;
    const nf = fields.length;
    const n = ids.length;
    // One HLC for a whole column (the usual case) is looked up once.
    const constant: (string | undefined)[] = stamps.map((s) =>
      typeof s === 'number' && s >= 0 ? hlcs[s] : undefined,
    );
    for (let i = 0; i < n; i++) {
      const id = ids[i]!;
      const cells = replaced === undefined ? undefined : replaced.get(i);
      if (cells !== undefined) {
        for (const c of cells) r.write(c.collection, c.id, c.field, c.value, c.hlc);
        continue;
      }
      if (shape === undefined) {
        for (let f = 0; f < nf; f++) {
          const s = stampAt(stamps[f]!, i);
          r.write(collection, id, fields[f]!, s >= 0 ? values[f]![i] : undefined, hlcs[s >= 0 ? s : -s - 1]!);
        }
        continue;
      }
      const row = new Array<CellValue>(nf);
      let hlc: string | undefined;
      let mixed: string[] | undefined;
      for (let f = 0; f < nf; f++) {
        let h = constant[f];
        if (h !== undefined) row[f] = values[f]![i];
        else {
          const s = stampAt(stamps[f]!, i);
          h = hlcs[s >= 0 ? s : -s - 1]!;
          row[f] = s >= 0 ? values[f]![i] : undefined;
        }
        if (f === 0) hlc = h;
        else if (mixed !== undefined) mixed[f] = h;
        else if (h !== hlc) {
          mixed = new Array<string>(nf).fill(hlc!, 0, f);
          mixed[f] = h;
        }
      }
      // The collection was empty (see #canLoadColumns): no lookup per document.
      r.writeRow(collection, id, shape, row, mixed ?? hlc!, true);
    }
  }

  /** Can `base` be loaded from its columns: every collection it fills empty here, every cell valid? */
  #canLoadColumns(base: LoadedBase): boolean {
    for (const g of base.groups) if (this.base.entries(g.collection).size > 0) return false;
    for (const c of base.extra) if (this.base.entries(c.collection).size > 0) return false;
    for (const h of base.hlcs) if (!isValidHlc(h)) return false;
    for (const g of base.groups) {
      if (!isValidCollectionName(g.collection)) return false;
      for (const id of g.ids) if (!isValidId(id)) return false;
      for (let f = 0; f < g.fields.length; f++) {
        const check = fieldCheck(g.fields[f]!);
        if (check === undefined) return false;
        const col = g.values[f]!;
        const st = g.stamps[f]!;
        for (let i = 0; i < col.length; i++)
          if (stampAt(st, i) >= 0 && !check(col[i], g.ids[i]!)) return false;
      }
      if (g.replaced) for (const cells of g.replaced.values()) if (!cells.every(validCell)) return false;
    }
    return base.extra.every(validCell);
  }
  /**
   * Forget synced documents entirely (core `Replica.forget`: cells and tombstone), for a
   * snapshot that replaces the base (seed 002). Each visible document is recomputed: one
   * without pending writes disappears; one with pending writes keeps them (an insert or an
   * update stays visible, on an empty base) and is recomputed again when they settle.
   * Persisting the forget is the caller's part.
   */
  forgetBase(collection: string, ids: Iterable<string>): void {
    this.#depth++;
    try {
      const v = this.view(collection);
      for (const id of ids) {
        const slot = v.slots.get(id);
        this.base.forget(collection, id); // removes the slot from the base, blank
        if (slot === undefined || (slot.visible === undefined && slot.pending === undefined)) continue;
        this.base.readopt(collection, id, slot); // visible or pending: the same slot, on an empty base
        if (slot.pending !== undefined) v.dirty.add(id);
        this.#recompute(v, id, slot);
      }
    } finally {
      if (--this.#depth === 0) this.#flush();
    }
  }

  #applyBase(cells: readonly Cell[], confirming: number | undefined, trusted = true): DocChange[] {
    const changes = trusted ? this.base.applyTrusted(cells) : this.base.apply(cells);
    let v: CollectionView | undefined;
    for (let i = 0; i < changes.length; i++) {
      const ch = changes[i]!;
      if (v === undefined || v.name !== ch.collection) v = this.view(ch.collection);
      const slot = v.slots.get(ch.id);
      const cur = slot?.pending;
      if (cur !== undefined) {
        // A document with pending writes: confirmed cells of those writes are expected; anything
        // else moved the base underneath them.
        const expected =
          confirming !== undefined &&
          (Array.isArray(cur)
            ? cur.every((m) => m.confirmMark === confirming)
            : cur.confirmMark === confirming);
        if (!expected) {
          v.dirty.add(ch.id);
          if (confirming === undefined) this.onOverlap?.(ch.collection, ch.id);
          this.#recompute(v, ch.id, slot!);
        }
        continue;
      }
      const prev = slot?.visible;
      const raw = (
        slot === undefined ? this.base.get(ch.collection, ch.id) : this.base.docOf(ch.id, slot)
      ) as Doc | undefined;
      const next = raw === undefined ? undefined : v.decode(raw);
      if (next === undefined ? prev === undefined : prev !== undefined && deepEqual(prev, next)) continue;
      const target = slot ?? this.#newSlot(v, ch.id);
      this.#set(v, ch.id, target, prev, next, undefined, ch.fields);
    }
    return changes;
  }

  /** A new slot for a document that has none (blank in the base until a write of it is confirmed). */
  #newSlot(v: CollectionView, id: string): Slot {
    const slot = this.base.newEntry();
    v.slots.set(id, slot);
    if (this.#freeId === id) this.#freeId = this.#freeView = undefined;
    return slot;
  }

  /** Rebuild one visible document from the base and its pending writes. */
  #recompute(v: CollectionView, id: string, slot: Slot): void {
    const prev = slot.visible;
    const list = asList(slot.pending);
    let doc = this.base.docOf(id, slot) as Doc | undefined;
    let deleted = slot.deleted !== undefined;
    if (list.length > 0) {
      if (v.merge !== undefined) {
        doc = v.merge(doc === undefined ? undefined : v.decode(doc), list);
      } else {
        for (const m of list) {
          if (deleted || m.type === 'delete') {
            deleted = true;
            doc = undefined;
          } else if (m.type === 'insert' && doc === undefined) doc = materialize(id, m.data, m.hlc);
          else doc = applyData(doc ?? ({ id } as Doc), m.data);
        }
      }
    }
    const next = doc === undefined ? undefined : v.decode(doc);
    if (next === prev || (next !== undefined && prev !== undefined && deepEqual(prev, next))) {
      if (prev === undefined && slot.pending === undefined) this.base.release(v.slots, id, slot);
      return;
    }
    this.#set(v, id, slot, prev, next, undefined);
  }

  #set(
    v: CollectionView,
    id: string,
    slot: Slot,
    prev: Doc | undefined,
    next: Doc | undefined,
    write: MutationRecord | undefined,
    baseFields?: readonly string[],
  ): void {
    if (prev === next) return;
    if (v.before !== undefined && v.before.size > 0) {
      const fns = [...v.before];
      v.before.clear();
      for (const fn of fns) fn();
    }
    v.rev++;
    slot.visible = next;
    if (next === undefined) {
      if (prev !== undefined) v.size--;
      if (slot.pending === undefined) this.base.release(v.slots, id, slot);
    } else if (prev === undefined) v.size++;
    if (!v.changed) {
      v.changed = true;
      this.#touched[this.#nTouched++] = v;
    }
    if (v.signals.size > 0) {
      const s = v.signals.get(id);
      if (s !== undefined) this.#bumps[this.#nBumps++] = s;
    }
    if (this.#listeners.size === 0) return;
    if (next === undefined) {
      if (prev !== undefined) this.#changes.push({ collection: v.name, id, kind: 'delete', fields: [] });
      return;
    }
    let fields: readonly string[];
    if (write !== undefined) fields = write.fields();
    else if (baseFields !== undefined) fields = baseFields;
    else {
      const opts = v.refMany ? { refMany: v.refMany } : {};
      const before = prev === undefined ? [] : safeFlatten(prev, opts);
      fields = diffFlat(before, safeFlatten(next, opts)).map(([f]) => f);
    }
    this.#changes.push({ collection: v.name, id, kind: prev === undefined ? 'insert' : 'update', fields });
  }

  #flush(): void {
    const nTouched = this.#nTouched;
    if (nTouched === 0 && this.#nBumps === 0) return;
    const touched = this.#touched;
    const bumps = this.#bumps;
    const nBumps = this.#nBumps;
    const changes = this.#changes;
    this.#touched = this.#spareTouched ?? [];
    this.#bumps = this.#spareBumps ?? [];
    this.#spareTouched = this.#spareBumps = undefined;
    this.#nTouched = this.#nBumps = 0;
    this.#changes = changes.length > 0 ? [] : changes;
    if (this.#pendingViews.length > 0) {
      for (const v of this.#pendingViews) v.pendingQueued = false;
      this.#pendingViews = [];
    }
    this.#flushTouched = touched;
    this.#flushNTouched = nTouched;
    this.#flushBumps = bumps;
    this.#flushNBumps = nBumps;
    batch(this.#bumpSignals);
    for (let i = 0; i < nTouched; i++) touched[i] = undefined as unknown as CollectionView;
    for (let i = 0; i < nBumps; i++) bumps[i] = undefined as unknown as Signal<number>;
    this.#spareTouched = touched;
    this.#spareBumps = bumps;
    if (changes.length > 0) for (const l of [...this.#listeners]) l(changes);
  }

  /** The body of the flush's signal batch (bound once: a flush allocates no closure). */
  readonly #bumpSignals = (): void => {
    const touched = this.#flushTouched;
    const bumps = this.#flushBumps;
    for (let i = 0, n = this.#flushNTouched; i < n; i++) {
      const v = touched[i]!;
      v.changed = false;
      v.version.set(v.version.peek() + 1);
    }
    for (let i = 0, n = this.#flushNBumps; i < n; i++) {
      const s = bumps[i]!;
      s.set(s.peek() + 1);
    }
  };
}

/**
 * The check of a stored value in column `f` (what `validateCell` asks of such a cell), or
 * undefined when the field path is not valid.
 */
function fieldCheck(f: string): ((value: unknown, id: string) => boolean) | undefined {
  if (f === DELETED_FIELD) return (v) => v === true;
  if (f === ID_FIELD) return (v, id) => v === id;
  if (!isValidFieldPath(f)) return undefined;
  let end = f.length;
  const dot = f.indexOf('.');
  if (dot >= 0) end = dot;
  const bracket = f.indexOf('[');
  if (bracket >= 0 && bracket < end) end = bracket;
  const root = f.slice(0, end);
  if (root === ID_FIELD || root === DELETED_FIELD) return undefined;
  if (f.charCodeAt(f.length - 1) === 93 /* ] */) return (v) => typeof v === 'boolean';
  return storable;
}

function storable(v: unknown): boolean {
  const t = typeof v;
  if (t === 'string' || t === 'boolean') return true;
  if (t === 'number') return Number.isFinite(v);
  try {
    assertStorableValue(v, 'a stored value');
    return true;
  } catch {
    return false;
  }
}

function validCell(c: Cell): boolean {
  try {
    validateCell(c);
    return true;
  } catch {
    return false;
  }
}

/** Read (subscribing to) the signal of `id` in `signals`, made on first use. */
function track(signals: Map<string, Signal<number>>, id: string): void {
  let s = signals.get(id);
  if (!s) signals.set(id, (s = signal(0)));
  s.get();
}

function safeFlatten(doc: Doc, opts: { refMany?: ReadonlySet<string> }) {
  try {
    return flattenDocument(doc, opts);
  } catch {
    try {
      return flattenDocument(doc);
    } catch {
      // A document stored before a key rule existed (a field name holding U+0000): no fields to name.
      return [];
    }
  }
}
