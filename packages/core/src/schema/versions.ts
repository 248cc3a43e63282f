/**
 * Schema versions and the migrations between them (issue 13, schema evolution).
 *
 * A client tags its pushes with the schema version it was built with; a server that knows
 * the chain of versions upcasts the writes of an older client, step by step, to its current
 * version before it validates and applies them. Isomorphic: the same chain can run in an
 * app (e.g. to test its migrations) and on the server.
 *
 * Migrations work on writes, not on stored documents: what one mutation wrote to one
 * document, as flat cell fields (`title`, `meta.n`, `tagIds[t1]`; `undefined` = unset).
 * A write is partial (an update carries only the fields it changed), so a migration sees
 * only those; `insert` says whether the write creates the document (it carries `id`).
 */
import {
  type Cell,
  type CellValue,
  DELETED_FIELD,
  ID_FIELD,
  isValidCollectionName,
  validateCell,
} from '../cells.js';
import { SchemaError, SchemaOutdatedError, ValidationError } from '../errors.js';
import type { CollectionDef, SchemaDef } from './collection.js';

/** One document's part of a write, as a migration sees it. */
export interface DocWriteView {
  readonly collection: string;
  readonly id: string;
  /** True when the write creates the document (it carries the `id` field). */
  readonly insert: boolean;
  /** The fields written, by flat cell field; `undefined` unsets a field. Never holds `_deleted`. */
  readonly fields: Readonly<Record<string, CellValue>>;
}

/** A migration from the previous version to this one: returns the fields to write instead. */
export interface Migration {
  /** The collection it applies to; undefined = every collection. */
  readonly collection: string | undefined;
  /** What the migration does, for error messages and `describe()`. */
  readonly label: string;
  readonly up: (write: DocWriteView) => Record<string, CellValue>;
}

/** One version of the schema: its number, its schema (optional) and how to get here from the previous one. */
export interface SchemaVersionStep {
  /** Consecutive integers, from the oldest version the chain can upcast. */
  readonly version: number;
  /** The schema of this version (the server validates upcast writes with the newest one). */
  readonly schema?: SchemaDef<Record<string, CollectionDef<string, any, any>>>;
  /**
   * Migrations from the previous version to this one, applied in order. The first step's are
   * never applied (so a chain can drop its oldest versions by slicing its steps).
   */
  readonly up?: readonly Migration[];
}

/** A chain of schema versions (see {@link defineSchemaVersions}). */
export interface SchemaVersions {
  /** The newest version: what a current client sends and what the server stores. */
  readonly current: number;
  /** The oldest version whose writes can still be upcast. */
  readonly oldest: number;
  /** The schema of the newest version, if given. */
  readonly schema: SchemaVersionStep['schema'];
  /** The steps, oldest first. */
  readonly steps: readonly SchemaVersionStep[];
  /** Can writes of this version be upcast to `current`? */
  canUpcast(version: number): boolean;
  /**
   * Upcast the cells of one mutation written at `from` to the current version. Cells of one
   * document are migrated together; tombstones pass untouched. Throws
   * {@link SchemaOutdatedError} when `from` is outside the chain. Returns `cells` itself when
   * `from` is current.
   */
  upcast(cells: readonly Cell[], from: number): Cell[];
}

const isVersion = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 1;

/** Keys equal to `path` or below it (`path.x`, `path[m]`). */
const under = (key: string, path: string) =>
  key === path ||
  (key.length > path.length &&
    key.startsWith(path) &&
    (key[path.length] === '.' || key[path.length] === '['));

const checkCollection = (helper: string, collection: string) => {
  if (!isValidCollectionName(collection))
    throw new SchemaError(
      `${helper}: collection ${JSON.stringify(collection)} is not a valid name (letters, digits, _ or -).`,
      { details: { collection } },
    );
};
const checkField = (helper: string, field: unknown) => {
  if (typeof field !== 'string' || field === '' || field === ID_FIELD || field === DELETED_FIELD)
    throw new SchemaError(
      `${helper}: field ${JSON.stringify(field)} cannot be migrated (pass a field name other than "id" and "_deleted").`,
      { details: { field } },
    );
};

/**
 * A general migration of one collection's writes (or every collection's, with `'*'`):
 * `up` gets the write and returns the fields to write instead.
 * @example migrate('todos', (w) => ({ ...w.fields, done: w.fields.done === 'yes' }))
 */
