/**
 * Helpers for the shared persistence suite: assertions that need no test framework (so the
 * suite also runs in a bare browser page), a naive reference model of the contract, and
 * small builders. Isomorphic: no node:* imports.
 */
import { type Cell, type CellValue, DELETED_FIELD, encodeHlc, type JsonValue } from '@omnisync/core';
import type { PersistedState, PersistedTransaction, PersistenceBatch } from './types.js';

/** Thrown by the suite's assertions. */
export class SuiteAssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SuiteAssertionError';
  }
}

/** Fail unless `cond` holds. */
export function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new SuiteAssertionError(message);
}

/** Strict deep equality of JSON-like data: own keys must match, including ones whose value is `undefined`. */
export function assertDeepEqual(actual: unknown, expected: unknown, what: string): void {
  const diff = firstDifference(actual, expected, '');
  if (diff !== undefined)
    throw new SuiteAssertionError(
      `${what}: differs at ${diff || '(root)'}\n  actual:   ${show(actual)}\n  expected: ${show(expected)}`,
    );
}

function firstDifference(a: unknown, b: unknown, path: string): string | undefined {
  if (Object.is(a, b) || (a === 0 && b === 0)) return undefined;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null)
    return `${path} (${show(a)} vs ${show(b)})`;
  if (Array.isArray(a) !== Array.isArray(b)) return `${path} (array vs object)`;
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i]))
    return `${path} (keys ${show(ka)} vs ${show(kb)})`;
  for (const k of ka) {
    const d = firstDifference(
      (a as Record<string, unknown>)[k],
      (b as Record<string, unknown>)[k],
      `${path}.${k}`,
    );
    if (d !== undefined) return d;
  }
  return undefined;
}

function show(v: unknown): string {
  const s = JSON.stringify(v, (_k, x: unknown) => (x === undefined ? '<undefined>' : x)) ?? String(v);
  return s.length > 400 ? `${s.slice(0, 400)}…` : s;
}

/** An error class name and stable code. */
export interface ExpectedError {
  readonly name: string;
  readonly code: string;
}

/** Await `fn()` and fail unless it rejects (or throws) with an error of this `name` and `code`. */
export async function assertRejects(
  fn: () => Promise<unknown>,
  expected: ExpectedError | readonly ExpectedError[],
  what: string,
): Promise<Error> {
  const options: readonly ExpectedError[] = Array.isArray(expected) ? expected : [expected as ExpectedError];
  let result: unknown;
  try {
    result = await fn();
  } catch (err) {
    const e = err as { name?: unknown; code?: unknown; message?: unknown };
    check(
      options.some((o) => e?.name === o.name && e.code === o.code),
      `${what}: expected ${options.map((o) => `${o.name} (${o.code})`).join(' or ')}, got ${String(e?.name)} (${String(e?.code)}): ${String(e?.message)}`,
    );
    check(
      typeof e.message === 'string' && e.message.length > 20,
      `${what}: the error message should say what was wrong and what to do`,
    );
    return err as Error;
  }
  throw new SuiteAssertionError(
    `${what}: expected ${options.map((o) => o.name).join(' or ')}, but it resolved with ${show(result)}`,
  );
}

/** A valid HLC for the n-th write (string order = n order). */
export const hlc = (n: number, node = 'suite'): string =>
  encodeHlc({ wall: 1_700_000_000_000 + n, counter: 0, node });

/** A cell. */
export const cell = (collection: string, id: string, field: string, value: CellValue, n = 1): Cell => ({
  collection,
  id,
  field,
  value,
  hlc: hlc(n),
});

/** A tombstone cell. */
export const tombstone = (collection: string, id: string, n = 1): Cell =>
  cell(collection, id, DELETED_FIELD, true, n);

const cellKey = (c: Cell) => `${c.collection}\u0000${c.id}\u0000${c.field}`;

/** A state with cells sorted by (collection, id, field), for comparison (cell order is unspecified). */
export function normalizeState(s: PersistedState): PersistedState {
  const cells = [...s.cells].sort((a, b) => (cellKey(a) < cellKey(b) ? -1 : cellKey(a) > cellKey(b) ? 1 : 0));
  return { cells, transactions: s.transactions, meta: s.meta };
}

