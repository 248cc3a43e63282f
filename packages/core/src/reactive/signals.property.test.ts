/**
 * Differential test: random graphs of signals, computeds (with dynamic dependencies) and
 * effects (some creating child effects), driven by random sets, batches, reads and stops,
 * run on our signals and on raw alien-signals, whose graph algorithm ours reuses. Every
 * effect run (with the values it saw), every computed evaluation and every read must be
 * the same, in the same order: same laziness, caching, glitch-freedom and scheduling.
 */
import * as alien from 'alien-signals';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propertyParams } from '../../test/property.js';
import { batch, computed, effect, signal } from '../index.js';

interface Readable {
  get(): number;
}
interface Lib {
  signal(v: number): Readable & { set(v: number): void };
  computed(fn: () => number): Readable;
  effect(fn: () => void): () => void;
  batch(fn: () => void): void;
}

const ours: Lib = {
  signal: (v) => signal(v),
  computed: (fn) => computed(fn),
  effect: (fn) => {
    const e = effect(fn);
    return () => e.stop();
  },
  batch: (fn) => batch(fn),
};

const raw: Lib = {
  signal: (v) => {
    const s = alien.signal(v);
    return { get: () => s(), set: (x: number) => s(x) };
  },
  computed: (fn) => {
    const c = alien.computed(fn);
    return { get: () => c() };
  },
  effect: (fn) => alien.effect(fn),
  batch: (fn) => {
    alien.startBatch();
    try {
      fn();
    } finally {
      alien.endBatch();
    }
  },
};

type Op =
  | { t: 'set'; s: number; v: number }
  | { t: 'batch'; sets: { s: number; v: number }[] }
  | { t: 'read'; n: number }
  | { t: 'stop'; e: number }
  | { t: 'effect'; reads: number[]; child: number[] | null };

interface Program {
  signals: number[];
  /** Computed k reads node a; if even, node b, else node c (dynamic dependencies). */
  computeds: { a: number; b: number; c: number }[];
  effects: { reads: number[]; child: number[] | null }[];
  ops: Op[];
}

/** Run a program on a library and return everything observable, in order. */
function execute(lib: Lib, p: Program): unknown[] {
  const log: unknown[] = [];
  const nodes: Readable[] = [];
  const sigs = p.signals.map((v) => lib.signal(v));
  nodes.push(...sigs);
  p.computeds.forEach(({ a, b, c }, k) => {
    const [na, nb, nc] = [a, b, c].map((i) => nodes[i % nodes.length]!);
    nodes.push(
      lib.computed(() => {
        log.push(`eval c${k}`);
        return (na!.get() % 2 === 0 ? nb!.get() : nc!.get()) + k;
      }),
    );
  });
  const stops: (() => void)[] = [];
  const addEffect = (reads: number[], child: number[] | null) => {
    const id = stops.length;
    const ns = reads.map((i) => nodes[i % nodes.length]!);
    const cs = child?.map((i) => nodes[i % nodes.length]!);
    stops.push(
      lib.effect(() => {
        log.push([`e${id}`, ns.map((n) => n.get())]);
        if (cs) lib.effect(() => void log.push([`e${id}.child`, cs.map((n) => n.get())]));
      }),
    );
  };
  for (const e of p.effects) addEffect(e.reads, e.child);
  for (const op of p.ops) {
    switch (op.t) {
      case 'set':
        sigs[op.s % sigs.length]!.set(op.v);
        break;
      case 'batch':
        lib.batch(() => {
          for (const { s, v } of op.sets) sigs[s % sigs.length]!.set(v);
        });
        break;
      case 'read':
        log.push(['read', nodes[op.n % nodes.length]!.get()]);
        break;
      case 'stop':
        if (stops.length > 0) stops[op.e % stops.length]!();
        break;
      case 'effect':
        addEffect(op.reads, op.child);
        break;
    }
  }
  return log;
}

const idx = fc.nat({ max: 20 });
const value = fc.integer({ min: 0, max: 3 });
const reads = fc.array(idx, { minLength: 1, maxLength: 4 });
const effectSpec = fc.record({ reads, child: fc.option(reads, { nil: null }) });
const program: fc.Arbitrary<Program> = fc.record({
  signals: fc.array(value, { minLength: 1, maxLength: 5 }),
  // Indices wrap over the nodes created so far, so computed k reads only earlier nodes.
  computeds: fc.array(fc.record({ a: idx, b: idx, c: idx }), { maxLength: 10 }),
  effects: fc.array(effectSpec, { maxLength: 4 }),
  ops: fc.array(
    fc.oneof(
      { weight: 5, arbitrary: fc.record({ t: fc.constant('set' as const), s: idx, v: value }) },
      {
        weight: 2,
        arbitrary: fc.record({
          t: fc.constant('batch' as const),
          sets: fc.array(fc.record({ s: idx, v: value }), { maxLength: 4 }),
        }),
      },
      { weight: 2, arbitrary: fc.record({ t: fc.constant('read' as const), n: idx }) },
      { weight: 1, arbitrary: fc.record({ t: fc.constant('stop' as const), e: idx }) },
      {
        weight: 1,
        arbitrary: fc.record({
          t: fc.constant('effect' as const),
          reads,
          child: fc.option(reads, { nil: null }),
        }),
      },
    ),
    { maxLength: 25 },
  ),
});

describe('signals vs raw alien-signals (differential)', () => {
  it('observe the same effect runs, computed evaluations and reads, in the same order', () => {
    fc.assert(
      fc.property(program, (p) => {
        expect(execute(ours, p)).toEqual(execute(raw, p));
      }),
      propertyParams(),
    );
  });

  it('a diamond-rich graph never shows an effect an inconsistent pair (checked against a direct computation)', () => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 1, maxLength: 20 }), (updates) => {
        const s = signal(0);
        const a = computed(() => s.get() + 1);
        const b = computed(() => s.get() * 2);
        const c = computed(() => a.get() + b.get());
        const seen: [number, number][] = [];
        const e = effect(() => void seen.push([s.get(), c.get()]));
        for (const u of updates) s.set(u);
        e.stop();
        for (const [x, y] of seen) expect(y).toBe(x + 1 + x * 2);
      }),
      propertyParams(),
    );
  });
});
