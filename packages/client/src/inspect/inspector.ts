/**
 * `client.experimental_inspect`: what a devtools panel needs to see inside one client — the
 * transactions and their state changes, the sources with their status, cursor and outbox,
 * the live queries with their completeness, and per field "why this value won": the writes
 * this replica saw, with HLCs and origins, the winner marked.
 *
 * Off by default, and then it costs nothing: no event is listened to, no cell recorded (the
 * client checks one boolean where cells arrive). Enabled (`enable()`, or the client option
 * `experimental_inspect`), it records into bounded buffers ({@link FieldLog}), so a long
 * session holds a fixed amount. Writes seen before it was enabled are not known; the synced
 * winner of a field still is (the store holds it), and shows with `via: ['base']`.
 */
import {
  type Cell,
  type CellValue,
  cellWins,
  DELETED_FIELD,
  effect,
  type EffectHandle,
  flattenDocument,
} from '@omnisync/core';
import {
  FieldLog,
  type FieldRef,
  type FieldSummary,
  INSPECT_FIELDS,
  INSPECT_WRITES_PER_FIELD,
  originOf,
  type SeenWrite,
} from './field-log.js';
import {
  type ClientInspector,
  type FieldInspection,
  type InspectedWrite,
  INSPECT_TRANSITIONS,
  type InspectOptions,
  type InspectorHost,
  type LiveQueryInspection,
  type SourceInspection,
  type TransactionTransition,
  type WriteStatus,
} from './types.js';
import type { Transaction } from '../transactions/transaction.js';

export type {
  ClientInspector,
  FieldInspection,
  InspectedWrite,
  InspectOptions,
  InspectorHost,
  LiveQueryInspection,
  SourceInspection,
  TransactionTransition,
  WriteStatus,
};
export { INSPECT_TRANSITIONS };
/** @internal */
export class Inspector implements ClientInspector {
  readonly #host: InspectorHost;
  #log: FieldLog | undefined;
  #transitions: TransactionTransition[] = [];
  #maxTransitions = INSPECT_TRANSITIONS;
  #unlisten: (() => void)[] = [];
  readonly #listeners = new Set<() => void>();
  #watch: (() => void)[] = [];

  constructor(host: InspectorHost) {
    this.#host = host;
  }

  get enabled(): boolean {
    return this.#log !== undefined;
  }

