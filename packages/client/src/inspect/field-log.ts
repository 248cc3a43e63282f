/**
 * The inspector's bounded record of what one replica saw, per field: every cell that reached
 * it (its own writes and the cells its sources delivered), with HLC and origin. Bounded twice:
 * at most `writesPerField` cells per field (a ring: the oldest goes), and at most `fields`
 * fields (least recently written goes first), so a long session holds a fixed amount.
 */
import { type CellValue, isValidHlc, parseHlc } from '@omnisync/core';

/** Default most writes kept per field. */
export const INSPECT_WRITES_PER_FIELD = 16;
/** Default most fields kept. */
export const INSPECT_FIELDS = 1_000;

/** One write of a field as this replica saw it. */
export interface SeenWrite {
  readonly value: CellValue;
  readonly hlc: string;
  /** Who wrote it: the node (client/device id) in its HLC. */
  readonly origin: string;
  /** `local` (this client's write) and/or the ids of the sources that delivered it, in order. */
  readonly via: readonly string[];
  /** When it was first seen (the client scheduler's ms). */
  readonly seenAt: number;
  /** The local transaction that wrote it (local writes). */
  readonly transactionId?: string;
}

/** A field the log holds writes of. */
export interface FieldRef {
  readonly collection: string;
  readonly id: string;
  readonly field: string;
}

/** A field with a summary of its writes (for lists). */
export interface FieldSummary extends FieldRef {
  /** Writes kept (at most `writesPerField`). */
  readonly writes: number;
  /** Distinct origins among them: more than one means writers competed. */
  readonly origins: number;
  /** When its last write was seen. */
  readonly lastSeenAt: number;
}

interface MutableWrite {
  value: CellValue;
  hlc: string;
  /** `via` while only one (the common case: no array until a second way shows up). */
  via: string | string[];
  seenAt: number;
  transactionId?: string;
}

interface Entry {
  readonly ref: FieldRef;
  readonly writes: MutableWrite[];
  lastSeenAt: number;
}

/** The origin (node id) of an HLC; `?` for a stamp that does not parse (never thrown: this is diagnostics). */
export function originOf(hlc: string): string {
  return isValidHlc(hlc) ? parseHlc(hlc).node : '?';
}

const keyOf = (collection: string, id: string, field: string): string =>
  `${collection}\u0000${id}\u0000${field}`;

/** @internal The bounded per-field record. */
export class FieldLog {
  readonly #entries = new Map<string, Entry>();
  readonly #perField: number;
  readonly #maxFields: number;

  constructor(writesPerField = INSPECT_WRITES_PER_FIELD, fields = INSPECT_FIELDS) {
    this.#perField = Math.max(1, Math.floor(writesPerField));
    this.#maxFields = Math.max(1, Math.floor(fields));
  }

  /** Fields held. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Record one write. The same write seen again (our own write echoed by the server, a
   * duplicate delivery) is kept once, with every way it came in `via`.
   */
  record(
    collection: string,
    id: string,
    field: string,
    value: CellValue,
    hlc: string,
    via: string,
    at: number,
    transactionId?: string,
  ): void {
    const key = keyOf(collection, id, field);
    let entry = this.#entries.get(key);
    if (entry === undefined) {
      entry = { ref: { collection, id, field }, writes: [], lastSeenAt: at };
      if (this.#entries.size >= this.#maxFields) {
        const oldest = this.#entries.keys().next();
        if (!oldest.done) this.#entries.delete(oldest.value);
      }
    } else this.#entries.delete(key); // re-inserted below: Map order is recency order
    this.#entries.set(key, entry);
    entry.lastSeenAt = at;
    const writes = entry.writes;
    let same: MutableWrite | undefined;
    for (let i = writes.length - 1; i >= 0; i--)
      if (writes[i]!.hlc === hlc) {
        same = writes[i];
        break;
      }
    if (same !== undefined) {
      if (typeof same.via === 'string') {
        if (same.via !== via) same.via = [same.via, via];
      } else if (!same.via.includes(via)) same.via.push(via);
      if (transactionId !== undefined && same.transactionId === undefined) same.transactionId = transactionId;
      return;
    }
    // The origin is read from the HLC when the write is read, not here: recording stays cheap.
    const w: MutableWrite = { value, hlc, via, seenAt: at };
    if (transactionId !== undefined) w.transactionId = transactionId;
    writes.push(w);
    if (writes.length > this.#perField) writes.shift();
  }

  /** The writes kept of one field, in the order they were seen (copies). */
  writes(collection: string, id: string, field: string): SeenWrite[] {
    const entry = this.#entries.get(keyOf(collection, id, field));
    return entry ? entry.writes.map(copy) : [];
  }

  /** The fields of one document held, in the order last written. */
  fieldsOf(collection: string, id: string): string[] {
    const out: string[] = [];
    for (const e of this.#entries.values())
      if (e.ref.collection === collection && e.ref.id === id) out.push(e.ref.field);
    return out;
  }

  /** Every field held, most recently written first. */
  list(): FieldSummary[] {
    const out: FieldSummary[] = [];
    for (const e of this.#entries.values())
      out.push({
        ...e.ref,
        writes: e.writes.length,
        origins: new Set(e.writes.map((w) => originOf(w.hlc))).size,
        lastSeenAt: e.lastSeenAt,
      });
    return out.reverse();
  }

  clear(): void {
    this.#entries.clear();
  }
}

function copy(w: MutableWrite): SeenWrite {
  return {
    value: w.value,
    hlc: w.hlc,
    origin: originOf(w.hlc),
    via: typeof w.via === 'string' ? [w.via] : [...w.via],
    seenAt: w.seenAt,
    ...(w.transactionId !== undefined ? { transactionId: w.transactionId } : {}),
  };
}
