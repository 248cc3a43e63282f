/**
 * `t`: a small schema builder for apps that have no validator of their own (seed 003's
 * `t.string()`, `t.ref('users')`…). `t.object({...})` implements Standard Schema
 * (`~standard`, vendor `omnisync`), so it plugs in exactly where a zod, valibot or arktype
 * schema would, and it also tells OmniSync each field's storage kind (date, ref, refMany,
 * json) without a separate `fields` declaration.
 *
 * @example
 * const todo = t.object({
 *   title: t.string(),
 *   done: t.boolean().default(false),
 *   due: t.date().optional(),
 *   ownerId: t.ref('users'),
 *   tagIds: t.refMany('tags').default([]),
 *   extra: t.json().optional(),
 * });
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { assertStorableValue, isValidId, type JsonValue } from '../cells.js';
import { type FieldKind, type FieldSpec, isPlainObject, makeDefault, toDate } from './field.js';

/** One validation problem: where (path of keys) and what rule failed. */
export interface TIssue extends StandardSchemaV1.Issue {
  readonly path: readonly PropertyKey[];
}

/** A field of a `t` schema: its type, its storage kind, optional/nullable/default. */
export class TField<Out, In = Out> {
  /** Type-only: the output and input types (never set at runtime). */
  declare readonly '~types'?: { readonly output: Out; readonly input: In };
  /** What OmniSync knows about this field. */
  readonly spec: FieldSpec;

  /** Use the `t` builder instead of `new`. */
  constructor(spec: FieldSpec) {
    this.spec = Object.freeze({ ...spec });
  }

  /** May be missing or `undefined`. */
  optional(): TField<Out | undefined, In | undefined> {
    return this.with({ optional: true });
  }

  /** May be `null`. */
  nullable(): TField<Out | null, In | null> {
    return this.with({ nullable: true });
  }

  /**
   * Used when the field is missing or `undefined`. Pass a function for values that must be
   * fresh per document (e.g. `() => new Date()`); plain arrays and objects are copied.
   */
  default(
    value: Exclude<Out, undefined> | (() => Exclude<Out, undefined>),
  ): TField<Exclude<Out, undefined>, In | undefined> {
    return this.with({ hasDefault: true, defaultValue: value });
  }

  /** A copy of this field with some of its spec changed (subclasses keep their class). */
  protected with(patch: Partial<FieldSpec>): TField<any, any> {
    return new TField({ ...this.spec, ...patch });
  }

  /**
   * Validate `value` found at `path[...parent], key`; push issues, return the output.
   * @internal
   */
  check(value: unknown, parent: readonly PropertyKey[], key: PropertyKey, issues: TIssue[]): unknown {
    const s = this.spec;
    if (value === undefined) {
      if (s.hasDefault) return makeDefault(s);
      if (!s.optional)
        issues.push({
          path: [...parent, key],
          message: `Required: expected ${describeKind(s)}, but the field is missing`,
        });
      return undefined;
    }
    if (value === null) {
      if (!s.nullable)
        issues.push({ path: [...parent, key], message: `Expected ${describeKind(s)}, received null` });
      return null;
    }
    return this.checkValue(value, parent, key, issues);
  }

  /** @internal Validate a present, non-null value. */
  protected checkValue(
    value: unknown,
    parent: readonly PropertyKey[],
    key: PropertyKey,
    issues: TIssue[],
  ): unknown {
    const s = this.spec;
    switch (s.kind) {
      case 'string':
        if (typeof value === 'string') return value;
        break;
      case 'number':
        if (typeof value === 'number') {
          if (Number.isFinite(value)) return value;
          issues.push({ path: [...parent, key], message: `Expected a finite number, received ${value}` });
          return value;
        }
        break;
      case 'boolean':
        if (typeof value === 'boolean') return value;
        break;
      case 'date': {
        const d = toDate(value);
        if (d !== undefined) return d;
        if (value instanceof Date || typeof value === 'string') {
          issues.push({
            path: [...parent, key],
            message: `Expected a valid date (a Date or an ISO 8601 string), received ${received(value)}`,
          });
          return value;
        }
        break;
      }
      case 'ref':
        if (typeof value === 'string') {
          if (isValidId(value)) return value;
          issues.push({
            path: [...parent, key],
            message: `Expected a ${s.target} id (a non-empty string of at most 512 characters), received ${received(value)}`,
          });
          return value;
        }
        break;
      case 'refMany':
        if (Array.isArray(value)) return checkIds(value, s, [...parent, key], issues);
        break;
      case 'json':
        try {
          assertStorableValue(value, 'the value');
        } catch (e) {
          issues.push({ path: [...parent, key], message: `Expected a JSON value (${(e as Error).message})` });
        }
        return value;
      case 'object':
        break; // TObject overrides checkValue
    }
    issues.push({
      path: [...parent, key],
      message: `Expected ${describeKind(s)}, received ${received(value)}`,
    });
    return value;
  }
}

