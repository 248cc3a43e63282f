/**
 * Field kinds: what the storage and query layers need to know about a field that a
 * validator cannot say (seed 003's `t.date`, `t.ref`, `t.refMany`, `t.json`).
 *
 * A validator (zod, valibot, arktype, or our own `t.object`) decides whether a document is
 * valid. The *kind* of a field decides how it is stored and read back: a `date` is stored
 * as a UTC ISO string and handed back as a `Date`; a `ref` holds one document id; a
 * `refMany` is a set of ids stored one cell per member; a `json` value is opaque data.
 */

/** The kinds of field OmniSync knows how to store (seed 003's data type mapping). */
export const FIELD_KINDS = [
  'string',
  'number',
  'boolean',
  'date',
  'ref',
  'refMany',
  'json',
  'object',
] as const;

/** One of {@link FIELD_KINDS}. `object` is a nested plain object whose own fields have kinds. */
export type FieldKind = (typeof FIELD_KINDS)[number];

/**
 * What OmniSync knows about one field. Built by the `t` builder, or derived from the
 * `fields` of {@link defineCollection}.
 */
export interface FieldSpec {
  readonly kind: FieldKind;
  /** For `ref` and `refMany`: the collection the ids point into. */
  readonly target?: string | undefined;
  /** May be missing (or `undefined`) in a document. */
  readonly optional: boolean;
  /** May be `null`. */
  readonly nullable: boolean;
  /** A default exists: applied on validation when the field is missing. */
  readonly hasDefault: boolean;
  /** The default value, or a function that makes one (called per document). */
  readonly defaultValue?: unknown;
}

/** Plain objects only (not arrays, Dates or class instances). */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (v === null || typeof v !== 'object') return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * A fresh copy of a default value: a function is called, plain arrays and objects are
 * copied so two documents never share (and mutate) one default.
 */
export function makeDefault(spec: FieldSpec): unknown {
  const d = spec.defaultValue;
  return typeof d === 'function' ? (d as () => unknown)() : copyPlain(d);
}

function copyPlain(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(copyPlain);
  if (v instanceof Date) return new Date(v.getTime());
  if (isPlainObject(v)) {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v)) out[k] = copyPlain(v[k]);
    return out;
  }
  return v;
}

/** ISO 8601 date or date-time, as `Date#toISOString` and most APIs write it. */
const ISO_DATE_RE = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * Read a stored date: a `Date` (valid) stays, an ISO string becomes a `Date`, anything
 * else is `undefined` (seed 003: invalid data is treated as undefined on the client).
 */
export function toDate(v: unknown): Date | undefined {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? undefined : v;
  if (typeof v !== 'string' || !ISO_DATE_RE.test(v)) return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d;
}
