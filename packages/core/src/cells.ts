/**
 * Cells: the unit of storage, merge and replication (seed 003's triples).
 *
 * A document `{ id: 'a', title: 'x', meta: { n: 1 }, tagIds: ['t1'] }` in collection
 * `todos` is stored as cells, one per leaf field, each with its own HLC:
 *
 *     (todos, a, id)          'a'
 *     (todos, a, title)       'x'
 *     (todos, a, meta.n)      1          nested plain objects → dotted paths
 *     (todos, a, tagIds[t1])  true       refMany: one cell per member (false = removed)
 *     (todos, a, _deleted)    true       tombstone (delete wins; never shown to apps)
 *
 * The predicate of seed 003 is `collection/field`. A cell whose `value` is `undefined`
 * unsets its field (it still carries an HLC, so it wins over older writes). Arrays are one
 * value; `Date` is stored as a UTC ISO string.
 */
import {
  HlcParseError,
  InvalidCellError,
  InvalidValueError,
  OmniSyncError,
  ValidationError,
} from './errors.js';
import { HLC_ZERO, isValidHlc } from './hlc.js';

/** JSON values a cell can hold. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A cell's value: a JSON value, or `undefined` for "field unset". */
export type CellValue = JsonValue | undefined;

/** One field of one document, with the HLC of the write that set it. */
export interface Cell {
  readonly collection: string;
  readonly id: string;
  readonly field: string;
  readonly value: CellValue;
  readonly hlc: string;
}

/** The tombstone field. Reserved: documents may not use it. */
export const DELETED_FIELD = '_deleted';
/** The field every inserted document carries, so a document exists even with no other field. */
export const ID_FIELD = 'id';

/** Seed 003's value type tags. */
export const ObjectType = {
  STRING: 0,
  NUMBER: 1,
  BOOLEAN: 2,
  DATE: 3,
  REF: 4,
  JSON: 5,
  NULL: 6,
} as const;
/** One of the {@link ObjectType} tags. */
export type ObjectType = (typeof ObjectType)[keyof typeof ObjectType];

/** The type tag of a stored value (dates and refs are strings at this layer; the schema knows better). */
export function objectTypeOf(value: CellValue, hint?: 'date' | 'ref'): ObjectType {
  if (value === null || value === undefined) return ObjectType.NULL;
  switch (typeof value) {
    case 'string':
      return hint === 'date' ? ObjectType.DATE : hint === 'ref' ? ObjectType.REF : ObjectType.STRING;
    case 'number':
      return ObjectType.NUMBER;
    case 'boolean':
      return ObjectType.BOOLEAN;
    default:
      return ObjectType.JSON;
  }
}

/** Limits on stored values (a deeply nested or huge value is refused, not stored). */
export const VALUE_MAX_DEPTH = 32;
/** Longest document id, in UTF-16 code units. */
export const ID_MAX_LENGTH = 512;
/** Longest collection name or field key. */
export const NAME_MAX_LENGTH = 256;

/** Longest field path (dotted keys plus an optional `[member]`). */
const FIELD_MAX_LENGTH = 4 * NAME_MAX_LENGTH;

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Collection names: a letter or underscore, then letters, digits, `_` or `-`. */
export function isValidCollectionName(name: unknown): name is string {
  return typeof name === 'string' && name.length <= NAME_MAX_LENGTH && NAME_RE.test(name);
}

/** A high surrogate not followed by a low one, or a low one not preceded by a high one. */
export const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Text that every storage keeps exactly as a key (document id, field name, client or mutation
 * id): no U+0000 (Postgres text cannot hold it) and no lone UTF-16 surrogate (it has no UTF-8
 * form: SQLite and Postgres would store U+FFFD, another key). Not part of {@link isValidId}
 * (every cell of every batch runs that); checked where keys are written.
 */
