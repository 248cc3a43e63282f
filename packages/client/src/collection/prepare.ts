/**
 * Turning an app's write into a stamped mutation: validate (schema, ids, values), flatten
 * to cells, stamp with one HLC, and work out original / modified / changes. Everything that
 * can be wrong with a write throws here, before anything is applied.
 */
import {
  type CellValue,
  type CollectionDef,
  DELETED_FIELD,
  DuplicateKeyError,
  flattenDocument,
  type HlcClock,
  ID_FIELD,
  inexactKeyReason,
  isExactKey,
  isValidId,
  NAME_MAX_LENGTH,
  NotFoundError,
  validateDocument,
  ValidationError,
} from '@omnisync/core';
import type { ClientStore, Slot } from '../store/client-store.js';
import { applyData, changedTopLevel, cloneDeep, diffFlat, materialize } from '../store/doc-ops.js';
import { EMPTY_DOC, FROM_DOC, MutationRecord } from '../transactions/mutation.js';
import type { Transaction } from '../transactions/transaction.js';
import type { Doc } from '../types.js';

/** What preparing a write needs to know. */
export interface PrepareContext {
  readonly collection: string;
  readonly store: ClientStore;
  readonly hlc: HlcClock;
  readonly def: CollectionDef<string, any, any> | undefined;
  readonly refMany: ReadonlySet<string> | undefined;
  readonly metadata: unknown;
  readonly createdAt: Date;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const p = Object.getPrototypeOf(v);
  return p === Object.prototype || p === null;
};

const received = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v);

/** A write's fields as `[field, value, …]` (the id field first for an insert). */
function toData(id: string, pairs: readonly (readonly [string, CellValue])[], withId: boolean): unknown[] {
  const data: unknown[] = new Array(2 * pairs.length + (withId ? 2 : 0));
  let i = 0;
  if (withId) {
    data[i++] = ID_FIELD;
    data[i++] = id;
  }
  for (const [field, value] of pairs) {
    data[i++] = field;
    data[i++] = value;
  }
  return data;
}

/** Flatten options of a collection without refMany fields (shared: read only). */
const NO_OPTIONS: { refMany?: ReadonlySet<string> } = Object.freeze({});

/**
 * Refuse an id no storage keeps exactly (U+0000, a lone UTF-16 surrogate) at write time, so
 * it never enters the outbox (the server would refuse the transaction after the round trip).
 */
function checkExactId(id: string, what: string, collection: string): void {
  if (!isExactKey(id))
    throw new ValidationError(`${what}: the id ${JSON.stringify(id)} ${inexactKeyReason(id)}.`, {
      details: { collection },
    });
}

const SEPARATORS = /[.[\]]/;
/** Top-level keys already checked (documents of a collection repeat the same few keys). */
const simpleKeys = new Set<string>();
const SIMPLE_KEYS_MAX = 4096;

function isSimpleKey(k: string): boolean {
  if (simpleKeys.has(k)) return true;
  if (
    k.length === 0 ||
    k.length > NAME_MAX_LENGTH ||
    SEPARATORS.test(k) ||
    k === '__proto__' ||
    k === DELETED_FIELD ||
    !isExactKey(k)
  )
    return false;
  if (simpleKeys.size < SIMPLE_KEYS_MAX) simpleKeys.add(k);
  return true;
}

/**
 * The common case without core's general flatten: a flat document whose values are strings,
 * finite numbers, booleans or null, under plain keys, copied as the stored document (its
 * fields are its cells: see FROM_DOC). Anything else: undefined, and the caller takes the
 * general path, which decides (and explains) what is allowed.
 */