  enable(options: InspectOptions = {}): void {
    const old = this.#log;
    this.#log = new FieldLog(
      options.writesPerField ?? INSPECT_WRITES_PER_FIELD,
      options.fields ?? INSPECT_FIELDS,
    );
    if (old) for (const f of old.list().reverse()) this.#copy(old, f);
    this.#maxTransitions = Math.max(1, options.transitions ?? INSPECT_TRANSITIONS);
    if (this.#unlisten.length > 0) return;
    const ev = this.#host.events;
    this.#unlisten.push(
      ev.on('sync.op:action:captured', (e) => {
        const at = this.#host.scheduler.now();
        for (const m of e.mutations)
          this.#recordLocal(m as unknown as { cells: Cell[] }, e.transaction.id, at);
        this.#notify();
      }),
      ev.on('transaction:stateChange', (e) => {
        this.#transitions.push({
          transactionId: e.transaction.id,
          from: e.from,
          to: e.to,
          at: this.#host.scheduler.now(),
        });
        if (this.#transitions.length > this.#maxTransitions)
          this.#transitions.splice(0, this.#transitions.length - this.#maxTransitions);
      }),
    );
  }

  disable(): void {
    for (const u of this.#unlisten) u();
    this.#unlisten = [];
    this.#log = undefined;
    this.#transitions = [];
    this.#notify();
  }

  #copy(from: FieldLog, f: FieldRef): void {
    for (const w of from.writes(f.collection, f.id, f.field))
      for (const via of w.via)
        this.#log!.record(f.collection, f.id, f.field, w.value, w.hlc, via, w.seenAt, w.transactionId);
  }

  #recordLocal(m: { cells: Cell[] }, transactionId: string, at: number): void {
    const log = this.#log!;
    for (const c of m.cells)
      log.record(c.collection, c.id, c.field, c.value, c.hlc, 'local', at, transactionId);
  }

  /** @internal Cells a source delivered (the client calls this only while enabled). */
  remote(sourceId: string, cells: readonly Cell[]): void {
    const log = this.#log;
    if (log === undefined) return;
    const at = this.#host.scheduler.now();
    for (const c of cells) log.record(c.collection, c.id, c.field, c.value, c.hlc, sourceId, at);
    this.#notify();
  }

  field(collection: string, id: string, field: string): FieldInspection {
    const store = this.#host.store;
    const base = store.base;
    const seen = this.#log?.writes(collection, id, field) ?? [];
    const synced = base.cell(collection, id, field);
    const tomb = base.cell(collection, id, DELETED_FIELD);
    // Pending local writes of this field: on the overlay, shown, not yet confirmed.
    const pending = new Map<string, { value: CellValue; tx: string }>();
    for (const m of store.pending(collection, id))
      for (const c of m.cells) if (c.field === field) pending.set(c.hlc, { value: c.value, tx: m.tx.id });
    const all: SeenWrite[] = [...seen];
    const known = new Set(all.map((w) => w.hlc));
    if (synced !== undefined && !known.has(synced.hlc)) {
      all.push({
        value: synced.value,
        hlc: synced.hlc,
        origin: originOf(synced.hlc),
        via: ['base'],
        seenAt: 0,
      });
      known.add(synced.hlc);
    }
    for (const [hlc, p] of pending)
      if (!known.has(hlc))
        all.push({
          value: p.value,
          hlc,
          origin: originOf(hlc),
          via: ['local'],
          seenAt: 0,
          transactionId: p.tx,
        });
    const writes: InspectedWrite[] = all
      .map((w) => ({ ...w, status: statusOf(w, synced, tomb !== undefined, pending) }))
      .sort((a, b) => (a.hlc === b.hlc ? 0 : cellWins(a.hlc, a.value, b) ? -1 : 1));
    const doc = store.get(collection, id);
    const visible = doc === undefined ? undefined : visibleField(doc, field);
    return {
      collection,
      id,
      field,
      writes,
      winner: writes.find((w) => w.status === 'winner'),
      visible: visible as CellValue | undefined,
      ...(tomb !== undefined ? { deleted: { hlc: tomb.hlc, origin: originOf(tomb.hlc) } } : {}),
      recording: this.enabled,
    };
  }

  fields(): readonly FieldSummary[] {
    return this.#log?.list() ?? [];
  }

  fieldsOf(collection: string, id: string): readonly string[] {
    const out = this.#log?.fieldsOf(collection, id).reverse() ?? [];
    const synced = this.#host.store.base.fields(collection, id);
    if (synced) for (const f of synced.keys()) if (!out.includes(f)) out.push(f);
    return out;
  }

  transactions(): readonly Transaction[] {
    return this.#host.transactions.peek();
  }

  transitions(transactionId?: string): readonly TransactionTransition[] {
    return transactionId === undefined
      ? [...this.#transitions]
      : this.#transitions.filter((t) => t.transactionId === transactionId);
  }

  sources(): readonly SourceInspection[] {
    return this.#host.sources();
  }

  liveQueries(): readonly LiveQueryInspection[] {
    return this.#host.liveQueries();
  }

  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    if (this.#listeners.size === 1) this.#attach();
    return () => {
      if (!this.#listeners.delete(listener) || this.#listeners.size > 0) return;
      for (const w of this.#watch) w();
      this.#watch = [];
    };
  }

  #attach(): void {
    const h = this.#host;
    const notify = () => this.#notify();
    let first = true;
    const fx: EffectHandle = effect(() => {
      h.transactions.get();
      for (const s of h.statusSignals()) s.get();
      if (!first) notify();
      first = false;
    });
    this.#watch.push(h.events.onAny(notify), h.store.subscribe(notify), () => fx.stop());
  }

  #notify(): void {
    for (const l of [...this.#listeners]) l();
  }
}

/** The visible value of a field path (the app's document, flattened as cells are). */
function visibleField(doc: Readonly<Record<string, unknown>>, field: string): unknown {
  if (field === 'id') return doc.id;
  try {
    return flattenDocument(doc).find(([k]) => k === field)?.[1];
  } catch {
    return undefined; // a decoded value that does not flatten (diagnostics never throw)
  }
}

function statusOf(
  w: SeenWrite,
  synced: { readonly value: CellValue; readonly hlc: string } | undefined,
  deleted: boolean,
  pending: ReadonlyMap<string, unknown>,
): WriteStatus {
  if (deleted) return 'lost';
  if (synced !== undefined && w.hlc === synced.hlc) return 'winner';
  if (pending.has(w.hlc)) return 'pending';
  if (synced !== undefined && !cellWins(w.hlc, w.value, synced)) return 'lost';
  return 'waiting';
}