export function migrate(
  collection: string,
  up: (write: DocWriteView) => Record<string, CellValue>,
  label = 'migrate',
): Migration {
  if (collection !== '*') checkCollection('migrate', collection);
  if (typeof up !== 'function')
    throw new SchemaError('migrate: pass a function (write) => fields as the second argument.');
  return Object.freeze({ collection: collection === '*' ? undefined : collection, label, up });
}

/**
 * A field renamed from `from` to `to` (nested fields and refMany members move with it).
 * @example renameField('todos', 'title', 'text')
 */
export function renameField(collection: string, from: string, to: string): Migration {
  checkCollection('renameField', collection);
  checkField('renameField', from);
  checkField('renameField', to);
  return migrate(
    collection,
    ({ fields }) => {
      const out: Record<string, CellValue> = {};
      for (const [k, v] of Object.entries(fields)) out[under(k, from) ? to + k.slice(from.length) : k] = v;
      return out;
    },
    `renameField(${collection}.${from} → ${to})`,
  );
}

/**
 * A field split into several: when a write sets `from`, `split(value)` gives the new fields
 * (by name) written instead; unsetting `from` unsets every field of `to`.
 * @example splitField('users', 'name', ['first', 'last'], (n) => { const [first, ...rest] = String(n).split(' '); return { first, last: rest.join(' ') }; })
 */
export function splitField(
  collection: string,
  from: string,
  to: readonly string[],
  split: (value: CellValue) => Record<string, CellValue>,
): Migration {
  checkCollection('splitField', collection);
  checkField('splitField', from);
  if (!Array.isArray(to) || to.length === 0)
    throw new SchemaError('splitField: pass the names of the new fields as an array.');
  for (const f of to) checkField('splitField', f);
  if (typeof split !== 'function')
    throw new SchemaError('splitField: pass a function (value) => ({ field: value }) as the last argument.');
  return migrate(
    collection,
    ({ fields }) => {
      if (!Object.hasOwn(fields, from)) return { ...fields };
      const out: Record<string, CellValue> = {};
      for (const [k, v] of Object.entries(fields)) if (k !== from) out[k] = v;
      const value = fields[from];
      if (value === undefined) {
        for (const f of to) out[f] = undefined;
        return out;
      }
      const parts = split(value);
      for (const f of to) out[f] = Object.hasOwn(parts, f) ? parts[f] : undefined;
      return out;
    },
    `splitField(${collection}.${from} → ${to.join(', ')})`,
  );
}

/**
 * A field added with a default: an insert that does not set it gets `value` (updates are
 * left alone: the document already has the field, or reads fall back to the schema default).
 * @example defaultField('todos', 'priority', 0)
 */
export function defaultField(collection: string, field: string, value: CellValue): Migration {
  checkCollection('defaultField', collection);
  checkField('defaultField', field);
  return migrate(
    collection,
    (w) => (w.insert && !Object.hasOwn(w.fields, field) ? { ...w.fields, [field]: value } : { ...w.fields }),
    `defaultField(${collection}.${field} = ${JSON.stringify(value)})`,
  );
}

/**
 * Define the chain of schema versions, oldest first, each step with the migrations from the
 * one before. Versions are consecutive integers; a server upcasts writes of any version in
 * the chain and refuses older or newer ones with `schema_outdated`.
 * @example
 * const versions = defineSchemaVersions([
 *   { version: 1 },
 *   { version: 2, up: [renameField('todos', 'title', 'text')] },
 *   { version: 3, schema, up: [defaultField('todos', 'priority', 0)] },
 * ]);
 */
