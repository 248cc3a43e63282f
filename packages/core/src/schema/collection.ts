import type { FlattenOptions } from '../cells.js';
/**
 * Collection and schema definitions (seed 003: the schema lives on the client only; the
 * server stores cells and never sees it).
 *
 * A collection is a name, a Standard Schema object schema that validates its documents
 * (zod 4, valibot, arktype or our `t.object`, used as they are), and the storage kinds of
 * the fields a validator cannot express: which strings are refs, which arrays are refMany
 * sets (one cell per member), which values are dates or opaque JSON.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { DELETED_FIELD, isValidCollectionName, isValidFieldKey } from '../cells.js';
import { SchemaError } from '../errors.js';
import type { FieldSpec } from './field.js';
import { inferDateFields } from './infer-dates.js';
import { TField, TObject } from './t.js';

/** A document type with its `id` (added when the schema does not declare one). */
export type WithId<T> = T extends { id: string } ? T : T & { id: string };

/** Any Standard Schema (the validator of a collection). */
export type AnyStandardSchema = StandardSchemaV1<any, any>;

/**
 * A defined collection. Treat it as opaque: read it through {@link fieldKinds},
 * {@link refManyFields}, {@link validateDocument} and {@link coerceFromStorage}.
 */
export interface CollectionDef<Name extends string = string, Doc = Record<string, unknown>, Input = Doc> {
  readonly name: Name;
  /** The validator of whole documents. */
  readonly schema: StandardSchemaV1<Input, Doc>;
  /** Storage kind of every known field, by dotted path (nested objects included). */
  readonly kinds: ReadonlyMap<string, FieldSpec>;
  /** Paths of refMany fields (the cell layer stores one cell per member). */
  readonly refMany: ReadonlySet<string>;
  /** Paths of json fields (stored as one value: an object in them is replaced whole, not merged). */
  readonly atomic: ReadonlySet<string>;
  /** @internal Kinds the validator does not check itself (declared in `fields`): checked after it. */
  readonly declared: ReadonlyMap<string, FieldSpec>;
  /** @internal Date paths to turn from ISO strings into Dates before a foreign validator runs. */
  readonly datePaths: readonly string[];
  /** @internal Fields to coerce on read: [path keys, spec]. */
  readonly readPlan: readonly (readonly [readonly string[], FieldSpec])[];
}

/** The document type of a collection definition. */
export type InferDocument<C> = C extends CollectionDef<any, infer D, any> ? D : never;
/** What a collection accepts on insert (defaults may be left out). */
export type InferInput<C> = C extends CollectionDef<any, any, infer I> ? I : never;

/** Options of {@link defineCollection}. */
export interface CollectionOptions<Name extends string, S extends AnyStandardSchema> {
  /** The collection name (letters, digits, `_`, `-`; starts with a letter or `_`). */
  name: Name;
  /** A Standard Schema object schema: zod 4, valibot, arktype, or `t.object({...})`. */
  schema: S;
  /**
   * Storage kinds the validator cannot express, by field (dotted paths for nested fields):
   * `{ ownerId: t.ref('users'), tagIds: t.refMany('tags'), due: t.date(), extra: t.json() }`.
   * Not needed for `t.object` schemas (they carry their kinds); dates of zod, valibot and
   * arktype schemas are found automatically. Only the kind is used: optional and default
   * belong in the schema.
   */
  fields?: Record<string, TField<any, any>>;
}

/**
 * Define a collection.
 * @example
 * const todos = defineCollection({
 *   name: 'todos',
 *   schema: z.object({ id: z.string(), title: z.string(), ownerId: z.string(), tagIds: z.array(z.string()) }),
 *   fields: { ownerId: t.ref('users'), tagIds: t.refMany('tags') },
 * });
 */
