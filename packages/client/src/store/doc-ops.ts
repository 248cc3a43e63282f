/**
 * Document operations on the visible layer: build a document from cells, apply a write's
 * cells to a document copy-on-write, compare and clone JSON documents, and diff two
 * documents into cells. They mirror core's `unflattenDocument` so the visible document of
 * a pending write equals what the synced base will hold once the write is confirmed.
 */
import { type CellValue, DELETED_FIELD, type FieldEntry, ID_FIELD, unflattenDocument } from '@omnisync/core';
import type { Doc } from '../types.js';

const CLOSE_BRACKET = 93; // ']'

/** True when a field path is a plain top-level key (no nesting, no refMany member). */
export function isSimpleField(field: string): boolean {
  return field.indexOf('.') < 0 && field.charCodeAt(field.length - 1) !== CLOSE_BRACKET;
}

/**
 * The document made of a write's fields alone (an insert with no synced document under it).
 * `data` is `[field, value, …]`, all under one HLC.
 */
export function materialize(id: string, data: readonly unknown[], hlc: string): Doc {
  for (let i = 0; i < data.length; i += 2) {
    if (!isSimpleField(data[i] as string)) {
      const entries: FieldEntry[] = [];
      for (let j = 0; j < data.length; j += 2)
        entries.push({ field: data[j] as string, value: data[j + 1] as CellValue, hlc });
      return unflattenDocument(id, entries) as Doc;
    }
  }
  const doc: Record<string, unknown> = { id };
  for (let i = 0; i < data.length; i += 2) {
    const f = data[i] as string;
    const v = data[i + 1];
    if (v !== undefined && f !== ID_FIELD && f !== DELETED_FIELD) doc[f] = v;
  }
  return doc as Doc;
}

/**
 * `doc` with a write's fields (`[field, value, …]`) applied, as a new object (the input is
 * never mutated; untouched nested objects are shared). Unset fields (`undefined`) are
 * removed; refMany member fields add or remove an id in a sorted array.
 */
export function applyData(doc: Doc, data: readonly unknown[]): Doc {
  const out: Record<string, unknown> = { ...doc };
  let copied: Set<object> | undefined;
  for (let i = 0; i < data.length; i += 2) {
    const f = data[i] as string;
    const value = data[i + 1];
    if (f === ID_FIELD || f === DELETED_FIELD) continue;
    if (isSimpleField(f)) {
      if (value === undefined) delete out[f];
      else out[f] = value;
      continue;
    }
    copied ??= new Set([out]);
    let path = f;
    let member: string | undefined;
    if (f.charCodeAt(f.length - 1) === CLOSE_BRACKET) {
      const b = f.indexOf('[');
      member = f.slice(b + 1, -1);
      path = f.slice(0, b);
    }
    const keys = path.split('.');
    let obj: Record<string, unknown> | undefined = out;
    for (let k = 0; k < keys.length - 1; k++) {
      const key = keys[k]!;
      const next: unknown = obj[key];
      if (next === null || typeof next !== 'object' || Array.isArray(next)) {
        if (value === undefined || value === false) {
          obj = undefined; // unsetting below a leaf: nothing to do
          break;
        }
        const fresh = {};
        copied.add(fresh);
        obj[key] = fresh;
        obj = fresh;
      } else {
        let child = next as Record<string, unknown>;
        if (!copied.has(child)) {
          child = { ...child };
          copied.add(child);
          obj[key] = child;
        }
        obj = child;
      }
    }
    if (obj === undefined) continue;
    const last = keys[keys.length - 1]!;
    if (member !== undefined) {
      const current = obj[last];
      const list = Array.isArray(current) ? (current as string[]) : [];
      const has = list.includes(member);
      if (value === true && !has) obj[last] = [...list, member].sort();
      else if (value !== true && has) {
        const next = list.filter((m) => m !== member);
        if (next.length > 0) obj[last] = next;
        else delete obj[last];
      }
    } else if (value === undefined) delete obj[last];
    else obj[last] = value;
  }
  return out as Doc;
}

/** Deep equality of JSON-like values (Dates compared by time). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (a instanceof Date || b instanceof Date)
    return a instanceof Date && b instanceof Date && a.getTime() === b.getTime();
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!deepEqual(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  let n = 0;
  for (const k in ra) {
    if (!Object.hasOwn(ra, k)) continue;
    if (ra[k] === undefined) continue;
    if (!deepEqual(ra[k], rb[k])) return false;
    n++;
  }
  let m = 0;
  for (const k in rb) if (Object.hasOwn(rb, k) && rb[k] !== undefined) m++;
  return n === m;
}

/** A deep copy of a JSON-like value (Dates copied, other objects as plain objects). */
export function cloneDeep<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Date) return new Date(value.getTime()) as T;
  if (Array.isArray(value)) return value.map(cloneDeep) as T;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value)) out[k] = cloneDeep((value as Record<string, unknown>)[k]);
  return out as T;
}

/**
 * Cells that turn `before` into `after` (both flattened to field paths): changed and new
 * fields with their value, removed fields as unset (`undefined`), refMany members removed
 * as `false`. Pairs only; the caller stamps them.
 */
export function diffFlat(
  before: readonly (readonly [string, CellValue])[],
  after: readonly (readonly [string, CellValue])[],
): [string, CellValue][] {
  const old = new Map<string, CellValue>();
  for (const [f, v] of before) old.set(f, v);
  const out: [string, CellValue][] = [];
  for (const [f, v] of after) {
    if (!old.has(f) || !deepEqual(old.get(f), v)) out.push([f, v]);
    old.delete(f);
  }
  for (const [f, v] of old) {
    if (v === undefined) continue;
    out.push([f, f.charCodeAt(f.length - 1) === CLOSE_BRACKET ? false : undefined]);
  }
  return out;
}

/** Top-level keys whose value differs between two documents (added, changed or removed). */
export function changedTopLevel(before: Record<string, unknown>, after: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const k of Object.keys(after)) if (!deepEqual(before[k], after[k])) out.push(k);
  for (const k of Object.keys(before)) if (!(k in after) && before[k] !== undefined) out.push(k);
  return out;
}
