/**
 * The one persistence suite: every backend (memory, IndexedDB, file, and any third-party
 * one) must pass it. It needs no particular test framework and no node:* module, so it runs
 * under vitest in Node and in a browser page against the real IndexedDB:
 *
 *     persistenceSuite('memory', (location) => createMemoryPersistence(...), { describe, it });
 *     const results = await runPersistenceCases(factory);   // browser runner: plain results
 *
 * A factory opens the store at a `location` (a name unique to one case); opening the same
 * location again after closing must see the same data, as a restarted client would.
 */
import type { Persistence } from './types.js';
import {
  assertDeepEqual,
  assertRejects,
  assertSameState,
  cell,
  check,
  hlc,
  prng,
  randomBatch,
  ReferenceModel,
  tombstone,
} from './suite-support.js';
import { cases as semanticsCases } from './suite-cases.js';

/** Opens the persistence stored at `location`. */
export type PersistenceFactory = (location: string) => Persistence | Promise<Persistence>;

/** What a case gets to work with. */
export interface PersistenceCaseContext {
  /** Open the case's store (or a second, independent one with `suffix`). Closed after the case. */
  open(suffix?: string): Promise<Persistence>;
  /** Close `p` and open its location again: what a restart sees. */
  reopen(p: Persistence, suffix?: string): Promise<Persistence>;
  /** Seed for randomized cases. */
  readonly seed: number;
  /** Batches for randomized cases. */
  readonly randomBatches: number;
}

/** One named check of the contract. */
export interface PersistenceCase {
  readonly name: string;
  run(ctx: PersistenceCaseContext): Promise<void>;
}

/** Options for {@link persistenceSuite} and {@link runPersistenceCases}. */
export interface PersistenceSuiteOptions {
  /** Remove a location's data after its case (delete the database or file). */
  cleanup?: (location: string) => void | Promise<void>;
  /** Location prefix; defaults to a fresh random one, so persistent backends start empty. */
  prefix?: string;
  /** Seed of the randomized case (default 1). */
  seed?: number;
  /** Batches in the randomized case (default 200). */
  randomBatches?: number;
  /** The framework's `describe`; defaults to a global `describe` (vitest globals, jest, mocha). */
  describe?: (name: string, fn: () => void) => void;
  /** The framework's `it`; defaults to a global `it`. */
  it?: (name: string, fn: () => Promise<void>) => void;
}

/** The outcome of one case, for runners without a test framework. */
export interface PersistenceCaseResult {
  readonly name: string;
  readonly ok: boolean;
  readonly error?: string;
}