/** Compare two states (cells in any order; transactions in order; meta by key). */
export function assertSameState(actual: PersistedState, expected: PersistedState, what: string): void {
  assertDeepEqual(normalizeState(actual), normalizeState(expected), what);
}

/**
 * The contract written as plainly as possible, independent of the backends' shared code,
 * as the oracle for randomized batches. Takes only valid batches.
 */
export class ReferenceModel {
  cells: Cell[] = [];
  transactions: PersistedTransaction[] = [];
  meta: Record<string, JsonValue> = {};

  apply(batch: PersistenceBatch): void {
    const json = <T>(v: T): T => (v === undefined ? v : (JSON.parse(JSON.stringify(v)) as T));
    for (const c of batch.cells ?? []) {
      if (c.field === DELETED_FIELD)
        this.cells = this.cells.filter((x) => !(x.collection === c.collection && x.id === c.id));
      else this.cells = this.cells.filter((x) => cellKey(x) !== cellKey(c));
      this.cells.push({ ...c, value: json(c.value) });
    }
    const deleted = new Set(batch.deleteTransactions ?? []);
    for (const t of batch.putTransactions ?? []) {
      if (deleted.has(t.id)) continue;
      const i = this.transactions.findIndex((x) => x.id === t.id);
      if (i >= 0) this.transactions[i] = json(t);
      else this.transactions.push(json(t));
    }
    this.transactions = this.transactions.filter((t) => !deleted.has(t.id));
    for (const [k, v] of Object.entries(batch.meta ?? {})) {
      if (v === null) delete this.meta[k];
      else this.meta[k] = json(v);
    }
  }

  state(): PersistedState {
    return copyState({ cells: this.cells, transactions: this.transactions, meta: this.meta });
  }
}

function copyState(s: PersistedState): PersistedState {
  // Keep `value: undefined` on cells (JSON would drop it).
  return {
    cells: s.cells.map((c) => ({ ...c })),
    transactions: JSON.parse(JSON.stringify(s.transactions)) as PersistedTransaction[],
    meta: JSON.parse(JSON.stringify(s.meta)) as Record<string, JsonValue>,
  };
}

/** A small seeded PRNG (mulberry32), so a failing random case can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A random valid batch over a small key space (so upserts, tombstones and re-puts collide). */
export function randomBatch(rand: () => number, step: number): PersistenceBatch {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const collections = ['todos', 'lists'] as const;
  const ids = ['a', 'b', 'c', 'd', 'e'];
  const fields = ['title', 'done', 'meta.n', 'meta.tags', 'tagIds[t1]'];
  const values: CellValue[] = [
    'x',
    `v${step}`,
    0,
    42.5,
    true,
    false,
    null,
    undefined,
    [1, 'two'],
    { deep: { k: step } },
    '',
  ];
  const batch: { -readonly [K in keyof PersistenceBatch]: PersistenceBatch[K] } = {};
  const cells: Cell[] = [];
  for (let i = Math.floor(rand() * 5); i > 0; i--) {
    const collection = pick(collections);
    const id = pick(ids);
    if (rand() < 0.1) cells.push(tombstone(collection, id, step));
    else {
      const field = pick(fields);
      cells.push(cell(collection, id, field, field.endsWith(']') ? rand() < 0.5 : pick(values), step));
    }
  }
  if (cells.length) batch.cells = cells;
  const puts: PersistedTransaction[] = [];
  for (let i = Math.floor(rand() * 3); i > 0; i--)
    puts.push({
      id: `tx${Math.floor(rand() * 8)}`,
      state: pick(['pending', 'persisting', 'completed']),
      step,
    });
  if (puts.length) batch.putTransactions = puts;
  if (rand() < 0.3)
    batch.deleteTransactions = [`tx${Math.floor(rand() * 8)}`, ...(rand() < 0.3 ? ['unknown'] : [])];
  if (rand() < 0.4)
    batch.meta = {
      [pick(['cursor', 'hlc', 'clientId'])]: rand() < 0.3 ? null : pick([step, `s${step}`, { at: step }]),
    };
  return batch;
}