function simpleDocument(id: string, doc: Record<string, unknown>): Doc | undefined {
  // Check first, copy after: a document of own keys whose first key is `id` (the usual
  // literal) is copied by spread, which V8 clones with the source's layout.
  let first: string | undefined;
  let inherited = false;
  for (const k in doc) {
    if (!Object.hasOwn(doc, k)) {
      inherited = true;
      continue;
    }
    first ??= k;
    if (k === ID_FIELD) continue;
    if (!isSimpleValue(doc[k]) || !isSimpleKey(k)) return undefined;
  }
  if (first === ID_FIELD && !inherited) return { ...doc } as Doc;
  const out: Record<string, unknown> = { id };
  for (const k in doc) if (k !== ID_FIELD && Object.hasOwn(doc, k)) out[k] = doc[k];
  return out as Doc;
}

/** A string, boolean, finite number or null: a value stored as one cell as it is. */
function isSimpleValue(v: unknown): boolean {
  const t = typeof v;
  return t === 'string' || t === 'boolean' || (t === 'number' && Number.isFinite(v)) || v === null;
}

/**
 * The HLC of a write. Every write of a transaction shares the transaction's stamp (its id,
 * itself an HLC stamp): cells of different documents never compete. A second write to the
 * same document in the same transaction takes a fresh stamp, so it wins over the first.
 */
function stampFor(
  ctx: PrepareContext,
  tx: Transaction,
  collection: string,
  id: string,
  mayRepeat: boolean,
): string {
  // An optimistic write is re-stamped by the store if it finds an earlier write of the same
  // transaction on the document (ClientStore.applyOptimistic): no second lookup here.
  // A pessimistic write is not in the overlay: look through its transaction's writes.
  if (mayRepeat && !tx.optimistic && wroteBefore(tx, collection, id)) return ctx.hlc.now();
  return tx.id;
}

function wroteBefore(tx: Transaction, collection: string, id: string): boolean {
  const records = tx.records;
  for (let i = 0; i < records.length; i++)
    if (records[i]!.key === id && records[i]!.collection === collection) return true;
  return false;
}

/**
 * A flat patch of primitive values under plain keys, as write data (`[field, value, …]`);
 * undefined for anything else.
 */
function simpleData(patch: Record<string, unknown>): unknown[] | undefined {
  let n = 0;
  for (const k in patch) {
    if (!Object.hasOwn(patch, k)) continue;
    if (!isSimpleValue(patch[k]) || !isSimpleKey(k)) return undefined;
    n++;
  }
  // Sized once: a patch is usually a field or two, and a grown array would carry spare room.
  const out: unknown[] = new Array(2 * n);
  let i = 0;
  for (const k in patch) {
    if (!Object.hasOwn(patch, k)) continue;
    out[i++] = k;
    out[i++] = patch[k];
  }
  return out;
}

/** Prepare a batch of writes: every one is checked before any is applied. */
export function prepareBatch<T>(
  items: readonly T[],
  prepare: (item: T, i: number) => MutationRecord,
): MutationRecord[] {
  const out: MutationRecord[] = new Array(items.length);
  for (let i = 0; i < items.length; i++) out[i] = prepare(items[i]!, i);
  return out;
}