/** Every case of the suite, in order. */
export const persistenceCases: readonly PersistenceCase[] = [
  ...semanticsCases,
  {
    name: 'random batches match the reference model, across reopens',
    async run(ctx) {
      const rand = prng(ctx.seed);
      const model = new ReferenceModel();
      let p = await ctx.open();
      for (let step = 1; step <= ctx.randomBatches; step++) {
        const batch = randomBatch(rand, step);
        await p.commit(batch);
        model.apply(batch);
        if (rand() < 0.05) p = await ctx.reopen(p);
        if (step % 25 === 0)
          assertSameState(
            await p.load(),
            model.state(),
            `seed ${ctx.seed}, after batch ${step} (${JSON.stringify(batch)})`,
          );
      }
      p = await ctx.reopen(p);
      assertSameState(await p.load(), model.state(), `seed ${ctx.seed}, after reopening`);
    },
  },
  {
    name: 'random batches committed without awaiting, in bursts, match the reference model',
    async run(ctx) {
      const rand = prng(ctx.seed + 1);
      const model = new ReferenceModel();
      let p = await ctx.open();
      for (let step = 1; step <= ctx.randomBatches;) {
        const burst: Promise<void>[] = [];
        for (let n = 1 + Math.floor(rand() * 30); n > 0 && step <= ctx.randomBatches; n--, step++) {
          const batch = randomBatch(rand, step);
          burst.push(p.commit(batch));
          model.apply(batch);
        }
        await Promise.all(burst);
        assertSameState(await p.load(), model.state(), `seed ${ctx.seed + 1}, after batch ${step - 1}`);
      }
      p = await ctx.reopen(p);
      assertSameState(await p.load(), model.state(), `seed ${ctx.seed + 1}, after reopening`);
    },
  },
  {
    name: 'a large value and many cells in one batch round-trip',
    async run(ctx) {
      let p = await ctx.open();
      const big = 'x'.repeat(1 << 20) + '\u{1F600}';
      const cells = [cell('blobs', 'b', 'data', big, 1)];
      for (let i = 0; i < 5000; i++) cells.push(cell('rows', `r${i}`, 'n', i, 2));
      await p.commit({ cells, putTransactions: [{ id: 'big', payload: big }] });
      p = await ctx.reopen(p);
      const s = await p.load();
      check(s.cells.length === 5001, `expected 5001 cells, got ${s.cells.length}`);
      check(
        s.cells.find((c) => c.collection === 'blobs')?.value === big,
        'the 1 MiB value should come back intact',
      );
      check(s.transactions[0]?.payload === big, 'the 1 MiB transaction payload should come back intact');
    },
  },
  {
    name: 'after close() every call rejects with InvalidStateError',
    async run(ctx) {
      const p = await ctx.open();
      await p.commit({ cells: [cell('todos', 'a', 'title', 'x')] });
      await p.close();
      const closed = { name: 'InvalidStateError', code: 'invalid_state' };
      await assertRejects(() => p.load(), closed, 'load after close');
      await assertRejects(
        () => p.commit({ cells: [cell('todos', 'a', 'title', 'y')] }),
        closed,
        'commit after close',
      );
      await assertRejects(() => p.commit({}), closed, 'empty commit after close');
      await assertRejects(
        () => p.commit(null as never),
        closed,
        'bad commit after close (closed is reported first)',
      );
      await assertRejects(() => p.clear(), closed, 'clear after close');
      await assertRejects(() => p.close(), closed, 'second close');
      const again = await ctx.open();
      assertDeepEqual(
        (await again.load()).cells.map((c) => c.value),
        ['x'],
        'data committed before close',
      );
    },
  },
  {
    name: 'commits called without awaiting apply in call order',
    async run(ctx) {
      let p = await ctx.open();
      const pending: Promise<void>[] = [];
      for (let i = 0; i < 50; i++)
        pending.push(
          p.commit({
            cells: [cell('todos', 'a', 'n', i, i)],
            putTransactions: [{ id: `tx${i}` }],
            meta: { last: i },
          }),
        );
      await Promise.all(pending);
      p = await ctx.reopen(p);
      const s = await p.load();
      assertDeepEqual(s.cells, [cell('todos', 'a', 'n', 49, 49)], 'the last write wins');
      assertDeepEqual(
        s.transactions.map((t) => t.id),
        Array.from({ length: 50 }, (_, i) => `tx${i}`),
        'outbox in call order',
      );
      assertDeepEqual(s.meta, { last: 49 }, 'meta');
    },
  },
  {
    name: 'load() and clear() called between unawaited commits keep call order',
    async run(ctx) {
      let p = await ctx.open();
      const first = p.commit({ cells: [cell('todos', 'a', 'title', 'before clear')], meta: { phase: 1 } });
      const loaded = p.load();
      const cleared = p.clear();
      const second = p.commit({
        cells: [cell('todos', 'b', 'title', 'after clear')],
        putTransactions: [{ id: 't' }],
      });
      const loadedAfter = p.load();
      await Promise.all([first, cleared, second]);
      assertSameState(
        await loaded,
        { cells: [cell('todos', 'a', 'title', 'before clear')], transactions: [], meta: { phase: 1 } },
        'load between',
      );
      const expected = {
        cells: [cell('todos', 'b', 'title', 'after clear')],
        transactions: [{ id: 't' }],
        meta: {},
      };
      assertSameState(await loadedAfter, expected, 'load after');
      p = await ctx.reopen(p);
      assertSameState(await p.load(), expected, 'after reopening');
    },
  },
  {
    name: 'a document with many fields: upserts, unsets and a tombstone',
    async run(ctx) {
      let p = await ctx.open();
      const fields = Array.from({ length: 60 }, (_, i) => `f${i}`);
      await p.commit({ cells: fields.map((f, i) => cell('wide', 'w', f, i, 1)) });
      await p.commit({
        cells: [
          cell('wide', 'w', 'f3', 'three', 2),
          cell('wide', 'w', 'f50', undefined, 2),
          cell('wide', 'w', 'f60', 60, 2),
          cell('wide', 'v', 'f0', 0, 2),
        ],
      });
      const expected = fields.map((f, i) =>
        cell('wide', 'w', f, i === 3 ? 'three' : i === 50 ? undefined : i, i === 3 || i === 50 ? 2 : 1),
      );
      expected.push(cell('wide', 'w', 'f60', 60, 2), cell('wide', 'v', 'f0', 0, 2));
      assertSameState(await p.load(), { cells: expected, transactions: [], meta: {} }, 'wide document');
      p = await ctx.reopen(p);
      assertSameState(
        await p.load(),
        { cells: expected, transactions: [], meta: {} },
        'wide document, reopened',
      );
      await p.commit({ cells: [tombstone('wide', 'w', 3)] });
      p = await ctx.reopen(p);
      assertSameState(
        await p.load(),
        { cells: [tombstone('wide', 'w', 3), cell('wide', 'v', 'f0', 0, 2)], transactions: [], meta: {} },
        'after the tombstone',
      );
    },
  },
  {
    name: 'stores at different locations are independent',
    async run(ctx) {
      const a = await ctx.open();
      const b = await ctx.open('other');
      await a.commit({ cells: [cell('todos', 'x', 'title', 'in a')], meta: { who: 'a' } });
      await b.commit({ cells: [tombstone('todos', 'x')], meta: { who: 'b' } });
      assertSameState(
        await a.load(),
        { cells: [cell('todos', 'x', 'title', 'in a')], transactions: [], meta: { who: 'a' } },
        'store a',
      );
      assertSameState(
        await b.load(),
        { cells: [tombstone('todos', 'x')], transactions: [], meta: { who: 'b' } },
        'store b',
      );
      check(hlc(1) < hlc(2), 'hlc helper orders');
    },
  },
];