export function defineSchemaVersions(steps: readonly SchemaVersionStep[]): SchemaVersions {
  if (!Array.isArray(steps) || steps.length === 0)
    throw new SchemaError(
      'defineSchemaVersions: pass an array of steps, oldest first, e.g. [{ version: 1 }, { version: 2, up: [renameField(...)] }].',
    );
  steps.forEach((s, i) => {
    if (!s || typeof s !== 'object' || !isVersion(s.version))
      throw new SchemaError(
        `defineSchemaVersions: step ${i} needs a version (an integer ≥ 1), got ${JSON.stringify(s?.version)}.`,
      );
    if (i > 0 && s.version !== steps[i - 1]!.version + 1)
      throw new SchemaError(
        `defineSchemaVersions: versions must be consecutive; step ${i} is version ${s.version} after version ${steps[i - 1]!.version}.`,
      );
    if (s.up !== undefined && (!Array.isArray(s.up) || !s.up.every(isMigration)))
      throw new SchemaError(
        `defineSchemaVersions: step ${i} (version ${s.version}): \`up\` must be an array of migrations (renameField, splitField, defaultField, migrate).`,
      );
  });
  const frozen = Object.freeze(steps.map((s) => Object.freeze({ ...s })));
  const oldest = frozen[0]!.version;
  const current = frozen[frozen.length - 1]!.version;
  const canUpcast = (v: number) => isVersion(v) && v >= oldest && v <= current;
  return Object.freeze({
    current,
    oldest,
    schema: frozen[frozen.length - 1]!.schema,
    steps: frozen,
    canUpcast,
    upcast(cells: readonly Cell[], from: number): Cell[] {
      if (!canUpcast(from)) throw outdated(from, oldest, current);
      if (from === current) return cells as Cell[];
      const chain: Migration[] = [];
      for (const s of frozen) if (s.version > from) chain.push(...(s.up ?? []));
      return upcastCells(cells, chain);
    },
  });
}

function isMigration(m: unknown): m is Migration {
  return typeof m === 'object' && m !== null && typeof (m as Migration).up === 'function';
}

/** The refusal of a version outside the chain, with the "update the app" advice. */
export function outdated(from: number, oldest: number, current: number): SchemaOutdatedError {
  const details = { clientVersion: from, serverVersion: current, oldestVersion: oldest };
  return from > current
    ? new SchemaOutdatedError(
        `This app writes schema version ${from}, but the server is still on version ${current}: its writes are kept on this device and sent once the server is updated.`,
        { details },
      )
    : new SchemaOutdatedError(
        `This app is too old: it writes schema version ${from}, and the server accepts versions ${oldest} to ${current}. Update the app; its unsent writes are kept on this device until then.`,
        { details },
      );
}

/** Migrate each document's cells of one mutation through `chain`. */
function upcastCells(cells: readonly Cell[], chain: readonly Migration[]): Cell[] {
  const groups = new Map<string, Cell[]>();
  for (const c of cells) {
    const key = `${c.collection}\u0000${c.id}`;
    const g = groups.get(key);
    if (g) g.push(c);
    else groups.set(key, [c]);
  }
  const out: Cell[] = [];
  for (const g of groups.values()) {
    const { collection, id } = g[0]!;
    let fields: Record<string, CellValue> = {};
    const hlcOf = new Map<string, string>();
    let newest = '';
    const tombstones: Cell[] = [];
    for (const c of g) {
      if (c.field === DELETED_FIELD) {
        tombstones.push(c);
        continue;
      }
      fields[c.field] = c.value;
      hlcOf.set(c.field, c.hlc);
      if (c.hlc > newest) newest = c.hlc;
    }
    if (hlcOf.size > 0) {
      const insert = Object.hasOwn(fields, ID_FIELD);
      for (const m of chain) {
        if (m.collection !== undefined && m.collection !== collection) continue;
        let next: unknown;
        try {
          next = m.up(Object.freeze({ collection, id, insert, fields: Object.freeze({ ...fields }) }));
        } catch (e) {
          throw new ValidationError(
            `Schema migration ${m.label} failed on ${collection}/${id}: ${e instanceof Error ? e.message : String(e)}. Fix the migration.`,
            { cause: e, details: { collection, id } },
          );
        }
        if (typeof next !== 'object' || next === null || Array.isArray(next))
          throw new ValidationError(
            `Schema migration ${m.label} returned ${next === null ? 'null' : typeof next} for ${collection}/${id}; it must return the fields to write (an object).`,
            { details: { collection, id } },
          );
        fields = next as Record<string, CellValue>;
      }
      if (insert && fields[ID_FIELD] !== id) fields[ID_FIELD] = id;
      for (const [field, value] of Object.entries(fields)) {
        if (field === DELETED_FIELD) continue;
        const cell: Cell = { collection, id, field, value, hlc: hlcOf.get(field) ?? newest };
        validateCell(cell, out.length); // a migration may return anything: only valid cells leave
        out.push(cell);
      }
    }
    out.push(...tombstones);
  }
  return out;
}