/** An insert. Throws ValidationError / SchemaError / InvalidValueError / DuplicateKeyError. */
export function prepareInsert(
  ctx: PrepareContext,
  tx: Transaction,
  input: unknown,
  seen: Set<string> | undefined,
  offset = 0,
): MutationRecord {
  // Read before any user code (schema) runs: a nested write would refresh the shared context.
  const { collection, metadata, createdAt } = ctx;
  if (!isPlainObject(input))
    throw new ValidationError(
      `insert into "${collection}": expected a document (a plain object with an id), received ${received(input)}.`,
      {
        details: { collection },
      },
    );
  const doc = ctx.def ? (validateDocument(ctx.def, input) as Record<string, unknown>) : input;
  const id = doc[ID_FIELD];
  if (!isValidId(id))
    throw new ValidationError(
      `insert into "${collection}": the document needs an \`id\` that is a non-empty string of at most 512 characters, received ${JSON.stringify(id)}.`,
      { details: { collection } },
    );
  checkExactId(id, `insert into "${collection}"`, collection);
  const taken = ctx.store.idState(collection, id);
  if (taken !== 'free' || seen?.has(id))
    throw new DuplicateKeyError(
      taken === 'deleted'
        ? `insert into "${collection}": id ${JSON.stringify(id)} belongs to a deleted document, and deletes are final (delete wins); insert under a new id.`
        : `insert into "${collection}": a document with id ${JSON.stringify(id)} already exists; update it instead, or insert under a new id.`,
      { details: { collection, id } },
    );
  seen?.add(id);
  const hlc = stampFor(ctx, tx, collection, id, false);
  let data: unknown[] | typeof FROM_DOC;
  let modified = ctx.refMany ? undefined : simpleDocument(id, doc);
  if (modified !== undefined) data = FROM_DOC;
  else {
    const flat = toData(id, flattenDocument(doc, ctx.refMany ? { refMany: ctx.refMany } : {}), true);
    modified = materialize(id, flat, hlc);
    data = flat;
  }
  return new MutationRecord(
    tx,
    tx.records.length + offset,
    'insert',
    collection,
    id,
    hlc,
    EMPTY_DOC,
    modified,
    modified,
    data,
    metadata,
    createdAt,
  );
}

/** An update by patch (deep-merged, like cells) or by a draft function. Throws NotFoundError if missing. */
export function prepareUpdate(
  ctx: PrepareContext,
  tx: Transaction,
  id: unknown,
  change: unknown,
): MutationRecord {
  const { collection, metadata, createdAt } = ctx;
  if (!isValidId(id))
    throw new ValidationError(
      `update of "${collection}": the id must be a non-empty string, received ${JSON.stringify(id)}.`,
      {
        details: { collection },
      },
    );
  checkExactId(id, `update of "${collection}"`, collection);
  const slot = ctx.store.slot(collection, id);
  const current = slot?.visible;
  if (current === undefined)
    throw new NotFoundError(
      `update of "${collection}": no document with id ${JSON.stringify(id)}; insert it first.`,
      {
        details: { collection, id },
      },
    );
  const opts = ctx.refMany ? { refMany: ctx.refMany } : NO_OPTIONS;
  let pairs: [string, CellValue][] | undefined;
  let data: unknown[] | undefined;
  let changes: Record<string, unknown>;
  if (typeof change === 'function') {
    const draft = cloneDeep(current) as Record<string, unknown>;
    const returned = (change as (d: Record<string, unknown>) => unknown)(draft);
    const next = returned === undefined ? draft : returned;
    if (!isPlainObject(next))
      throw new ValidationError(
        `update of "${collection}/${id}": the draft function returned ${received(next)}; change the draft in place, or return a document.`,
        {
          details: { collection, id },
        },
      );
    if (next[ID_FIELD] !== id)
      throw new ValidationError(
        `update of "${collection}/${id}": the id of a document cannot change; insert a new document instead.`,
        {
          details: { collection, id },
        },
      );
    const keys = changedTopLevel(current, next);
    changes = {};
    for (const k of keys) changes[k] = next[k];
    pairs = diffPairs(ctx, current, next, keys, opts);
  } else {
    if (!isPlainObject(change))
      throw new ValidationError(
        `update of "${collection}/${id}": expected a patch object or a draft function, received ${received(change)}.`,
        {
          details: { collection, id },
        },
      );
    if (Object.hasOwn(change, ID_FIELD) && change[ID_FIELD] !== id)
      throw new ValidationError(
        `update of "${collection}/${id}": the id of a document cannot change; insert a new document instead.`,
        {
          details: { collection, id },
        },
      );
    changes = { ...change };
    if (Object.hasOwn(changes, ID_FIELD)) delete changes[ID_FIELD];
    if (ctx.refMany === undefined && ctx.def === undefined) data = simpleData(changes);
    if (data === undefined) pairs = flattenDocument(changes, opts);
    if (ctx.refMany) pairs = withRemovedMembers(pairs!, current, changes, ctx.refMany);
    if (ctx.def) {
      // Patches merge deeply, as cells do; the schema judges the merged document.
      const next = applyData(current, toData(id, pairs!, false));
      pairs = diffPairs(ctx, current, next, Object.keys(changes), opts);
    }
  }
  const hlc = stampFor(ctx, tx, collection, id, true);
  data ??= toData(id, pairs!, false);
  const modified = applyData(current, data);
  return withSlot(
    tx,
    slot!,
    new MutationRecord(
      tx,
      tx.records.length,
      'update',
      collection,
      id,
      hlc,
      current,
      modified,
      changes,
      data,
      metadata,
      createdAt,
    ),
  );
}

