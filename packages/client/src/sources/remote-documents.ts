/**
 * Plain authoritative documents (seed 001's sync data) to cells. A document replaces the
 * synced one: its fields are written, and fields the synced document has but it lacks are
 * unset, all under one HLC taken on arrival (the backend's order is the order of truth).
 */
import {
  type Cell,
  DELETED_FIELD,
  flattenDocument,
  ID_FIELD,
  isValidId,
  ValidationError,
} from '@omnisync/core';
import type { Replica } from '@omnisync/core';
import type { RemoteDocument, RemoteDocuments } from './types.js';

/** One remote document by id; `null` deletes. */
export type RemoteEntry = readonly [id: string, doc: RemoteDocument | null];

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Normalise an array or record of documents to entries; throws ValidationError naming a bad one. */
export function remoteEntries(collection: string, docs: RemoteDocuments): RemoteEntry[] {
  const out: RemoteEntry[] = [];
  if (Array.isArray(docs)) {
    (docs as readonly unknown[]).forEach((d, i) => {
      if (!isRecord(d))
        throw new ValidationError(`sync data for "${collection}": item #${i} is not a document object.`, {
          details: { collection },
        });
      if (!isValidId(d[ID_FIELD]))
        throw new ValidationError(
          `sync data for "${collection}": item #${i} has no valid string id (got ${JSON.stringify(d[ID_FIELD])}).`,
          {
            details: { collection },
          },
        );
      out.push([d[ID_FIELD] as string, d[DELETED_FIELD] === true ? null : d]);
    });
    return out;
  }
  if (!isRecord(docs))
    throw new ValidationError(
      `sync data for "${collection}" must be an array of documents or a record of id → document, received ${typeof docs}.`,
      {
        details: { collection },
      },
    );
  for (const [id, d] of Object.entries(docs)) {
    if (!isValidId(id))
      throw new ValidationError(
        `sync data for "${collection}": key ${JSON.stringify(id)} is not a valid id.`,
        { details: { collection } },
      );
    if (d === null || d === undefined) {
      out.push([id, null]);
      continue;
    }
    if (!isRecord(d))
      throw new ValidationError(
        `sync data for "${collection}": ${JSON.stringify(id)} is not a document object.`,
        { details: { collection, id } },
      );
    if (d[ID_FIELD] !== undefined && d[ID_FIELD] !== id)
      throw new ValidationError(
        `sync data for "${collection}": key ${JSON.stringify(id)} holds a document with id ${JSON.stringify(d[ID_FIELD])}.`,
        {
          details: { collection, id },
        },
      );
    out.push([id, d[DELETED_FIELD] === true ? null : d]);
  }
  return out;
}

/** Cells that make the base's document `id` equal `doc` (or deleted). Throws InvalidValueError on an unstorable value. */
export function documentCells(
  base: Replica,
  collection: string,
  entry: RemoteEntry,
  hlc: string,
  refMany: ReadonlySet<string> | undefined,
): Cell[] {
  const [id, doc] = entry;
  if (doc === null) return [{ collection, id, field: DELETED_FIELD, value: true, hlc }];
  const pairs = flattenDocument(doc, refMany ? { refMany } : {});
  // The id cell only makes a document exist: write it when it does not (yet) in the base.
  const cells: Cell[] = base.has(collection, id) ? [] : [{ collection, id, field: ID_FIELD, value: id, hlc }];
  const written = new Set<string>();
  for (const [field, value] of pairs) {
    cells.push({ collection, id, field, value, hlc });
    written.add(field);
  }
  const stored = base.fields(collection, id);
  if (stored)
    for (const [field, slot] of stored) {
      if (field === ID_FIELD || written.has(field) || slot.value === undefined) continue;
      const member = field.endsWith(']');
      if (member && slot.value === false) continue;
      cells.push({ collection, id, field, value: member ? false : undefined, hlc });
    }
  return cells;
}
