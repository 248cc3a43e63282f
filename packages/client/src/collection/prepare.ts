/**
 * Turning an app's write into a stamped mutation: validate (schema, ids, values), flatten
 * to cells, stamp with one HLC, and work out original / modified / changes. Everything that
 * can be wrong with a write throws here, before anything is applied.
 */
import {
  type Cell,
  type CellValue,
  type CollectionDef,
  DELETED_FIELD,
  DuplicateKeyError,
  flattenDocument,
  type HlcClock,
  ID_FIELD,
  isValidId,
  NotFoundError,
  validateDocument,
  ValidationError,
} from '@omnisync/core';
import type { ClientStore } from '../store/client-store.js';
import { applyCells, changedTopLevel, cloneDeep, diffFlat, materialize } from '../store/doc-ops.js';
import { EMPTY_DOC, MutationRecord } from '../transactions/mutation.js';
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

function toCells(
  collection: string,
  id: string,
  hlc: string,
  pairs: readonly (readonly [string, CellValue])[],
  withId: boolean,
): Cell[] {
  const cells: Cell[] = new Array(pairs.length + (withId ? 1 : 0));
  let i = 0;
  if (withId) cells[i++] = { collection, id, field: ID_FIELD, value: id, hlc };
  for (const [field, value] of pairs) cells[i++] = { collection, id, field, value, hlc };
  return cells;
}

function nextMutationId(tx: Transaction): string {
  return `${tx.id}:${tx.records.length + pendingCount(tx)}`;
}

// Writes prepared in one call (insert([...])) are added together after all are checked.
const preparing = new WeakMap<Transaction, number>();
const pendingCount = (tx: Transaction) => preparing.get(tx) ?? 0;

/** Prepare a batch: ids of the mutations count the ones prepared before it in the same call. */
export function prepareBatch<T>(
  tx: Transaction,
  items: readonly T[],
  prepare: (item: T, i: number) => MutationRecord,
): MutationRecord[] {
  const out: MutationRecord[] = new Array(items.length);
  try {
    for (let i = 0; i < items.length; i++) {
      preparing.set(tx, i);
      out[i] = prepare(items[i]!, i);
    }
  } finally {
    preparing.delete(tx);
  }
  return out;
}

/** An insert. Throws ValidationError / SchemaError / InvalidValueError / DuplicateKeyError. */
export function prepareInsert(
  ctx: PrepareContext,
  tx: Transaction,
  input: unknown,
  seen: Set<string> | undefined,
): MutationRecord {
  const { collection } = ctx;
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
  if (ctx.store.has(collection, id) || seen?.has(id))
    throw new DuplicateKeyError(
      `insert into "${collection}": a document with id ${JSON.stringify(id)} already exists; update it instead, or insert under a new id.`,
      {
        details: { collection, id },
      },
    );
  if (ctx.store.isDeleted(collection, id))
    throw new DuplicateKeyError(
      `insert into "${collection}": id ${JSON.stringify(id)} belonged to a deleted document, and deletes are final (delete wins); insert under a new id.`,
      { details: { collection, id } },
    );
  seen?.add(id);
  const pairs = flattenDocument(doc, ctx.refMany ? { refMany: ctx.refMany } : {});
  const hlc = ctx.hlc.now();
  const cells = toCells(collection, id, hlc, pairs, true);
  const modified = materialize(id, cells);
  return new MutationRecord(
    tx,
    nextMutationId(tx),
    'insert',
    collection,
    id,
    hlc,
    EMPTY_DOC,
    modified,
    modified,
    cells,
    ctx.metadata,
    ctx.createdAt,
  );
}

/** An update by patch (deep-merged, like cells) or by a draft function. Throws NotFoundError if missing. */
export function prepareUpdate(
  ctx: PrepareContext,
  tx: Transaction,
  id: unknown,
  change: unknown,
): MutationRecord {
  const { collection } = ctx;
  if (!isValidId(id))
    throw new ValidationError(
      `update of "${collection}": the id must be a non-empty string, received ${JSON.stringify(id)}.`,
      {
        details: { collection },
      },
    );
  const current = ctx.store.get(collection, id);
  if (current === undefined)
    throw new NotFoundError(
      `update of "${collection}": no document with id ${JSON.stringify(id)}; insert it first.`,
      {
        details: { collection, id },
      },
    );
  const opts = ctx.refMany ? { refMany: ctx.refMany } : {};
  let pairs: [string, CellValue][];
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
    delete changes[ID_FIELD];
    pairs = flattenDocument(changes, opts);
    if (ctx.refMany) pairs = withRemovedMembers(pairs, current, changes, ctx.refMany);
    if (ctx.def) {
      // Patches merge deeply, as cells do; the schema judges the merged document.
      const next = applyCells(current, toCells(collection, id, '', pairs, false));
      pairs = diffPairs(ctx, current, next, Object.keys(changes), opts);
    }
  }
  const hlc = ctx.hlc.now();
  const cells = toCells(collection, id, hlc, pairs, false);
  const modified = applyCells(current, cells);
  return new MutationRecord(
    tx,
    nextMutationId(tx),
    'update',
    collection,
    id,
    hlc,
    current,
    modified,
    changes,
    cells,
    ctx.metadata,
    ctx.createdAt,
  );
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
export function prepareDelete(ctx: PrepareContext, tx: Transaction, id: unknown): MutationRecord {
  const { collection } = ctx;
  if (!isValidId(id))
    throw new ValidationError(
      `delete from "${collection}": the id must be a non-empty string, received ${JSON.stringify(id)}.`,
      {
        details: { collection },
      },
    );
  const current = ctx.store.get(collection, id);
  if (current === undefined)
    throw new NotFoundError(`delete from "${collection}": no document with id ${JSON.stringify(id)}.`, {
      details: { collection, id },
    });
  const hlc = ctx.hlc.now();
  const cells: Cell[] = [{ collection, id, field: DELETED_FIELD, value: true, hlc }];
  return new MutationRecord(
    tx,
    nextMutationId(tx),
    'delete',
    collection,
    id,
    hlc,
    current,
    current,
    {},
    cells,
    ctx.metadata,
    ctx.createdAt,
  );
}