/**
 * An optimistic write is applied right after it is prepared: it carries the store slot of its
 * document, found here, so applying it needs no second lookup. (A pessimistic one is never on
 * the overlay, so it carries none.)
 */
function withSlot(tx: Transaction, slot: Slot, m: MutationRecord): MutationRecord {
  if (tx.optimistic) m.slot = slot;
  return m;
}

/**
 * Cells for an update whose result is `next`: validated through the schema (when there is
 * one), restricted to the top-level keys the write touched plus defaults the schema added,
 * so a key a validator strips (unknown to this client's schema) is never deleted.
 */
function diffPairs(
  ctx: PrepareContext,
  current: Doc,
  next: Record<string, unknown>,
  touched: readonly string[],
  opts: { refMany?: ReadonlySet<string> },
): [string, CellValue][] {
  let target = next;
  if (ctx.def) {
    const validated = validateDocument(ctx.def, next) as Record<string, unknown>;
    const keep = new Set(touched);
    for (const k of Object.keys(validated)) if (!(k in current)) keep.add(k);
    target = { ...current };
    for (const k of keep) {
      if (k === ID_FIELD) continue;
      if (validated[k] === undefined) delete target[k];
      else target[k] = validated[k];
    }
  }
  return diffFlat(flattenDocument(current, opts), flattenDocument(target, opts));
}

/** A refMany field set by a patch replaces the set: members no longer listed are removed. */
function withRemovedMembers(
  pairs: [string, CellValue][],
  current: Doc,
  patch: Record<string, unknown>,
  refMany: ReadonlySet<string>,
): [string, CellValue][] {
  for (const path of refMany) {
    if (path.includes('.') || !Object.hasOwn(patch, path)) continue;
    const before = current[path];
    if (!Array.isArray(before)) continue;
    const after = new Set(Array.isArray(patch[path]) ? (patch[path] as unknown[]) : []);
    for (const m of before) if (!after.has(m)) pairs.push([`${path}[${String(m)}]`, false]);
  }
  return pairs;
}

/** A delete. Throws NotFoundError if missing. */
export function prepareDelete(ctx: PrepareContext, tx: Transaction, id: unknown, offset = 0): MutationRecord {
  const { collection } = ctx;
  if (!isValidId(id))
    throw new ValidationError(
      `delete from "${collection}": the id must be a non-empty string, received ${JSON.stringify(id)}.`,
      {
        details: { collection },
      },
    );
  checkExactId(id, `delete from "${collection}"`, collection);
  const slot = ctx.store.slot(collection, id);
  const current = slot?.visible;
  if (current === undefined)
    throw new NotFoundError(`delete from "${collection}": no document with id ${JSON.stringify(id)}.`, {
      details: { collection, id },
    });
  const hlc = stampFor(ctx, tx, collection, id, true);
  const data: unknown[] = [DELETED_FIELD, true];
  return withSlot(
    tx,
    slot!,
    new MutationRecord(
      tx,
      tx.records.length + offset,
      'delete',
      collection,
      id,
      hlc,
      current,
      current,
      {},
      data,
      ctx.metadata,
      ctx.createdAt,
    ),
  );
}
