/**
 * Validation of writes and coercion of reads, for one collection.
 *
 * Writes go through the collection's Standard Schema, synchronously (a write either
 * changes nothing and throws, or is applied at once: there is no room for an async
 * validator). Reads come from storage, where dates are ISO strings and anything may have
 * been written by another client: they are coerced, never refused (seed 003: invalid data
 * is treated as undefined on the client).
 */
import type { StandardSchemaV1 } from '@standard-schema/spec';
import { assertStorableValue, ID_FIELD, isValidId } from '../cells.js';
import { SchemaError } from '../errors.js';
import type { CollectionDef } from './collection.js';
import { type FieldSpec, isPlainObject, makeDefault, toDate } from './field.js';
import { received } from './t.js';

/** One problem found by a validator, with a readable path (`meta.count`, `tagIds[2]`). */
export interface SchemaIssue {
  readonly path: string;
  readonly message: string;
}

/** How many issues a SchemaError message spells out (all of them are in `details.issues`). */
const ISSUES_IN_MESSAGE = 3;

/**
 * Validate a whole document for a write and return the validator's output: defaults
 * applied, date fields as `Date`. Synchronous; throws {@link SchemaError} naming the
 * collection, the field and the rule, with `details: { collection, id?, issues }`.
 *
 * Before a foreign validator runs, ISO strings in known date fields become `Date`s, so a
 * document read back from storage passes `z.date()` again. The output keeps the input's
 * `id` when the schema does not declare one, and must end up with a valid id.
 *
 * What the output leaves out depends on the validator (zod and valibot objects strip
 * unknown keys, `t.object` and arktype keep them). So a caller that validates a merged
 * update must write only the fields the update touched (and defaults), never treat a key
 * missing from the output as deleted: it may belong to a newer client.
 */
export function validateDocument<Doc>(def: CollectionDef<string, Doc, any>, doc: unknown): Doc {
  if (!isPlainObject(doc))
    throw new SchemaError(
      `Invalid ${def.name} document: expected a plain object, received ${received(doc)}.`,
      {
        details: {
          collection: def.name,
          issues: [{ path: '', message: `Expected an object, received ${received(doc)}` }],
        },
      },
    );
  let input: Record<string, unknown> = doc;
  for (const p of def.datePaths) input = coerceDateAt(input, p);

  const std = def.schema['~standard'];
  let result: StandardSchemaV1.Result<Doc> | Promise<StandardSchemaV1.Result<Doc>>;
  try {
    result = std.validate(input);
  } catch (e) {
    throw new SchemaError(
      `The ${def.name} schema (${std.vendor}) threw while validating a document: ${e instanceof Error ? e.message : String(e)}. Fix the schema's refinements or transforms.`,
      {
        cause: e,
        details: detailsOf(def, doc, []),
      },
    );
  }
  if (isThenable(result)) {
    result.then(ignore, ignore); // nobody awaits it: keep a rejection from going unhandled
    throw new SchemaError(
      `The ${def.name} schema (${std.vendor}) validated asynchronously (it returned a Promise). Writes are validated synchronously, so async schemas are not supported: remove async refinements or transforms from it. (zod also answers with a Promise when a refinement or transform throws: make sure none does.)`,
      { details: detailsOf(def, doc, []) },
    );
  }
  if (result.issues) throw issuesError(def, doc, result.issues.map(toSchemaIssue));

  const value = result.value as unknown;
  if (!isPlainObject(value))
    throw new SchemaError(
      `The ${def.name} schema turned the document into ${received(value)}; a collection schema must produce an object.`,
      {
        details: detailsOf(def, doc, []),
      },
    );
  let out: Record<string, unknown> = value;
  if (out[ID_FIELD] === undefined && doc[ID_FIELD] !== undefined) out = { ...out, [ID_FIELD]: doc[ID_FIELD] };
  const issues: SchemaIssue[] = [];
  if (!isValidId(out[ID_FIELD]))
    issues.push({
      path: ID_FIELD,
      message: `Expected a document id (a non-empty string of at most 512 characters), received ${received(out[ID_FIELD])}`,
    });
  if (def.declared.size > 0) out = checkDeclared(def, out, issues);
  if (issues.length > 0) throw issuesError(def, doc, issues);
  return out as Doc;
}

/**
 * Validate an update: `patch` (top-level fields) merged over the `current` document, then
 * {@link validateDocument}. The id cannot change. Returns the whole validated document.
 */
