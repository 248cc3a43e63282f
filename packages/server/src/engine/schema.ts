/**
 * Server-side schema (issue 13 parts 5–6): every pushed cell is validated with the same
 * Standard Schema the client uses, after the writes of an older client were upcast through
 * the schema's version chain. Runs before a push joins a group commit and before anything
 * is read or locked, so a refused push fails alone and nothing of it is applied.
 *
 * What is validated: the cells, not the merged document. Each document a mutation writes
 * is rebuilt from that mutation's cells alone and run through the collection's schema; an
 * insert (a write carrying `id`) must be a whole valid document, an update is held only to
 * the issues on the fields it writes (a field it does not write may be missing from the
 * partial document, and is the stored document's business). See the server README for why.
 */
import {
  type Cell,
  type CollectionDef,
  DELETED_FIELD,
  ID_FIELD,
  type PushRequest,
  type SchemaDef,
  SchemaError,
  type SchemaIssue,
  type SchemaVersions,
  unflattenDocument,
  validateDocument,
  ValidationError,
  type WireMutation,
} from '@omnisync/core';

/** A schema the server validates with: a schema, or a version chain (its newest schema validates). */
export type ServerSchema = SchemaDef<Record<string, CollectionDef<string, any, any>>> | SchemaVersions;

/** What the server does with a push to a collection its schema does not define. */
export type UnknownCollectionPolicy = 'reject' | 'allow';

/** Upcast and validate a push; returns the request to apply (upcast), or throws. */
export type PushSchemaCheck = (req: PushRequest) => PushRequest;

const isVersions = (s: ServerSchema): s is SchemaVersions =>
  typeof (s as SchemaVersions).upcast === 'function' && Array.isArray((s as SchemaVersions).steps);
const isSchemaDef = (s: unknown): s is SchemaDef<Record<string, CollectionDef<string, any, any>>> =>
  typeof s === 'object' &&
  s !== null &&
  typeof (s as SchemaDef<any>).has === 'function' &&
  typeof (s as SchemaDef<any>).collection === 'function';

/** How many issues the refusal's message names (all are in `details.issues`). */
const ISSUES_IN_MESSAGE = 3;

/**
 * The push check of a server with a schema (undefined without one: pushes pass as today).
 * @param hasMutator true for a mutation the server runs a mutator for (its cells are the
 *   client's optimistic guess and are ignored, so they are neither upcast nor validated).
 */
export function createPushSchemaCheck(
  schema: ServerSchema | undefined,
  unknownCollections: UnknownCollectionPolicy = 'reject',
  hasMutator: (m: WireMutation) => boolean = () => false,
): PushSchemaCheck | undefined {
  if (schema === undefined) return undefined;
  if (unknownCollections !== 'reject' && unknownCollections !== 'allow')
    throw new ValidationError(
      `unknownCollections must be 'reject' or 'allow', got ${JSON.stringify(unknownCollections)}.`,
    );
  const versions = isVersions(schema) ? schema : undefined;
  const def = versions ? versions.schema : schema;
  if (def !== undefined && !isSchemaDef(def))
    throw new ValidationError(
      'The server schema must be a defineSchema({...}) result or a defineSchemaVersions([...]) chain.',
    );
  return (req) => {
    // Without a version a push is read as the current version (clients built before versions existed).
    const from = req.schemaVersion ?? versions?.current;
    let mutations = req.mutations;
    if (versions && from !== versions.current) {
      // Throws SchemaOutdatedError (409) outside the chain: nothing of the push is applied.
      if (!versions.canUpcast(from!)) versions.upcast([], from!);
      mutations = mutations.map((m) =>
        hasMutator(m) ? m : { ...m, changes: versions.upcast(m.changes as Cell[], from!) },
      );
    }
    if (def) for (const m of mutations) if (!hasMutator(m)) checkMutation(def, unknownCollections, m);
    return mutations === req.mutations ? req : { ...req, mutations };
  };
}

/** Validate the cells of one mutation, document by document; throws ValidationError (400). */
function checkMutation(
  def: SchemaDef<Record<string, CollectionDef<string, any, any>>>,
  unknownCollections: UnknownCollectionPolicy,
  m: WireMutation,
): void {
  const groups = new Map<string, Cell[]>();
  for (const c of m.changes as Cell[]) {
    const key = `${c.collection}\u0000${c.id}`;
    const g = groups.get(key);
    if (g) g.push(c);
    else groups.set(key, [c]);
  }
  for (const cells of groups.values()) {
    const { collection, id } = cells[0]!;
    if (!def.has(collection)) {
      if (unknownCollections === 'allow') continue;
      throw new ValidationError(
        `Invalid write to ${collection}/${id} (mutation ${m.id}): the server's schema has no collection "${collection}" (it defines: ${def.names.join(', ')}). Nothing of this push was applied; write to a defined collection, or add "${collection}" to the server schema.`,
        { details: { collection, id, mutationId: m.id, issues: [] } },
      );
    }
    const fields = cells.filter((c) => c.field !== DELETED_FIELD);
    if (fields.length === 0) continue; // a delete: nothing to validate
    checkDocument(def.collection(collection), m.id, id, fields);
  }
}

function checkDocument(
  def: CollectionDef<string, any, any>,
  mutationId: string,
  id: string,
  cells: readonly Cell[],
): void {
  const insert = cells.some((c) => c.field === ID_FIELD);
  const touched = new Set<string>();
  for (const c of cells) {
    const b = c.field.indexOf('[');
    touched.add(b >= 0 ? c.field.slice(0, b) : c.field); // a refMany member is its field
  }
  let issues: readonly SchemaIssue[];
  try {
    validateDocument(def, unflattenDocument(id, cells));
    return;
  } catch (err) {
    if (!(err instanceof SchemaError)) throw err;
    const all = (err.details?.['issues'] as SchemaIssue[] | undefined) ?? [];
    // A schema that threw or answered asynchronously: its message says so, with no issue list.
    if (all.length === 0)
      throw new ValidationError(`${err.message} (mutation ${mutationId}; nothing of this push was applied)`, {
        cause: err,
        details: { collection: def.name, id, mutationId, issues: [] },
      });
    issues = insert ? all : all.filter((i) => [...touched].some((f) => related(i.path, f)));
  }
  if (issues.length === 0) return;
  const fieldsNamed = issues
    .slice(0, ISSUES_IN_MESSAGE)
    .map((i) => (i.path ? `field "${i.path}": ${i.message}` : `document: ${i.message}`));
  const more = issues.length > ISSUES_IN_MESSAGE ? `; and ${issues.length - ISSUES_IN_MESSAGE} more` : '';
  const first = issues.find((i) => i.path !== '')?.path;
  throw new ValidationError(
    `Invalid ${insert ? 'insert into' : 'update of'} ${def.name}/${id} (mutation ${mutationId}): ${fieldsNamed.join('; ')}${more}. Nothing of this push was applied; fix the value, or deploy the matching schema to the server.`,
    {
      details: {
        collection: def.name,
        id,
        mutationId,
        ...(first !== undefined ? { field: first } : {}),
        issues: issues.map((i) => ({ path: i.path, message: i.message })),
      },
    },
  );
}

/** Is an issue at `path` about field `field` (the field itself, inside it, or a parent of it)? */
function related(path: string, field: string): boolean {
  if (path === '') return false;
  return under(path, field) || under(field, path);
}

const under = (key: string, path: string) =>
  key === path ||
  (key.length > path.length &&
    key.startsWith(path) &&
    (key[path.length] === '.' || key[path.length] === '['));