/**
 * Register every case with a test framework: one `describe(name)` holding one `it` per case.
 * Pass `{ describe, it }` unless your framework provides them as globals.
 */
export function persistenceSuite(
  name: string,
  factory: PersistenceFactory,
  options: PersistenceSuiteOptions = {},
): void {
  const g = globalThis as {
    describe?: PersistenceSuiteOptions['describe'];
    it?: PersistenceSuiteOptions['it'];
  };
  const describe = options.describe ?? g.describe;
  const it = options.it ?? g.it;
  if (!describe || !it)
    throw new Error('persistenceSuite needs a test framework: pass { describe, it } (e.g. from vitest).');
  const prefix = options.prefix ?? freshPrefix();
  describe(name, () => {
    persistenceCases.forEach((c, i) => it(c.name, () => runCase(c, factory, `${prefix}-${i}`, options)));
  });
}

/** Run every case in order without a test framework (for a browser page); never throws. */
export async function runPersistenceCases(
  factory: PersistenceFactory,
  options: PersistenceSuiteOptions = {},
): Promise<PersistenceCaseResult[]> {
  const prefix = options.prefix ?? freshPrefix();
  const results: PersistenceCaseResult[] = [];
  for (const [i, c] of persistenceCases.entries()) {
    try {
      await runCase(c, factory, `${prefix}-${i}`, options);
      results.push({ name: c.name, ok: true });
    } catch (err) {
      results.push({
        name: c.name,
        ok: false,
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      });
    }
  }
  return results;
}

/** Run one case with its own locations; closes what it opened and cleans up even when it fails. */
export async function runCase(
  c: PersistenceCase,
  factory: PersistenceFactory,
  location: string,
  options: PersistenceSuiteOptions = {},
): Promise<void> {
  const opened = new Set<Persistence>();
  const locations = new Set<string>();
  const at = (suffix?: string) => (suffix ? `${location}-${suffix}` : location);
  const where = new Map<Persistence, string | undefined>();
  const ctx: PersistenceCaseContext = {
    seed: options.seed ?? 1,
    randomBatches: options.randomBatches ?? 200,
    async open(suffix) {
      locations.add(at(suffix));
      const p = await factory(at(suffix));
      opened.add(p);
      where.set(p, suffix);
      return p;
    },
    async reopen(p, suffix) {
      await p.close();
      opened.delete(p);
      return ctx.open(suffix ?? where.get(p));
    },
  };
  try {
    await c.run(ctx);
  } finally {
    for (const p of opened) await p.close().catch(() => undefined); // already closed by the case: fine
    if (options.cleanup) for (const l of locations) await options.cleanup(l);
  }
}

function freshPrefix(): string {
  return `omnisync-suite-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e9).toString(36)}`;
}
