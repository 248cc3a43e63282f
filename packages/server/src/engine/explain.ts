/**
 * Explain (issue 13): why one stored document is or is not visible, updatable and deletable
 * for a principal under the server's permission rules: which rule and which clause decided,
 * and which fields the read mask hides. The document is read from storage as it is now.
 */
import {
  type CellValue,
  isValidCollectionName,
  isValidId,
  type Principal,
  type RulesEvaluator,
  type RulesExplanation,
  ValidationError,
} from '@omnisync/core';
import type { SyncStorage } from '../storage/storage.js';
import { materialize } from './working-doc.js';

/** What to explain. */
export interface ExplainRequest {
  readonly app: string;
  readonly collection: string;
  readonly id: string;
  /** The claims of the caller to explain for (what the server reads from a token: `sub`, roles, …). */
  readonly principal: Principal;
}

/** The answer of {@link explainDocument}. */
export type ExplainResult =
  | (RulesExplanation & {
      readonly app: string;
      readonly id: string;
      /** The server has rules: the decisions below are theirs. */
      readonly rules: true;
      /** The document exists as a tombstone (deleted). */
      readonly deleted: boolean;
      /** One sentence for humans. */
      readonly summary: string;
    })
  | {
      readonly app: string;
      readonly collection: string;
      readonly id: string;
      readonly exists: boolean;
      readonly deleted: boolean;
      /** The server has no rules. */
      readonly rules: false;
      readonly summary: string;
    };

/**
 * Check an explain request's fields (the HTTP body, or a caller's object): a ValidationError
 * (400 `invalid_input`) names the first bad field.
 */
export function checkExplainRequest(app: string, body: unknown): ExplainRequest {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new ValidationError(
      'The explain body is a JSON object: { "collection": "todos", "id": "t1", "principal": { "sub": "u1" } }.',
      { details: { field: 'body' } },
    );
  const b = body as Record<string, unknown>;
  if (!isValidCollectionName(b.collection))
    throw new ValidationError(
      `"collection" must be a collection name (letters, digits, _ or -, starting with a letter or _), got ${JSON.stringify(b.collection)}.`,
      { details: { field: 'collection' } },
    );
  if (!isValidId(b.id))
    throw new ValidationError(
      `"id" must be a document id (a non-empty string of at most 512 characters), got ${JSON.stringify(b.id)}.`,
      { details: { field: 'id' } },
    );
  const p = b.principal;
  if (p === null || typeof p !== 'object' || Array.isArray(p))
    throw new ValidationError(
      `"principal" must be the claims object to explain for (what the server reads from a token), e.g. { "sub": "u1", "roles": ["admin"] }; got ${p === null ? 'null' : Array.isArray(p) ? 'an array' : typeof p}.`,
      { details: { field: 'principal' } },
    );
  const unknown = Object.keys(b).find((k) => k !== 'collection' && k !== 'id' && k !== 'principal');
  if (unknown !== undefined)
    throw new ValidationError(
      `Unknown field ${JSON.stringify(unknown.slice(0, 64))} in the explain body; it takes collection, id and principal.`,
      { details: { field: unknown.slice(0, 64) } },
    );
  return { app, collection: b.collection, id: b.id, principal: p as Principal };
}

/** Load the document from `storage` and explain it under `rules` (undefined: the server has none). */
export async function explainDocument(
  storage: SyncStorage,
  rules: RulesEvaluator | undefined,
  req: ExplainRequest,
): Promise<ExplainResult> {
  const { app, collection, id, principal } = req;
  const [stored] = await storage.read((r) => r.loadDocs([{ collection, id }]));
  const cells = new Map<string, { value: CellValue; hlc: string }>();
  for (const c of stored?.cells ?? []) cells.set(c.field, { value: c.value, hlc: c.hlc });
  const doc = materialize(id, cells);
  const deleted = doc === undefined && cells.size > 0;
  const where = `${collection}/${id}`;
  const state =
    doc !== undefined
      ? `${where} exists`
      : deleted
        ? `${where} is deleted (a tombstone)`
        : `${where} does not exist (never written, or compacted away)`;
  if (!rules)
    return {
      app,
      collection,
      id,
      exists: doc !== undefined,
      deleted,
      rules: false,
      summary: `${state}. This server has no permission rules (createServer({ rules }) / --rules): every authenticated caller may read and write every document of its app.`,
    };
  const e = rules.explain(collection, doc, principal);
  const verdict = (what: string, d: { allowed: boolean }) => `${d.allowed ? '' : 'not '}${what}`;
  const summary =
    `${state}${doc === undefined ? '; the decisions are for an empty document' : ''}. For this principal it is ` +
    `${verdict('visible', e.read)}, ${verdict('updatable', e.update)} and ${verdict('deletable', e.delete)}` +
    `${e.hiddenFields.length > 0 ? `; hidden fields: ${e.hiddenFields.join(', ')}` : ''}.`;
  return { ...e, app, id, rules: true, deleted, summary };
}