export function isExactKey(s: string): boolean {
  // A scan by code unit: several times faster than the regexes on the short keys of a push.
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) return false;
    if (c < 0xd800 || c > 0xdfff) continue;
    // A high surrogate must be followed by a low one; a low one alone is lone.
    if (c > 0xdbff) return false;
    const d = s.charCodeAt(i + 1);
    if (!(d >= 0xdc00 && d <= 0xdfff)) return false;
    i++;
  }
  return true;
}

/** Why {@link isExactKey} refused `s`, for a message: "holds U+0000" or "holds a lone UTF-16 surrogate". */
export function inexactKeyReason(s: string): string {
  return s.indexOf('\u0000') >= 0
    ? 'holds U+0000, which no storage keeps in a key (remove it)'
    : 'holds a lone UTF-16 surrogate, which has no UTF-8 form and would be stored as another key (pair every surrogate, or use String.prototype.toWellFormed())';
}

/** Document ids: non-empty strings up to 512 characters. */
export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= ID_MAX_LENGTH;
}

/**
 * The key of a field name inside a document: no path separators, and not `__proto__`
 * (a key that, assigned naively anywhere downstream, would rewrite an object's prototype).
 */
export function isValidFieldKey(key: string): boolean {
  return key.length > 0 && key.length <= NAME_MAX_LENGTH && !/[.[\]]/.test(key) && key !== '__proto__';
}

/** The first key of a field path (`meta` for `meta.n` and for `meta[t1]`). */
function rootKey(field: string): string {
  let end = field.length;
  const dot = field.indexOf('.');
  if (dot >= 0) end = dot;
  const bracket = field.indexOf('[');
  if (bracket >= 0 && bracket < end) end = bracket;
  return field.slice(0, end);
}

/** Field paths: dot-joined keys, optionally ending in a `[member]` for refMany. */
export function isValidFieldPath(field: unknown): field is string {
  if (typeof field !== 'string' || field.length === 0 || field.length > FIELD_MAX_LENGTH) return false;
  let path = field;
  const bracket = field.indexOf('[');
  if (bracket >= 0) {
    if (!field.endsWith(']') || bracket === 0) return false;
    const member = field.slice(bracket + 1, -1);
    if (!isValidId(member) || /[[\]]/.test(member)) return false;
    path = field.slice(0, bracket);
  }
  return path.split('.').every(isValidFieldKey);
}

/**
 * Throw {@link InvalidValueError} unless `value` is storable JSON: no functions, symbols,
 * BigInts, NaN, Infinity, class instances, cycles, or nesting deeper than 32.
 */
export function assertStorableValue(value: unknown, where: string): asserts value is CellValue {
  checkValue(value, where, 0, undefined);
}

function checkValue(value: unknown, where: string, depth: number, seen: Set<object> | undefined): void {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return;
    case 'number':
      if (!Number.isFinite(value))
        throw new InvalidValueError(`${where}: ${value} cannot be stored; use a finite number or null.`, {
          details: { where },
        });
      return;
    case 'object': {
      if (value === null) return;
      if (depth >= VALUE_MAX_DEPTH)
        throw new InvalidValueError(
          `${where}: value is nested deeper than ${VALUE_MAX_DEPTH} levels; flatten it or store it as a string.`,
          {
            details: { where },
          },
        );
      const s = seen ?? new Set<object>();
      if (s.has(value))
        throw new InvalidValueError(
          `${where}: value is cyclic (an object contains itself); cycles cannot be stored.`,
          { details: { where } },
        );
      s.add(value);
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) checkValue(value[i], `${where}[${i}]`, depth + 1, s);
      } else {
        const proto = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null)
          throw new InvalidValueError(
            `${where}: a ${proto?.constructor?.name ?? 'class'} instance cannot be stored; use plain objects, arrays and primitives (Dates become ISO strings on insert).`,
            { details: { where } },
          );
        for (const k of Object.keys(value))
          checkValue((value as Record<string, unknown>)[k], `${where}.${k}`, depth + 1, s);
      }
      s.delete(value);
      return;
    }
    default:
      throw new InvalidValueError(
        `${where}: a ${typeof value} cannot be stored; use JSON values (string, number, boolean, null, arrays, plain objects).`,
        {
          details: { where },
        },
      );
  }
}

