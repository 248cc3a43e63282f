/**
 * Document operations on the visible layer: build a document from cells, apply a write's
 * cells to a document copy-on-write, compare and clone JSON documents, and diff two
 * documents into cells. They mirror core's `unflattenDocument` so the visible document of
 * a pending write equals what the synced base will hold once the write is confirmed.
 */
import { type Cell, type CellValue, DELETED_FIELD, ID_FIELD, unflattenDocument } from '@omnisync/core';
import type { Doc } from '../types.js';

const CLOSE_BRACKET = 93; // ']'

/** True when a field path is a plain top-level key (no nesting, no refMany member). */
export function isSimpleField(field: string): boolean {
  return field.indexOf('.') < 0 && field.charCodeAt(field.length - 1) !== CLOSE_BRACKET;
}

/**
 * The document made of `cells` alone (an insert with no synced document under it).
 * Cells of one write share an HLC, so field order is the write's order.
 */
export function materialize(id: string, cells: readonly Cell[]): Doc {
  for (let i = 0; i < cells.length; i++) {
    if (!isSimpleField(cells[i]!.field)) return unflattenDocument(id, cells) as Doc;
  }
  const doc: Record<string, unknown> = { id };
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i]!;
    if (c.value !== undefined && c.field !== ID_FIELD && c.field !== DELETED_FIELD) doc[c.field] = c.value;
  }
  return doc as Doc;
}

/**
 * `doc` with the cells applied, as a new object (the input is never mutated; untouched
 * nested objects are shared). Unset cells remove their field; refMany member cells add or
 * remove an id in a sorted array.
 */
export function applyCells(doc: Doc, cells: readonly Cell[]): Doc {
  const out: Record<string, unknown> = { ...doc };
  let copied: Set<object> | undefined;
  for (let i = 0; i < cells.length; i++) {
    const c = cells[i]!;
    const f = c.field;
    if (f === ID_FIELD || f === DELETED_FIELD) continue;
    if (isSimpleField(f)) {
      if (c.value === undefined) delete out[f];
      else out[f] = c.value;
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
    let obj = out;
    for (let k = 0; k < keys.length - 1; k++) {
      const key = keys[k]!;
      const next = obj[key];
      if (next === null || typeof next !== 'object' || Array.isArray(next)) {
        if (c.value === undefined || c.value === false) {
          obj = undefined as unknown as Record<string, unknown>;
          break; // unsetting below a leaf: nothing to do
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
      if (c.value === true && !has) obj[last] = [...list, member].sort();
      else if (c.value !== true && has) {
        const next = list.filter((m) => m !== member);
        if (next.length > 0) obj[last] = next;
        else delete obj[last];
      }
    } else if (c.value === undefined) delete obj[last];
    else obj[last] = c.value;
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
