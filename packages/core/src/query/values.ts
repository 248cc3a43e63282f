/**
 * Value helpers shared by the evaluator, the indexes and the validator: field access by
 * dotted path, the total order over values, canonical JSON, and LIKE patterns.
 */

/** A field reader compiled from a dotted path. Missing fields read as undefined. */
export type FieldGetter = (doc: Readonly<Record<string, unknown>>) => unknown;

const getterCache = new Map<string, FieldGetter>();
const INHERITED = new Set(Object.getOwnPropertyNames(Object.prototype));

/** A reader for a dotted field path (`title`, `meta.count`). Cached per path. */
export function fieldGetter(path: string): FieldGetter {
  let g = getterCache.get(path);
  if (g) return g;
  const keys = path.split('.');
  if (keys.some((k) => INHERITED.has(k))) {
    // Names every plain object inherits: read own properties only, so a missing field is missing.
    g = (doc) => {
      let v: unknown = doc;
      for (const k of keys) {
        if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, k)) return undefined;
        v = (v as Record<string, unknown>)[k];
      }
      return v;
    };
  } else if (keys.length === 1) {
    g = (doc) => doc[path];
  } else {
    g = (doc) => {
      let v: unknown = doc;
      for (let i = 0; i < keys.length; i++) {
        if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
        v = (v as Record<string, unknown>)[keys[i]!];
      }
      return v;
    };
  }
  // Paths come from queries, which are bounded; the cache cannot grow past what apps write.
  if (getterCache.size < 10_000) getterCache.set(path, g);
  return g;
}

/** Read a dotted path from a document. */
export function readField(doc: Readonly<Record<string, unknown>>, path: string): unknown {
  return fieldGetter(path)(doc);
}

/** An id above every valid id (ids are at most 512 UTF-16 code units). @internal */
export const HIGH_ID = '\uffff'.repeat(513);

function rank(v: unknown): number {
  if (v === null || v === undefined) return 0;
  switch (typeof v) {
    case 'boolean':
      return 1;
    case 'number':
      return 2;
    case 'string':
      return 3;
    default:
      return 4;
  }
}

/**
 * The total order over values: null/missing < false < true < numbers < strings (code unit
 * order) < arrays and objects (by canonical JSON).
 */
export function compareValues(a: unknown, b: unknown): number {
  if (a === b) return 0;
  const ta = typeof a;
  if (ta === typeof b) {
    if (ta === 'number') return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
    if (ta === 'string') return (a as string) < (b as string) ? -1 : 1;
  }
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  if (ra === 1) return a ? 1 : -1;
  if (ra === 4) {
    const ja = canonicalJson(a);
    const jb = canonicalJson(b);
    return ja < jb ? -1 : ja > jb ? 1 : 0;
  }
  return 0;
}

/** Deterministic JSON: object keys sorted, `undefined` properties left out. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') {
    const s = JSON.stringify(value);
    return s === undefined ? 'null' : s;
  }
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) out += (i ? ',' : '') + canonicalJson(value[i]);
    return out + ']';
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  let out = '{';
  let first = true;
  for (const k of keys) {
    const v = obj[k];
    if (v === undefined) continue;
    out += (first ? '' : ',') + JSON.stringify(k) + ':' + canonicalJson(v);
    first = false;
  }
  return out + '}';
}

/** A Map key for a value: primitives as themselves (undefined → null), others by canonical JSON. */
export function valueKey(v: unknown): unknown {
  if (v === undefined) return null;
  if (v !== null && typeof v === 'object') return '\u0000' + canonicalJson(v);
  return v;
}

/** Is `v` a {@link Scalar}? (Finite numbers only.) */
export function isScalar(v: unknown): v is string | number | boolean | null {
  return (
    v === null ||
    typeof v === 'string' ||
    typeof v === 'boolean' ||
    (typeof v === 'number' && Number.isFinite(v))
  );
}

/**
 * Compile a SQL LIKE pattern: `%` any run, `_` one character, `\` escapes the next one.
 * `ilike` compares case-insensitively.
 */
export function likeMatcher(pattern: string, caseInsensitive: boolean): (s: string) => boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else if (c === '%') re += '[\\s\\S]*';
    else if (c === '_') re += '[\\s\\S]';
    else re += escapeRe(c);
  }
  // No 'u' flag: `_` is one UTF-16 code unit, like every other string operation here.
  const rx = new RegExp(re + '$', caseInsensitive ? 'i' : '');
  return (s) => rx.test(s);
}

function escapeRe(c: string): string {
  return /[\\^$.*+?()[\]{}|/]/.test(c) ? '\\' + c : c;
}