/** The check of {@link checkValue} without building any message: the fast path. */
function isStorable(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
    case 'undefined':
      return true;
    case 'number':
      return Number.isFinite(value);
    case 'object': {
      if (value === null) return true;
      if (depth >= VALUE_MAX_DEPTH) return false; // also where a cycle ends up
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) if (!isStorable(value[i], depth + 1)) return false;
        return true;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) return false;
      for (const k of Object.keys(value))
        if (!isStorable((value as Record<string, unknown>)[k], depth + 1)) return false;
      return true;
    }
    default:
      return false;
  }
}

// Validation of remote batches is hot (every cell of every pull and push). Field paths,
// collection names and HLCs repeat a great deal, so known-good ones are remembered.
const KNOWN_MAX = 4096;
const knownFields = new Set<string>();
const knownCollections = new Set<string>();
let knownHlc = HLC_ZERO; // a valid stamp, so the first comparison never skips a bad one
const remember = (set: Set<string>, s: string) => {
  if (set.size >= KNOWN_MAX) set.clear();
  set.add(s);
};

/** True when the cell is valid; says nothing about why not (see {@link explainInvalidCell}). */
function isValidCell(c: Record<string, unknown>): boolean {
  const { collection, id, field, value, hlc } = c;
  if (typeof collection !== 'string') return false;
  if (!knownCollections.has(collection)) {
    if (!isValidCollectionName(collection)) return false;
    remember(knownCollections, collection);
  }
  if (!isValidId(id) || typeof field !== 'string') return false;
  if (field === DELETED_FIELD) {
    if (value !== true) return false;
  } else if (field === ID_FIELD) {
    if (value !== id) return false;
  } else {
    if (!knownFields.has(field)) {
      if (!isValidFieldPath(field)) return false;
      const root = rootKey(field);
      if (root === ID_FIELD || root === DELETED_FIELD) return false;
      remember(knownFields, field);
    }
    if (field.charCodeAt(field.length - 1) === 93 /* ] */ && typeof value !== 'boolean') return false;
  }
  if (hlc !== knownHlc) {
    if (!isValidHlc(hlc)) return false;
    knownHlc = hlc;
  }
  return isStorable(value, 0);
}

/**
 * Validate one cell; throws {@link InvalidCellError} / {@link InvalidValueError} /
 * {@link HlcParseError} naming the problem. `index` locates it in its batch for the message.
 */
export function validateCell(cell: unknown, index = 0): asserts cell is Cell {
  if (typeof cell === 'object' && cell !== null && isValidCell(cell as Record<string, unknown>)) return;
  explainInvalidCell(cell, index);
  throw new OmniSyncError(
    'internal',
    `Invariant violated: cell #${index} failed the fast check only. This is a bug in OmniSync.`,
  );
}

/**
 * The slow path of {@link validateCell}: throws the error that says what is wrong with the
 * cell, and returns only if it is valid after all.
 * @internal
 */