/** A field map: the shape of a `t.object`. */
export type TShape = Record<string, TField<any, any>>;

type OutOf<F> = F extends TField<infer O, any> ? O : never;
type InOf<F> = F extends TField<any, infer I> ? I : never;
type Simplify<T> = { [K in keyof T]: T[K] } & {};
type OptionalKeys<S, Pick extends 'o' | 'i'> = {
  [K in keyof S]: undefined extends (Pick extends 'o' ? OutOf<S[K]> : InOf<S[K]>) ? K : never;
}[keyof S];

/** The validated document type of a shape (keys that may be undefined become optional). */
export type TOutput<S extends TShape> = Simplify<
  { [K in Exclude<keyof S, OptionalKeys<S, 'o'>>]: OutOf<S[K]> } & {
    [K in OptionalKeys<S, 'o'>]?: OutOf<S[K]>;
  }
>;
/** What a shape accepts (fields with defaults may be left out). */
export type TInput<S extends TShape> = Simplify<
  { [K in Exclude<keyof S, OptionalKeys<S, 'i'>>]: InOf<S[K]> } & { [K in OptionalKeys<S, 'i'>]?: InOf<S[K]> }
>;

/**
 * A plain-object schema. Unknown keys are kept as they are (passthrough): documents written
 * by a newer client may carry fields this client does not know, and validating a merged
 * update must not drop them (DESIGN: old clients ignore unknown fields).
 */
export class TObject<S extends TShape>
  extends TField<TOutput<S>, TInput<S>>
  implements StandardSchemaV1<TInput<S>, TOutput<S>>
{
  /** The fields of this object. */
  readonly shape: Readonly<S>;
  readonly #keys: readonly string[];
  /** Standard Schema: lets OmniSync (and any Standard Schema consumer) validate with it. */
  readonly '~standard': StandardSchemaV1.Props<TInput<S>, TOutput<S>>;

  /** Use `t.object(shape)` instead of `new`. */
  constructor(
    shape: S,
    spec: FieldSpec = { kind: 'object', optional: false, nullable: false, hasDefault: false },
  ) {
    super(spec);
    this.shape = Object.freeze({ ...shape });
    this.#keys = Object.keys(shape);
    this['~standard'] = Object.freeze({
      version: 1 as const,
      vendor: 'omnisync',
      validate: (value: unknown): StandardSchemaV1.Result<TOutput<S>> => {
        const issues: TIssue[] = [];
        const out = this.check(value, [], '', issues, true);
        return issues.length === 0 ? { value: out as TOutput<S> } : { issues };
      },
    });
  }

  protected override with(patch: Partial<FieldSpec>): TField<any, any> {
    return new TObject(this.shape, { ...this.spec, ...patch });
  }

  override check(
    value: unknown,
    parent: readonly PropertyKey[],
    key: PropertyKey,
    issues: TIssue[],
    root = false,
  ): unknown {
    if (root) return this.checkValue(value, parent, key, issues, true);
    return super.check(value, parent, key, issues);
  }

  protected override checkValue(
    value: unknown,
    parent: readonly PropertyKey[],
    key: PropertyKey,
    issues: TIssue[],
    root = false,
  ): unknown {
    if (!isPlainObject(value)) {
      issues.push({
        path: root ? [] : [...parent, key],
        message: `Expected an object, received ${received(value)}`,
      });
      return value;
    }
    const path = root ? parent : [...parent, key];
    const shape = this.shape;
    const out: Record<string, unknown> = {};
    let matched = 0;
    for (const k in value) {
      if (!Object.hasOwn(value, k)) continue;
      const field = Object.hasOwn(shape, k) ? shape[k] : undefined;
      if (field === undefined) {
        out[k] = value[k];
        continue;
      }
      matched++;
      const v = value[k];
      // An explicit `undefined` is kept (it unsets the field on update) unless a default fills it.
      const r = field.check(v, path, k, issues);
      if (r !== undefined || v === undefined) out[k] = r;
    }
    if (matched < this.#keys.length) {
      for (const k of this.#keys) {
        if (Object.hasOwn(value, k)) continue;
        const r = shape[k]!.check(undefined, path, k, issues);
        if (r !== undefined) out[k] = r;
      }
    }
    return out;
  }
}

