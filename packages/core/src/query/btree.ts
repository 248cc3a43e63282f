/**
 * The B+ tree (sorted-btree) behind sorted indexes and sorted results, loaded the same way
 * under native Node ESM (where a CommonJS default export arrives as `module.exports`) and
 * under bundlers (which unwrap `exports.default`).
 */
import BTreeModule from 'sorted-btree';
import { bulkLoad } from 'sorted-btree/extended/bulkLoad.js';

type BTreeCtor = typeof BTreeModule.default;

/** A sorted-btree B+ tree. */
export type Tree<K, V> = import('sorted-btree').default<K, V>;

const Ctor: BTreeCtor =
  (BTreeModule as unknown as { default?: BTreeCtor }).default ?? (BTreeModule as unknown as BTreeCtor);

/** Branching factor: wide nodes keep 100k-key trees shallow (3 levels) and small. */
export const TREE_NODE_SIZE = 64;

/** An empty tree set ordered by `compare`. */
export function createTree<K>(compare: (a: K, b: K) => number): Tree<K, undefined> {
  return new Ctor<K, undefined>(undefined, compare, TREE_NODE_SIZE);
}

/** A tree set from keys already sorted strictly ascending by `compare`, built in O(n). */
export function treeFromSorted<K>(keys: K[], compare: (a: K, b: K) => number): Tree<K, undefined> {
  if (keys.length < TREE_NODE_SIZE) {
    const t = createTree(compare);
    for (const k of keys) t.set(k, undefined);
    return t;
  }
  return bulkLoad<K, undefined>(keys, new Array<undefined>(keys.length), TREE_NODE_SIZE, compare, 0.9);
}