export function defineCollection<const Name extends string, S extends AnyStandardSchema>(
  options: CollectionOptions<Name, S>,
): CollectionDef<Name, WithId<StandardSchemaV1.InferOutput<S>>, StandardSchemaV1.InferInput<S>> {
  const { name, schema, fields } = options ?? ({} as CollectionOptions<Name, S>);
  if (!isValidCollectionName(name))
    throw new SchemaError(
      `Collection name ${JSON.stringify(name)} is not valid: use letters, digits, _ or -, starting with a letter or _ (e.g. "todos").`,
      {
        details: { collection: name },
      },
    );
  const std = (schema as { '~standard'?: Partial<StandardSchemaV1.Props> } | undefined)?.['~standard'];
  if (!std || std.version !== 1 || typeof std.validate !== 'function')
    throw new SchemaError(
      `Collection "${name}": schema is not a Standard Schema (v1). Pass a zod 4, valibot or arktype object schema, or t.object({...}).`,
      {
        details: { collection: name },
      },
    );

  const kinds = new Map<string, FieldSpec>();
  if (schema instanceof TObject) collectKinds(schema.shape, '', kinds);
  const datePaths: string[] = [];
  if (!(schema instanceof TObject)) {
    for (const p of inferDateFields(schema)) {
      kinds.set(p, { kind: 'date', optional: true, nullable: true, hasDefault: false });
      datePaths.push(p);
    }
  }
  const declared = new Map<string, FieldSpec>();
  for (const [path, field] of Object.entries(fields ?? {})) {
    const where = `Collection "${name}", field "${path}"`;
    if (!path.split('.').every(isValidFieldKey))
      throw new SchemaError(
        `${where}: not a valid field path; use names without '[' or ']', joined by '.' for nested fields.`,
        { details: { collection: name, field: path } },
      );
    if (path === DELETED_FIELD)
      throw new SchemaError(`${where}: ${DELETED_FIELD} is reserved for tombstones; rename the field.`, {
        details: { collection: name, field: path },
      });
    if (!(field instanceof TField))
      throw new SchemaError(
        `${where}: expected a field kind such as t.ref('users'), t.refMany('tags'), t.date() or t.json().`,
        { details: { collection: name, field: path } },
      );
    if (field.spec.hasDefault)
      throw new SchemaError(
        `${where}: \`fields\` only declares storage kinds; put the default in the schema (it would be ignored here).`,
        {
          details: { collection: name, field: path },
        },
      );
    const known = kinds.get(path);
    if (known && known.kind !== field.spec.kind && schema instanceof TObject)
      throw new SchemaError(
        `${where}: declared as ${field.spec.kind} but the schema says ${known.kind}; keep one.`,
        { details: { collection: name, field: path } },
      );
    const flat = new Map<string, FieldSpec>([[path, field.spec]]);
    if (field instanceof TObject) collectKinds(field.shape, path, flat);
    for (const [p, spec] of flat) {
      kinds.set(p, spec);
      declared.set(p, spec);
      if (spec.kind === 'date' && !datePaths.includes(p)) datePaths.push(p);
    }
  }

  const refMany = new Set<string>();
  const atomic = new Set<string>();
  const readPlan: [string[], FieldSpec][] = [];
  for (const [p, spec] of kinds) {
    if (spec.kind === 'refMany') refMany.add(p);
    else if (spec.kind === 'json') atomic.add(p);
    readPlan.push([p.split('.'), spec]);
  }
  // Parents before children, so an object that turns out invalid is dropped before its fields are looked at.
  readPlan.sort((a, b) => a[0].length - b[0].length);
  return Object.freeze({
    name,
    schema: schema as StandardSchemaV1<any, any>,
    kinds,
    refMany,
    atomic,
    declared,
    datePaths: Object.freeze(datePaths),
    readPlan: Object.freeze(readPlan),
  });
}

