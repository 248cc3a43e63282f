/**
 * Field indexes over one collection, created lazily when a query needs one and dropped
 * when the last query using it goes away. Both kinds hold the source's document objects
 * (no copies), so an index costs a few bytes per document.
 *
 * - {@link HashIndex}: field value → documents (eq, in, reverse includes). An array value
 *   is indexed under each member (contains, refMany reverse includes); candidates are
 *   always re-checked against the full predicate.
 * - {@link SortedIndex}: a B+ tree of documents ordered by (fields…, id), optionally
 *   partial: only the documents whose pinned fields hold given values (a query's required
 *   equalities), so `completed = false ORDER BY createdAt` indexes half the collection and
 *   its window is a plain prefix scan. Serves ordered scans and top-K window refills in
 *   O(log n + k).
 */
import type { OrderTerm } from './ast.js';
import { createTree, type Tree, treeFromSorted } from './btree.js';
import { compileComparator, type Doc, type DocComparator } from './compile.js';
import { type FieldGetter, fieldGetter, valueKey } from './values.js';

/** field value → documents holding it. */
export class HashIndex {
  readonly field: string;
  /** Number of views using this index. */
  refs = 0;
  readonly #get: FieldGetter;
  readonly #buckets = new Map<unknown, Set<Doc>>();

  constructor(field: string, docs: Iterable<Doc>) {
    this.field = field;
    this.#get = fieldGetter(field);
    this.rebuild(docs);
  }

  /** Rebuild from scratch (after a bulk change). */
  rebuild(docs: Iterable<Doc>): void {
    this.#buckets.clear();
    for (const d of docs) this.#add(d, this.#get(d));
  }

  #add(doc: Doc, v: unknown): void {
    if (Array.isArray(v)) {
      for (const m of new Set(v.map(valueKey))) this.#addKey(m, doc);
    } else this.#addKey(valueKey(v), doc);
  }

  #addKey(k: unknown, doc: Doc): void {
    let b = this.#buckets.get(k);
    if (!b) this.#buckets.set(k, (b = new Set()));
    b.add(doc);
  }

  #remove(doc: Doc, v: unknown): void {
    if (Array.isArray(v)) {
      for (const m of new Set(v.map(valueKey))) this.#removeKey(m, doc);
    } else this.#removeKey(valueKey(v), doc);
  }

  #removeKey(k: unknown, doc: Doc): void {
    const b = this.#buckets.get(k);
    if (!b) return;
    b.delete(doc);
    if (b.size === 0) this.#buckets.delete(k);
  }

  /** Replace `before` with `after` (either may be undefined). */
  update(before: Doc | undefined, after: Doc | undefined): void {
    const vb = before ? this.#get(before) : undefined;
    const va = after ? this.#get(after) : undefined;
    if (before && after && vb === va && !Array.isArray(vb)) {
      // Same key: swap the object in its bucket (the common "other field changed" case).
      const b = this.#buckets.get(valueKey(vb));
      if (b) {
        b.delete(before);
        b.add(after);
        return;
      }
    }
    if (before) this.#remove(before, vb);
    if (after) this.#add(after, va);
  }

  /** Documents whose field equals `value` (or, for arrays, contains it). */
  lookup(value: unknown): ReadonlySet<Doc> | undefined {
    return this.#buckets.get(valueKey(value));
  }

  /** Number of distinct keys. */
  get keys(): number {
    return this.#buckets.size;
  }
}

/** Field → value pins of a partial index (required equalities; non-null scalars). */
export type Pins = ReadonlyMap<string, string | number | boolean>;

/** The identity of a sorted index: its pins and terms. */
export function sortedIndexKey(terms: readonly OrderTerm[], pins: Pins): string {
  const p = [...pins].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([f, v]) => `${f}=${JSON.stringify(v)}`);
  return `${p.join('&')}|${terms.map((t) => `${t.field}:${t.dir}`).join('|')}`;
}

/** Documents (all, or those matching the pins) in a B+ tree ordered by terms, then id. */
export class SortedIndex {
  readonly key: string;
  readonly terms: readonly OrderTerm[];
  readonly pins: Pins;
  readonly compare: DocComparator;
  /** Number of views using this index. */
  refs = 0;
  readonly #pinned: readonly [FieldGetter, unknown][];
  #tree: Tree<Doc, undefined>;

  constructor(terms: readonly OrderTerm[], pins: Pins, docs: Iterable<Doc>) {
    this.terms = terms;
    this.pins = pins;
    this.key = sortedIndexKey(terms, pins);
    this.compare = compileComparator(terms);
    this.#pinned = [...pins].map(([f, v]) => [fieldGetter(f), v]);
    this.#tree = this.#build(docs);
  }

  /** Does `doc` belong in this index? */
  holds(doc: Doc): boolean {
    const p = this.#pinned;
    for (let i = 0; i < p.length; i++) if (p[i]![0](doc) !== p[i]![1]) return false;
    return true;
  }

  #build(docs: Iterable<Doc>): Tree<Doc, undefined> {
    const arr: Doc[] = [];
    if (this.#pinned.length === 0) for (const d of docs) arr.push(d);
    else for (const d of docs) if (this.holds(d)) arr.push(d);
    arr.sort(this.compare);
    return treeFromSorted(arr, this.compare);
  }

  /** Rebuild from scratch (after a bulk change, cheaper than one insert per document). */
  rebuild(docs: Iterable<Doc>): void {
    this.#tree = this.#build(docs);
  }

  /** Replace `before` with `after` (either may be undefined). */
  update(before: Doc | undefined, after: Doc | undefined): void {
    const t = this.#tree;
    const b = before !== undefined && this.holds(before);
    const a = after !== undefined && this.holds(after);
    if (b && a && this.compare(before, after) === 0) {
      // Same position: overwriting also replaces the stored key object.
      t.set(after, undefined, true);
      return;
    }
    if (b) t.delete(before);
    if (a) t.set(after, undefined, true);
  }

  /** Documents from the first key ≥ `from` (or the smallest) upward. */
  keysFrom(from: Doc | undefined): IterableIterator<Doc> {
    return this.#tree.keys(from);
  }

  /** Number of documents. */
  get size(): number {
    return this.#tree.size;
  }
}

/** A fresh empty tree ordered like `compare`, for per-view sorted results. */
export function createDocTree(compare: DocComparator): Tree<Doc, undefined> {
  return createTree(compare);
}