export function validatePatch<Doc>(
  def: CollectionDef<string, Doc, any>,
  current: Readonly<Record<string, unknown>>,
  patch: unknown,
): Doc {
  if (!isPlainObject(patch))
    throw new SchemaError(
      `Invalid ${def.name} update: a patch must be a plain object of fields, received ${received(patch)}.`,
      {
        details: {
          collection: def.name,
          id: current[ID_FIELD],
          issues: [{ path: '', message: `Expected an object, received ${received(patch)}` }],
        },
      },
    );
  if (Object.hasOwn(patch, ID_FIELD) && patch[ID_FIELD] !== current[ID_FIELD])
    throw new SchemaError(
      `Invalid ${def.name} update: the id of a document cannot change (from ${JSON.stringify(current[ID_FIELD])} to ${JSON.stringify(patch[ID_FIELD])}); insert a new document instead.`,
      {
        details: {
          collection: def.name,
          id: current[ID_FIELD],
          issues: [{ path: ID_FIELD, message: 'The id cannot change' }],
        },
      },
    );
  return validateDocument(def, { ...current, ...patch });
}

/**
 * Turn a document read from storage into what the app expects: ISO strings of date fields
 * become `Date`s; a value of the wrong kind (corrupt, or written by an incompatible client)
 * becomes undefined; a missing field with a constant default gets it (new clients read old
 * documents). Function defaults (`() => new Date()`) are not invented on read: the same
 * document must read the same each time. Never throws; never mutates `doc` (copy on write).
 */
export function coerceFromStorage<Doc>(
  def: CollectionDef<string, Doc, any>,
  doc: Readonly<Record<string, unknown>>,
): Doc {
  let out = doc as Record<string, unknown>;
  const plan = def.readPlan;
  for (let i = 0; i < plan.length; i++) {
    const [keys, spec] = plan[i]!;
    const v = keys.length === 1 ? out[keys[0]!] : getAt(out, keys);
    if (v === MISSING_PARENT) continue;
    let next =
      v === null ? (spec.nullable ? null : undefined) : v === undefined ? undefined : coerceValue(v, spec);
    // Invalid reads as undefined, and undefined falls back to a constant default.
    if (next === undefined && spec.hasDefault && typeof spec.defaultValue !== 'function')
      next = makeDefault(spec);
    if (next === v) continue;
    out = setAt(out, doc, keys, next);
  }
  return out as Doc;
}

function coerceValue(v: unknown, spec: FieldSpec): unknown {
  switch (spec.kind) {
    case 'string':
      return typeof v === 'string' ? v : undefined;
    case 'number':
      return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
    case 'boolean':
      return typeof v === 'boolean' ? v : undefined;
    case 'date':
      return toDate(v);
    case 'ref':
      return isValidId(v) ? v : undefined;
    case 'refMany':
      return Array.isArray(v) ? (v.every(isValidId) ? v : v.filter(isValidId)) : undefined;
    case 'object':
      return isPlainObject(v) ? v : undefined;
    case 'json':
      return v;
  }
}

/** Check, after a foreign validator, the kinds declared in `fields` (it could not). */
function checkDeclared(
  def: CollectionDef<string, any, any>,
  doc: Record<string, unknown>,
  issues: SchemaIssue[],
): Record<string, unknown> {
  let out = doc;
  for (const [path, spec] of def.declared) {
    const keys = path.split('.');
    const v = getAt(out, keys);
    if (v === undefined || v === null || v === MISSING_PARENT) continue; // presence is the validator's call
    let problem: string | undefined;
    switch (spec.kind) {
      case 'date': {
        const d = toDate(v);
        if (d === undefined)
          problem = `Expected a valid date (Date or ISO 8601 string), received ${received(v)}`;
        else if (d !== v) out = setAt(out, doc, keys, d);
        break;
      }
      case 'ref':
        if (!isValidId(v))
          problem = `Expected a ${spec.target} id (a non-empty string of at most 512 characters), received ${received(v)}`;
        break;
      case 'refMany':
        if (!Array.isArray(v) || !v.every((m) => isValidId(m) && !/[[\]]/.test(m)))
          problem = `Expected an array of ${spec.target} ids (non-empty strings without '[' or ']'), received ${Array.isArray(v) ? 'an array with other values' : received(v)}`;
        break;
      case 'json':
        try {
          assertStorableValue(v, 'the value');
        } catch (e) {
          problem = `Expected a JSON value (${(e as Error).message})`;
        }
        break;
      case 'object':
        if (!isPlainObject(v)) problem = `Expected an object, received ${received(v)}`;
        break;
      default:
        if (typeof v !== spec.kind) problem = `Expected a ${spec.kind}, received ${received(v)}`;
    }
    if (problem !== undefined) issues.push({ path, message: problem });
  }
  return out;
}

