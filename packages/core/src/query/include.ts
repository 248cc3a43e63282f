/**
 * Includes: related documents attached to result rows under the relation's name, to any
 * depth. A row with includes is a derived object `{ ...doc, owner, comments }`, rebuilt
 * only when its document or one of its parts changed; otherwise the previous object (and
 * the previous arrays inside it) is returned, so identity says "unchanged".
 *
 * Incremental upkeep: while decorating a top-level row the tracker records what it read
 * as dependency keys (`users␀u1` for a document by id, `comments␁postId␁p1` for "the
 * comments whose postId is p1"). A change in an included collection maps to the keys it
 * can affect, hence to exactly the rows to rebuild.
 */
import type { IncludeSpec } from './ast.js';
import type { Change } from './collection-state.js';
import {
  compileComparator,
  compilePredicate,
  type Doc,
  type DocComparator,
  type DocPredicate,
} from './compile.js';
import { type FieldGetter, fieldGetter } from './values.js';

/** How includes read related documents. */
export interface IncludeReader {
  get(collection: string, id: string): Doc | undefined;
  /** Documents of `collection` whose `field` equals `id` or (arrays) contains it. Superset allowed. */
  referencing(collection: string, field: string, id: string): Iterable<Doc>;
}

/** A compiled include. */
export interface IncludeNode {
  readonly name: string;
  readonly kind: 'ref' | 'many' | 'reverse';
  readonly collection: string;
  /** ref/many: the field holding the id(s); reverse: the field on the other side. */
  readonly field: string;
  readonly get: FieldGetter;
  readonly pred: DocPredicate | undefined;
  readonly cmp: DocComparator | undefined;
  readonly limit: number | undefined;
  readonly children: readonly IncludeNode[];
}

/** Compile an include map. */
export function compileIncludes(include: Readonly<Record<string, IncludeSpec>> | undefined): IncludeNode[] {
  if (!include) return [];
  return Object.keys(include).map((name) => {
    const s = include[name]!;
    const kind = s.references !== undefined ? 'reverse' : s.many ? 'many' : 'ref';
    const field = (s.references ?? s.on)!;
    return {
      name,
      kind,
      collection: s.collection,
      field,
      get: fieldGetter(field),
      pred: s.where ? compilePredicate(s.where) : undefined,
      // reverse rows are ordered by id by default; refMany keeps the field's order unless told.
      cmp: s.orderBy || kind === 'reverse' ? compileComparator(s.orderBy ?? []) : undefined,
      limit: s.limit,
      children: compileIncludes(s.include),
    } satisfies IncludeNode;
  });
}

/** Every (collection, field) read by reverse includes, and every included collection. */
export function includeFootprint(
  nodes: readonly IncludeNode[],
  out = { collections: new Set<string>(), reverse: new Map<string, Set<string>>() },
) {
  for (const n of nodes) {
    out.collections.add(n.collection);
    if (n.kind === 'reverse') {
      let s = out.reverse.get(n.collection);
      if (!s) out.reverse.set(n.collection, (s = new Set()));
      s.add(n.field);
    }
    includeFootprint(n.children, out);
  }
  return out;
}

const baseOf = new WeakMap<object, Doc>();

/** The dependency key of "document `id` of `collection`". */
export const refKey = (collection: string, id: string) => `${collection}\u0000${id}`;
/** The dependency key of "documents of `collection` whose `field` references `id`". */
export const reverseKey = (collection: string, field: string, id: string) =>
  `${collection}\u0001${field}\u0001${id}`;

function refersTo(v: unknown, id: string): boolean {
  return v === id || (Array.isArray(v) && v.includes(id));
}