export function explainInvalidCell(cell: unknown, index: number): void {
  const at = `cell #${index}`;
  if (typeof cell !== 'object' || cell === null)
    throw new InvalidCellError(`${at} is not an object; a cell is { collection, id, field, value, hlc }.`);
  const c = cell as Record<string, unknown>;
  if (!isValidCollectionName(c.collection))
    throw new InvalidCellError(
      `${at} has collection ${JSON.stringify(c.collection)}; use a name of letters, digits, _ or - starting with a letter or _.`,
    );
  if (!isValidId(c.id))
    throw new InvalidCellError(
      `${at} has id ${JSON.stringify(c.id)}; a document id must be a non-empty string of at most ${ID_MAX_LENGTH} characters.`,
    );
  if (!isValidFieldPath(c.field))
    throw new InvalidCellError(
      `${at} (${String(c.collection)}/${String(c.id)}) has field ${JSON.stringify(c.field)}; a cell needs a field path such as "title", "meta.count" or "tagIds[t1]".`,
    );
  if (!isValidHlc(c.hlc))
    throw new HlcParseError(
      `${at} (${String(c.collection)}/${String(c.id)}.${String(c.field)}) has an HLC that does not parse: ${JSON.stringify(c.hlc)}.`,
    );
  if (c.field !== DELETED_FIELD && c.field !== ID_FIELD) {
    const root = rootKey(c.field);
    // `id.x` or `_deleted[x]` would turn the document's id into an object, or fake a tombstone.
    if (root === ID_FIELD || root === DELETED_FIELD)
      throw new InvalidCellError(
        `${at} (${String(c.collection)}/${String(c.id)}) has field ${JSON.stringify(c.field)}, under the reserved field ${JSON.stringify(root)}; rename the field.`,
      );
  }
  if (c.field === DELETED_FIELD && c.value !== true)
    throw new InvalidCellError(
      `${at}: a ${DELETED_FIELD} tombstone cell must have value true (deletes cannot be undone).`,
    );
  if (c.field === ID_FIELD && c.value !== c.id)
    throw new InvalidCellError(`${at}: the id field must equal the document id ${JSON.stringify(c.id)}.`);
  if (c.field.endsWith(']') && typeof c.value !== 'boolean')
    throw new InvalidCellError(
      `${at}: a refMany member cell (${c.field}) must have value true (member) or false (removed).`,
    );
  checkValue(c.value, `${at} ${String(c.collection)}/${String(c.id)}.${String(c.field)}`, 0, undefined);
}

/** Options for {@link flattenDocument}. */
export interface FlattenOptions {
  /** Fields that are sets of ids: each member becomes its own cell. */
  refMany?: ReadonlySet<string>;
  /**
   * Fields stored as one value even when they hold a plain object (schema `json` fields):
   * the object is replaced whole, never merged key by key.
   */
  atomic?: ReadonlySet<string>;
}

/**
 * Flatten a document's fields (without `id`) to `[fieldPath, value]` pairs.
 * Nested plain objects become dotted paths; an empty object is kept as one `{}` value;
 * arrays are one value; `Date` becomes an ISO string; refMany arrays become members.
 * Throws {@link InvalidValueError} for anything not storable.
 */
export function flattenDocument(
  doc: Record<string, unknown>,
  options: FlattenOptions = {},
): [string, CellValue][] {
  const out: [string, CellValue][] = [];
  flattenInto(doc, '', out, options.refMany, options.atomic, 0, true);
  return out;
}