function checkIds(value: unknown[], s: FieldSpec, path: PropertyKey[], issues: TIssue[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < value.length; i++) {
    const m = value[i];
    if (typeof m !== 'string' || !isValidId(m) || m.includes('[') || m.includes(']')) {
      issues.push({
        path: [...path, i],
        message: `Expected a ${s.target} id (a non-empty string without '[' or ']'), received ${received(m)}`,
      });
      continue;
    }
    // A refMany is a set: a repeated id is the same member.
    if (!seen.has(m)) {
      seen.add(m);
      out.push(m);
    }
  }
  return out;
}

const KIND_TEXT: Record<FieldKind, string> = {
  string: 'a string',
  number: 'a number',
  boolean: 'a boolean',
  date: 'a date (a Date or an ISO 8601 string)',
  ref: 'an id',
  refMany: 'an array of ids',
  json: 'a JSON value',
  object: 'an object',
};

function describeKind(s: FieldSpec): string {
  if (s.kind === 'ref') return `a ${s.target} id`;
  if (s.kind === 'refMany') return `an array of ${s.target} ids`;
  return KIND_TEXT[s.kind];
}

/** A short name of a value's type for messages: "number", "array", "Date", "NaN"… */
export function received(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? 'an Invalid Date' : 'a Date';
  if (typeof v === 'number' && Number.isNaN(v)) return 'NaN';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'object')
    return isPlainObject(v)
      ? 'an object'
      : `a ${Object.getPrototypeOf(v)?.constructor?.name ?? 'class'} instance`;
  return `a ${typeof v}`;
}

const base = (kind: FieldKind, target?: string): FieldSpec =>
  target === undefined
    ? { kind, optional: false, nullable: false, hasDefault: false }
    : { kind, target, optional: false, nullable: false, hasDefault: false };

function refTarget(fn: string, collection: unknown): string {
  if (typeof collection !== 'string' || collection.length === 0)
    throw new TypeError(
      `t.${fn}(collection) needs the name of the collection the ids point into, e.g. t.${fn}('users').`,
    );
  return collection;
}

/** The schema builder. See the module comment for an example. */
export const t = Object.freeze({
  /** A string. */
  string: (): TField<string> => new TField(base('string')),
  /** A finite number. */
  number: (): TField<number> => new TField(base('number')),
  /** A boolean. */
  boolean: (): TField<boolean> => new TField(base('boolean')),
  /** A date: accepts a `Date` or an ISO 8601 string, yields a `Date`; stored as a UTC ISO string. */
  date: (): TField<Date, Date | string> => new TField(base('date')),
  /** The id of one document in `collection`. */
  ref: (collection: string): TField<string> => new TField(base('ref', refTarget('ref', collection))),
  /** A set of ids of documents in `collection`; stored one cell per member, so adds and removes merge. */
  refMany: (collection: string): TField<string[]> =>
    new TField(base('refMany', refTarget('refMany', collection))),
  /** Any JSON value, stored as one value (typed as `T` if you say so). */
  json: <T = JsonValue>(): TField<T> => new TField(base('json')),
  /** A plain object with these fields; implements Standard Schema. */
  object: <S extends TShape>(shape: S): TObject<S> => new TObject(shape),
});