function issuesError(
  def: CollectionDef<string, any, any>,
  doc: Record<string, unknown>,
  issues: SchemaIssue[],
): SchemaError {
  const id = doc[ID_FIELD];
  const what = typeof id === 'string' ? `${def.name} document ${JSON.stringify(id)}` : `${def.name} document`;
  const shown = issues
    .slice(0, ISSUES_IN_MESSAGE)
    .map((i) => (i.path ? `field "${i.path}": ${i.message}` : `document: ${i.message}`));
  const more =
    issues.length > ISSUES_IN_MESSAGE
      ? `; and ${issues.length - ISSUES_IN_MESSAGE} more (see details.issues)`
      : '';
  return new SchemaError(
    `Invalid ${what}: ${shown.join('; ')}${more}. Fix the value, or the "${def.name}" schema if it is wrong.`,
    {
      details: detailsOf(def, doc, issues),
    },
  );
}

function detailsOf(
  def: CollectionDef<string, any, any>,
  doc: Record<string, unknown>,
  issues: SchemaIssue[],
): Record<string, unknown> {
  const id = doc[ID_FIELD];
  return typeof id === 'string' ? { collection: def.name, id, issues } : { collection: def.name, issues };
}

/** Standard Schema issue → `{ path: 'meta.tags[2]', message }`. */
export function toSchemaIssue(issue: StandardSchemaV1.Issue): SchemaIssue {
  let path = '';
  for (const seg of issue.path ?? []) {
    const key = typeof seg === 'object' && seg !== null ? seg.key : seg;
    if (typeof key === 'number') path += `[${key}]`;
    else path += path ? `.${String(key)}` : String(key);
  }
  return { path, message: String(issue.message) };
}

function isThenable(v: unknown): v is Promise<unknown> {
  return v !== null && typeof v === 'object' && typeof (v as { then?: unknown }).then === 'function';
}
function ignore() {}

const MISSING_PARENT = Symbol('missing parent');

/** The value at `keys`, or MISSING_PARENT when a parent on the way is not a plain object. */
function getAt(doc: Record<string, unknown>, keys: readonly string[]): unknown {
  let obj: Record<string, unknown> = doc;
  for (let i = 0; i < keys.length - 1; i++) {
    const next = obj[keys[i]!];
    if (!isPlainObject(next)) return MISSING_PARENT;
    obj = next;
  }
  return obj[keys[keys.length - 1]!];
}

/**
 * Set `value` at `keys` in `doc`, copying each object on the path that is still shared
 * with `original` (so the caller's document is never mutated). `undefined` removes the key.
 */
function setAt(
  doc: Record<string, unknown>,
  original: Readonly<Record<string, unknown>>,
  keys: readonly string[],
  value: unknown,
): Record<string, unknown> {
  const root = doc === original ? { ...doc } : doc;
  let obj = root;
  let orig: Readonly<Record<string, unknown>> | undefined = original;
  for (let i = 0; i < keys.length - 1; i++) {
    const k = keys[i]!;
    const next = obj[k] as Record<string, unknown>;
    const origNext: Record<string, unknown> | undefined =
      orig && isPlainObject(orig[k]) ? (orig[k] as Record<string, unknown>) : undefined;
    const copy = next === origNext ? { ...next } : next;
    obj[k] = copy;
    obj = copy;
    orig = origNext;
  }
  const last = keys[keys.length - 1]!;
  if (value === undefined) delete obj[last];
  else obj[last] = value;
  return root;
}

/** Turn a valid ISO string at a date path into a Date (copy on write); leave anything else. */
function coerceDateAt(doc: Record<string, unknown>, path: string): Record<string, unknown> {
  const keys = path.split('.');
  const v = getAt(doc, keys);
  if (typeof v !== 'string') return doc;
  const d = toDate(v);
  return d === undefined ? doc : setAt(doc, doc, keys, d);
}
