/**
 * A {@link QuerySource} over plain Maps: for tests, benchmarks, servers that hold documents
 * in memory, and as the reference for what a source must do (replace a changed document's
 * object, never mutate it; report each change as a {@link DocChange}).
 */
import { NotFoundError, ValidationError } from '../errors.js';
import type { DocChange } from '../replica.js';
import type { QuerySource } from './view.js';

type Doc = Readonly<Record<string, unknown>>;

/** A writable in-memory source. Each write returns the change to pass to `applyChanges`. */
export interface MemorySource extends QuerySource {
  /** Insert (or replace) a document; it needs a string `id`. */
  insert(collection: string, doc: Doc): DocChange;
  /** Shallow-merge `patch` into a new object; keys set to undefined are removed. */
  update(collection: string, id: string, patch: Readonly<Record<string, unknown>>): DocChange;
  /** Remove a document. */
  delete(collection: string, id: string): DocChange;
  /** Number of documents in a collection. */
  size(collection: string): number;
}

/**
 * Create an in-memory source.
 * @example
 * const source = createMemorySource();
 * const engine = createQueryEngine(source);
 * engine.applyChanges([source.insert('todos', { id: 'a', title: 'x' })]);
 */
export function createMemorySource(): MemorySource {
  const collections = new Map<string, Map<string, Doc>>();
  const coll = (name: string) => {
    let m = collections.get(name);
    if (!m) collections.set(name, (m = new Map()));
    return m;
  };
  return {
    documents: (collection) => collections.get(collection)?.values() ?? [],
    get: (collection, id) => collections.get(collection)?.get(id),
    size: (collection) => collections.get(collection)?.size ?? 0,
    insert(collection, doc) {
      const id = doc.id;
      if (typeof id !== 'string' || id === '')
        throw new ValidationError(`insert into ${collection}: the document needs a non-empty string id.`);
      const m = coll(collection);
      const old = m.get(id);
      m.set(id, doc);
      if (!old) return { collection, id, kind: 'insert', fields: Object.keys(doc) };
      return {
        collection,
        id,
        kind: 'update',
        fields: [...new Set([...Object.keys(old), ...Object.keys(doc)])],
      };
    },
    update(collection, id, patch) {
      const m = coll(collection);
      const old = m.get(id);
      if (!old) throw new NotFoundError(`update ${collection}/${id}: no such document; insert it first.`);
      const next: Record<string, unknown> = { ...old };
      for (const [k, v] of Object.entries(patch)) {
        if (k === 'id') continue;
        if (v === undefined) delete next[k];
        else next[k] = v;
      }
      m.set(id, next);
      return { collection, id, kind: 'update', fields: Object.keys(patch).filter((k) => k !== 'id') };
    },
    delete(collection, id) {
      const m = coll(collection);
      if (!m.delete(id)) throw new NotFoundError(`delete ${collection}/${id}: no such document.`);
      return { collection, id, kind: 'delete', fields: [] };
    },
  };
}