function flattenInto(
  obj: Record<string, unknown>,
  prefix: string,
  out: [string, CellValue][],
  refMany: ReadonlySet<string> | undefined,
  atomic: ReadonlySet<string> | undefined,
  depth: number,
  top: boolean,
) {
  if (depth > VALUE_MAX_DEPTH)
    throw new InvalidValueError(`${prefix || 'document'} is nested deeper than ${VALUE_MAX_DEPTH} levels.`);
  for (const key of Object.keys(obj)) {
    if (top && key === ID_FIELD) continue;
    if (!isExactKey(key))
      throw new ValidationError(
        `Field name ${JSON.stringify(key)} at ${prefix || 'top level'} ${inexactKeyReason(key)}.`,
        { details: { field: prefix ? `${prefix}.${key}` : key } },
      );
    if (!isValidFieldKey(key))
      throw new InvalidValueError(
        `Field name ${JSON.stringify(key)} at ${prefix || 'top level'} is not allowed: field names must be non-empty, at most ${NAME_MAX_LENGTH} characters, may not contain '.', '[' or ']' (they are path separators) and may not be __proto__.`,
      );
    if (top && key === DELETED_FIELD)
      throw new InvalidValueError(
        `Field name ${DELETED_FIELD} is reserved for tombstones; rename the field.`,
      );
    const path = prefix ? `${prefix}.${key}` : key;
    // Keep flatten's output within what validateCell accepts, so every flattened doc can be applied.
    if (path.length > FIELD_MAX_LENGTH)
      throw new InvalidValueError(
        `Field path ${JSON.stringify(path.slice(0, 80))}… is longer than ${FIELD_MAX_LENGTH} characters; use shorter names or less nesting.`,
      );
    const v = obj[key];
    if (v instanceof Date) {
      if (Number.isNaN(v.getTime())) throw new InvalidValueError(`${path}: Invalid Date cannot be stored.`);
      out.push([path, v.toISOString()]);
    } else if (refMany?.has(path)) {
      if (!Array.isArray(v))
        throw new InvalidValueError(`${path} is a refMany field and must be an array of ids.`);
      for (const m of v) {
        if (!isValidId(m) || /[[\]]/.test(m))
          throw new InvalidValueError(
            `${path} holds ${JSON.stringify(m)}; refMany members must be non-empty id strings without '[' or ']'.`,
          );
        const member = `${path}[${m}]`;
        if (member.length > FIELD_MAX_LENGTH)
          throw new InvalidValueError(
            `${path} holds a member id that makes the field path longer than ${FIELD_MAX_LENGTH} characters; use shorter ids.`,
          );
        out.push([member, true]);
      }
    } else if (
      v !== null &&
      typeof v === 'object' &&
      !Array.isArray(v) &&
      isPlainObject(v) &&
      Object.keys(v).length > 0 &&
      !atomic?.has(path)
    ) {
      flattenInto(v as Record<string, unknown>, path, out, refMany, atomic, depth + 1, false);
    } else {
      checkValue(v, path, depth, undefined);
      out.push([path, v as CellValue]);
    }
  }
}

/** A plain object (literal, JSON.parse result or null-prototype), as opposed to a class instance. */
function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** A stored field as unflatten reads it. */
export interface FieldEntry {
  readonly field: string;
  readonly value: CellValue;
  readonly hlc: string;
}

/**
 * Rebuild a document from its field entries (the inverse of {@link flattenDocument}).
 * Unset fields are left out; refMany members with value true become a sorted id array.
 * When a path holds both a leaf and children (written by different replicas), entries are
 * applied in HLC order, so the later write decides the shape on every replica alike.
 */
export function unflattenDocument(id: string, entries: Iterable<FieldEntry>): Record<string, unknown> {
  const b = new DocBuilder(id);
  for (const e of entries) b.add(e.field, e.value, e.hlc);
  return b.finish();
}

/**
 * {@link unflattenDocument} straight from a replica's field map (field → stored winner),
 * without an entry object per field.
 * @internal
 */
export function unflattenFields(
  id: string,
  fields: ReadonlyMap<string, { readonly value: CellValue; readonly hlc: string }>,
): Record<string, unknown> {
  const b = new DocBuilder(id);
  for (const [field, s] of fields) b.add(field, s.value, s.hlc);
  return b.finish();
}

/**
 * {@link unflattenFields} over parallel arrays: field names, their values (at least as many),
 * and their HLCs (one string when all fields share it). The replica's compact storage.
 */
export function unflattenColumns(
  id: string,
  names: readonly string[],
  values: readonly CellValue[],
  hlc: string | readonly string[],
): Record<string, unknown> {
  const b = new DocBuilder(id);
  const n = names.length;
  if (typeof hlc === 'string') for (let i = 0; i < n; i++) b.add(names[i]!, values[i], hlc);
  else for (let i = 0; i < n; i++) b.add(names[i]!, values[i], hlc[i]!);
  return b.finish();
}