function collectKinds(shape: Record<string, TField<any, any>>, prefix: string, out: Map<string, FieldSpec>) {
  for (const [k, f] of Object.entries(shape)) {
    const p = prefix ? `${prefix}.${k}` : k;
    out.set(p, f.spec);
    if (f instanceof TObject) collectKinds(f.shape, p, out);
  }
}

/** Storage kind of every known field of a collection, by dotted path. */
export function fieldKinds(def: CollectionDef<string, any, any>): ReadonlyMap<string, FieldSpec> {
  return def.kinds;
}

/** The refMany fields of a collection: pass to `flattenDocument(doc, { refMany })`. */
export function refManyFields(def: CollectionDef<string, any, any>): ReadonlySet<string> {
  return def.refMany;
}

/**
 * How to flatten documents of this collection into cells: refMany fields as members, json
 * fields as one value. Pass to `flattenDocument(doc, flattenOptions(def))`.
 */
export function flattenOptions(def: CollectionDef<string, any, any>): FlattenOptions {
  return { refMany: def.refMany, atomic: def.atomic };
}

/**
 * The `objectTypeOf` hint for a cell field: `'date'` for date fields, `'ref'` for ref
 * fields and refMany members (`tagIds[t1]`), else undefined.
 */
export function fieldHint(def: CollectionDef<string, any, any>, field: string): 'date' | 'ref' | undefined {
  const b = field.indexOf('[');
  const kind = def.kinds.get(b >= 0 ? field.slice(0, b) : field)?.kind;
  return kind === 'date' ? 'date' : kind === 'ref' || kind === 'refMany' ? 'ref' : undefined;
}

/** A set of collections, by name: the client's schema. */
export interface SchemaDef<C extends Record<string, CollectionDef<string, any, any>>> {
  readonly collections: Readonly<C>;
  readonly names: readonly (keyof C & string)[];
  /** True if the schema has a collection of this name. */
  has(name: string): name is keyof C & string;
  /** The collection of this name; throws {@link SchemaError} if there is none. */
  collection<K extends keyof C & string>(name: K): C[K];
}

/**
 * Gather collections into one schema. Each key must be its collection's name, and every
 * ref/refMany must point at a collection of this schema (a typo is caught here, not later).
 * @example
 * const schema = defineSchema({ todos, users, tags });
 */
export function defineSchema<const C extends Record<string, CollectionDef<string, any, any>>>(
  collections: C,
): SchemaDef<C> {
  const all = { ...collections };
  for (const [key, def] of Object.entries(all)) {
    if (!def || typeof def !== 'object' || !(def.kinds instanceof Map))
      throw new SchemaError(
        `Schema entry "${key}" is not a collection: build it with defineCollection({ name: "${key}", schema }).`,
        { details: { collection: key } },
      );
    if (def.name !== key)
      throw new SchemaError(
        `Schema entry "${key}" holds collection "${def.name}"; use the collection's name as its key.`,
        { details: { collection: def.name } },
      );
  }
  for (const def of Object.values(all)) {
    for (const [path, spec] of def.kinds) {
      if (
        (spec.kind === 'ref' || spec.kind === 'refMany') &&
        spec.target !== undefined &&
        !Object.hasOwn(all, spec.target)
      )
        throw new SchemaError(
          `Collection "${def.name}", field "${path}" refers to collection "${spec.target}", which this schema does not define; add it or fix the name (defined: ${Object.keys(all).join(', ')}).`,
          { details: { collection: def.name, field: path } },
        );
    }
  }
  const names = Object.freeze(Object.keys(all)) as readonly (keyof C & string)[];
  return Object.freeze({
    collections: Object.freeze(all),
    names,
    has: (name: string): name is keyof C & string => Object.hasOwn(all, name),
    collection<K extends keyof C & string>(name: K): C[K] {
      if (!Object.hasOwn(all, name))
        throw new SchemaError(`Unknown collection "${name}"; the schema defines: ${names.join(', ')}.`, {
          details: { collection: name },
        });
      return all[name];
    },
  });
}
