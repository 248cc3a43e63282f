/**
 * The client's permission pre-check (issue 13): a transaction's optimistic writes judged by
 * the server's rules the way the server will judge them (the transaction is one mutation;
 * per document: insert the new document, update the old and the new one, delete the old;
 * the written fields against the write mask), so a write the server would refuse fails at
 * once with the server's error, before the round trip. Only for failing fast: the server
 * decides (a client can be changed).
 *
 * Reached through `defineRules(...).precheck` only: a client given no rules ships none of it.
 */
import { NonRetriableError, OmniSyncError, ValidationError } from '../errors.js';
import { DELETED_FIELD, ID_FIELD } from '../cells.js';
import type { Doc } from '../query/compile.js';
import type { Principal } from './define-rules.js';
import type { RulesEvaluator, WriteCheckInput } from './evaluate-rules.js';

/** The caller's JWT claims as the server sees them, or a function returning them (undefined: not known yet). */
export type PrincipalSource = Principal | (() => Principal | undefined);

/** One optimistic write as a client holds it (seed 001's PendingMutation fields). */
export interface PendingWrite {
  readonly type: 'insert' | 'update' | 'delete';
  readonly collection: string;
  readonly key: string;
  /** The document before the write (empty for an insert). */
  readonly original: Doc;
  /** The document after the write. */
  readonly modified: Doc;
  /** The field paths the write sets. */
  fields(): readonly string[];
}

/** The refusal of a transaction's writes (NonRetriableError, cause PermissionDeniedError), or undefined. */
export type WritesPrecheck = (transactionId: string, writes: readonly PendingWrite[]) => Error | undefined;

/** One document's writes in a transaction. */
interface DocWrites {
  readonly first: PendingWrite;
  last: PendingWrite;
  more: PendingWrite[] | undefined;
}

/**
 * The pre-check of `evaluator` for `principal`; writes to collections `include` refuses are
 * not checked (they do not go to the server that enforces the rules). Throws ValidationError
 * for a principal that is neither claims nor a function.
 */
export function createWritesPrecheck(
  evaluator: RulesEvaluator,
  principal: PrincipalSource,
  include: (collection: string) => boolean = () => true,
): WritesPrecheck {
  if (principal === null || (typeof principal !== 'object' && typeof principal !== 'function'))
    throw new ValidationError(
      'createClient({ rules }) needs `principal`: the claims the server reads from this client\'s token (e.g. { sub: "u1" }), or a function returning them.',
    );
  const collections = evaluator.rules.collections;
  const refuse = (id: string, error: OmniSyncError) =>
    new NonRetriableError(
      `The rules refused transaction ${id} before it was sent: ${error.code}: ${error.message}`,
      { cause: error, details: { ...(error.details ?? {}), code: error.code } },
    );
  return (id, writes) => {
    if (writes.length === 0) return undefined;
    const p = typeof principal === 'function' ? principal() : principal;
    if (p === undefined || p === null) return undefined; // not known yet: the server decides
    if (typeof p !== 'object')
      return refuse(
        id,
        new ValidationError(
          `createClient({ principal }): the principal function returned ${typeof p}; return the token's claims object (or undefined).`,
        ),
      );
    for (const d of byDocument(writes)) {
      const { first, last } = d;
      if (!include(first.collection)) continue;
      const existed = first.type !== 'insert';
      const input: { -readonly [K in keyof WriteCheckInput]: WriteCheckInput[K] } = {
        collection: first.collection,
        operation: last.type === 'delete' ? 'delete' : existed ? 'update' : 'insert',
        principal: p,
        id: first.key,
      };
      // As the server: a document the server does not have yet is checked as `{ id }` when deleted.
      if (last.type === 'delete') input.old = existed ? first.original : { id: first.key };
      else {
        if (existed) input.old = first.original;
        input.new = last.modified;
        if (collections.get(first.collection)?.writeMask !== undefined) input.fields = fieldsOf(d);
      }
      try {
        evaluator.assertWrite(input);
      } catch (e) {
        return refuse(id, e instanceof OmniSyncError ? e : new ValidationError(String(e), { cause: e }));
      }
    }
    return undefined;
  };
}

/** A transaction's writes grouped by document, in first-write order. */
function byDocument(writes: readonly PendingWrite[]): Iterable<DocWrites> {
  if (writes.length === 1) return [{ first: writes[0]!, last: writes[0]!, more: undefined }];
  const docs = new Map<string, DocWrites>();
  for (const w of writes) {
    const k = `${w.collection}\u0000${w.key}`;
    const d = docs.get(k);
    if (d === undefined) docs.set(k, { first: w, last: w, more: undefined });
    else {
      (d.more ??= []).push(w);
      d.last = w;
    }
  }
  return docs.values();
}

/**
 * The field paths a document's writes set, as the server checks them against the write
 * mask: not `id` nor the delete marker, a set member (`tags[x]`) as its set (`tags`).
 */
function fieldsOf(d: DocWrites): string[] {
  const out = new Set<string>();
  for (const w of d.more ? [d.first, ...d.more] : [d.first])
    for (const f of w.fields())
      if (f !== DELETED_FIELD && f !== ID_FIELD)
        out.add(f.charCodeAt(f.length - 1) === 93 /* ] */ ? f.slice(0, f.indexOf('[')) : f);
  return [...out];
}