function sameArray(a: unknown, b: readonly unknown[]): boolean {
  if (!Array.isArray(a) || a.length !== b.length) return false;
  for (let i = 0; i < b.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function prevById(prev: unknown): Map<string, Doc> | undefined {
  if (!Array.isArray(prev) || prev.length === 0) return undefined;
  const m = new Map<string, Doc>();
  for (const r of prev as Doc[]) m.set(r.id as string, r);
  return m;
}

/**
 * Decorate `doc` with its includes. `prev` is the row previously built for the same id (it
 * is returned as is when nothing in it changed); `deps` collects dependency keys.
 */
export function decorate(
  nodes: readonly IncludeNode[],
  doc: Doc,
  prev: Doc | undefined,
  reader: IncludeReader,
  deps: string[] | undefined,
): Doc {
  if (nodes.length === 0) return doc;
  const values: unknown[] = new Array(nodes.length);
  let same = prev !== undefined && baseOf.get(prev) === doc;
  for (let i = 0; i < nodes.length; i++) {
    const n = nodes[i]!;
    const old = prev?.[n.name];
    const v = includeValue(n, doc, old, reader, deps);
    values[i] = v;
    if (same && v !== old) same = false;
  }
  if (same) return prev!;
  const row: Record<string, unknown> = { ...doc };
  for (let i = 0; i < nodes.length; i++) row[nodes[i]!.name] = values[i];
  baseOf.set(row, doc);
  return row;
}

function one(
  n: IncludeNode,
  target: Doc | undefined,
  old: unknown,
  reader: IncludeReader,
  deps: string[] | undefined,
): Doc | undefined {
  if (!target || (n.pred && !n.pred(target))) return undefined;
  const prev =
    old !== null && typeof old === 'object' && (old as Doc).id === target.id ? (old as Doc) : undefined;
  return decorate(n.children, target, prev, reader, deps);
}

function includeValue(
  n: IncludeNode,
  doc: Doc,
  old: unknown,
  reader: IncludeReader,
  deps: string[] | undefined,
): unknown {
  if (n.kind === 'ref') {
    const id = n.get(doc);
    if (typeof id !== 'string') return null;
    deps?.push(refKey(n.collection, id));
    return one(n, reader.get(n.collection, id), old, reader, deps) ?? null;
  }
  let out: Doc[] = [];
  if (n.kind === 'many') {
    const ids = n.get(doc);
    if (Array.isArray(ids)) {
      for (const id of ids) {
        if (typeof id !== 'string') continue;
        // Recorded even when missing: the document appearing later must rebuild this row.
        deps?.push(refKey(n.collection, id));
        const t = reader.get(n.collection, id);
        if (t && (!n.pred || n.pred(t))) out.push(t);
      }
    }
  } else {
    const id = doc.id as string;
    deps?.push(reverseKey(n.collection, n.field, id));
    for (const child of reader.referencing(n.collection, n.field, id)) {
      if (refersTo(n.get(child), id) && (!n.pred || n.pred(child))) out.push(child);
    }
  }
  // Sort and cut the documents themselves (a relation name may shadow a sort field).
  if (n.cmp) out.sort(n.cmp);
  if (n.limit !== undefined && out.length > n.limit) out = out.slice(0, n.limit);
  if (n.children.length) {
    const prevRows = prevById(old);
    for (let i = 0; i < out.length; i++)
      out[i] = decorate(n.children, out[i]!, prevRows?.get(out[i]!.id as string), reader, deps);
  }
  return sameArray(old, out) ? old : out;
}

/**
 * Keeps the derived rows of one live result and their dependencies, and maps changes in
 * included collections to the rows they touch.
 */
export class IncludeTracker {
  readonly nodes: readonly IncludeNode[];
  readonly collections: ReadonlySet<string>;
  readonly #reverse: ReadonlyMap<string, ReadonlySet<string>>;
  readonly #rows = new Map<string, { row: Doc; deps: string[] }>();
  readonly #byDep = new Map<string, Set<string>>();
  readonly #dirty = new Set<string>();

  constructor(nodes: readonly IncludeNode[]) {
    this.nodes = nodes;
    const fp = includeFootprint(nodes);
    this.collections = fp.collections;
    this.#reverse = fp.reverse;
  }

  /** The derived row for `doc` (rebuilt if its document or a dependency changed). */
  rowFor(doc: Doc, reader: IncludeReader): Doc {
    const id = doc.id as string;
    const entry = this.#rows.get(id);
    if (entry && baseOf.get(entry.row) === doc && !this.#dirty.has(id)) return entry.row;
    const deps: string[] = [];
    const row = decorate(this.nodes, doc, entry?.row, reader, deps);
    if (entry) this.#unlink(id, entry.deps);
    this.#rows.set(id, { row, deps });
    for (const k of deps) {
      let s = this.#byDep.get(k);
      if (!s) this.#byDep.set(k, (s = new Set()));
      s.add(id);
    }
    this.#dirty.delete(id);
    return row;
  }

  /** The row last built for `id`, if any. */
  peek(id: string): Doc | undefined {
    return this.#rows.get(id)?.row;
  }

  /** Forget a row that left the result. */
  forget(id: string): void {
    const entry = this.#rows.get(id);
    if (!entry) return;
    this.#unlink(id, entry.deps);
    this.#rows.delete(id);
    this.#dirty.delete(id);
  }

  #unlink(id: string, deps: readonly string[]): void {
    for (const k of deps) {
      const s = this.#byDep.get(k);
      if (!s) continue;
      s.delete(id);
      if (s.size === 0) this.#byDep.delete(k);
    }
  }

  /** Mark the rows a change in an included collection may affect; returns their ids. */
  invalidate(collection: string, change: Change, out: Set<string>): void {
    this.#mark(refKey(collection, change.id), out);
    const fields = this.#reverse.get(collection);
    if (!fields) return;
    for (const f of fields) {
      const g = fieldGetter(f);
      for (const d of [change.before, change.after]) {
        if (!d) continue;
        const v = g(d);
        if (typeof v === 'string') this.#mark(reverseKey(collection, f, v), out);
        else if (Array.isArray(v))
          for (const x of v) if (typeof x === 'string') this.#mark(reverseKey(collection, f, x), out);
      }
    }
  }

  /** Mark every row (an included collection changed wholesale). */
  invalidateAll(out: Set<string>): void {
    for (const id of this.#rows.keys()) {
      this.#dirty.add(id);
      out.add(id);
    }
  }

  /** Forget every row whose id is not in `ids`. */
  retainOnly(ids: ReadonlySet<string>): void {
    for (const id of [...this.#rows.keys()]) if (!ids.has(id)) this.forget(id);
  }

  #mark(key: string, out: Set<string>): void {
    const s = this.#byDep.get(key);
    if (!s) return;
    for (const id of s) {
      this.#dirty.add(id);
      out.add(id);
    }
  }

  /** Forget everything. */
  clear(): void {
    this.#rows.clear();
    this.#byDep.clear();
    this.#dirty.clear();
  }

  /** Number of rows tracked. */
  get size(): number {
    return this.#rows.size;
  }
}