/** Collects one document's fields, then lays them out (plain fields, then refMany members). */
class DocBuilder {
  readonly #doc: Record<string, unknown>;
  // Plain (non-member) fields in parallel arrays: no object per field on the common path.
  readonly #fields: string[] = [];
  readonly #values: CellValue[] = [];
  readonly #hlcs: string[] = [];
  #nested = false;
  #members: Map<string, string[]> | undefined;

  constructor(id: string) {
    this.#doc = { id };
  }

  add(f: string, value: CellValue, hlc: string): void {
    if (f === DELETED_FIELD || f === ID_FIELD) return;
    if (f.charCodeAt(f.length - 1) === 93 /* ] */) {
      if (value === true) {
        const b = f.indexOf('[');
        const path = f.slice(0, b);
        const members = (this.#members ??= new Map());
        const list = members.get(path);
        if (list) list.push(f.slice(b + 1, -1));
        else members.set(path, [f.slice(b + 1, -1)]);
      }
      return;
    }
    if (!this.#nested && f.indexOf('.') >= 0) this.#nested = true;
    this.#fields.push(f);
    this.#values.push(value);
    this.#hlcs.push(hlc);
  }

  finish(): Record<string, unknown> {
    const doc = this.#doc;
    const fields = this.#fields;
    const values = this.#values;
    // Objects this call created (and may write into); anything else met on a path is a stored value.
    let owned: Set<object> | undefined;
    if (!this.#nested) {
      // Top-level fields only: each is its own path, so order does not matter.
      for (let i = 0; i < fields.length; i++) if (values[i] !== undefined) put(doc, fields[i]!, values[i]);
    } else {
      // Leaves and children of one path may come from different replicas: apply in HLC
      // order (ties by field) so the later write decides the shape, identically everywhere.
      const hlcs = this.#hlcs;
      const order = fields.map((_, i) => i);
      order.sort((a, b) => {
        const ha = hlcs[a]!;
        const hb = hlcs[b]!;
        if (ha !== hb) return ha < hb ? -1 : 1;
        const fa = fields[a]!;
        const fb = fields[b]!;
        return fa < fb ? -1 : fa > fb ? 1 : 0;
      });
      owned = new Set<object>([doc]);
      for (const i of order) {
        const f = fields[i]!;
        if (f.indexOf('.') < 0) {
          if (values[i] === undefined) delete doc[f];
          else put(doc, f, values[i]);
        } else setPath(doc, f.split('.'), values[i], owned);
      }
    }
    if (this.#members) {
      owned ??= new Set<object>([doc]);
      for (const [path, list] of this.#members) {
        list.sort();
        if (path.indexOf('.') < 0) put(doc, path, list);
        else setPath(doc, path.split('.'), list, owned);
      }
    }
    return doc;
  }
}

/**
 * Set (or, for `undefined`, delete) the value at a path, creating objects on the way.
 * Objects met on the way that this unflatten did not create (`owned`) are stored cell
 * values: they are copied before being written into, never mutated in place.
 */
function setPath(doc: Record<string, unknown>, keys: string[], value: unknown, owned: Set<object>) {
  let obj = doc;
  for (let i = 0; i < keys.length - 1; i++) {
    const k = keys[i]!;
    let next = Object.hasOwn(obj, k) ? obj[k] : undefined;
    if (next === null || typeof next !== 'object' || Array.isArray(next)) {
      if (value === undefined) return; // unsetting below a leaf: nothing to do
      next = {};
      owned.add(next as object);
      put(obj, k, next);
    } else if (!owned.has(next)) {
      next = { ...next };
      owned.add(next as object);
      put(obj, k, next);
    }
    obj = next as Record<string, unknown>;
  }
  const last = keys[keys.length - 1]!;
  if (value === undefined) delete obj[last];
  else put(obj, last, value);
}

/** Assign an own data property, even for a key such as `__proto__` that has a setter. */
function put(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  else obj[key] = value;
}
