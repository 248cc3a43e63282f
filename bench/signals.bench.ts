/**
 * Signal propagation: OmniSync's signals (a thin object API over alien-signals) against
 * raw alien-signals and @preact/signals-core, same graphs, same run, runs interleaved so
 * machine noise hits all three alike. Goal (issue 3): within 1.2× of raw alien-signals.
 */
import * as alien from 'alien-signals';
import * as preact from '@preact/signals-core';
import * as ours from '../packages/core/src/reactive/signals.ts';
import { type BenchSection, fmtRate, median, performance } from './lib.ts';

const WIDTH = 1000;
const UPDATES = 1000;
const PINGS = 200_000;
const RUNS = 15;
const WARMUP = 5;

type Lib = 'omnisync' | 'alien-signals' | '@preact/signals-core';
/** A built graph: `run()` performs the measured updates and returns a checksum. */
type Build = () => { run: () => number; dispose: () => void };

interface Scenario {
  name: string;
  /** Node updates per run (for the ops/s figure). */
  ops: number;
  unit: string;
  builds: Record<Lib, Build>;
}

// 1 source → WIDTH computeds → 1 effect that reads them all.
const fan: Scenario = {
  name: `fan: 1 signal → ${WIDTH} computeds → 1 effect`,
  ops: UPDATES * WIDTH,
  unit: 'computed updates/s',
  builds: {
    omnisync: () => {
      const s = ours.signal(0);
      const cs = Array.from({ length: WIDTH }, (_, i) => ours.computed(() => s.get() + i));
      let sum = 0;
      const e = ours.effect(() => {
        let x = 0;
        for (const c of cs) x += c.get();
        sum += x;
      });
      return {
        run: () => {
          for (let i = 1; i <= UPDATES; i++) s.set(s.peek() + 1);
          return sum;
        },
        dispose: () => e.stop(),
      };
    },
    'alien-signals': () => {
      const s = alien.signal(0);
      const cs = Array.from({ length: WIDTH }, (_, i) => alien.computed(() => s() + i));
      let sum = 0;
      const stop = alien.effect(() => {
        let x = 0;
        for (const c of cs) x += c();
        sum += x;
      });
      return {
        run: () => {
          for (let i = 1; i <= UPDATES; i++) s(untrackedAlien<number>(s) + 1);
          return sum;
        },
        dispose: stop,
      };
    },
    '@preact/signals-core': () => {
      const s = preact.signal(0);
      const cs = Array.from({ length: WIDTH }, (_, i) => preact.computed(() => s.value + i));
      let sum = 0;
      const stop = preact.effect(() => {
        let x = 0;
        for (const c of cs) x += c.value;
        sum += x;
      });
      return {
        run: () => {
          for (let i = 1; i <= UPDATES; i++) s.value = s.peek() + 1;
          return sum;
        },
        dispose: stop,
      };
    },
  },
};

// 1 source → a chain of WIDTH computeds → 1 effect at the end.
const chain: Scenario = {
  name: `chain: 1 signal → ${WIDTH} computeds in a row → 1 effect`,
  ops: UPDATES * WIDTH,
  unit: 'computed updates/s',
  builds: {
    omnisync: () => {
      const s = ours.signal(0);
      let last: ours.ReadonlySignal<number> = s;
      for (let i = 0; i < WIDTH; i++) {
        const prev = last;
        last = ours.computed(() => prev.get() + 1);
      }
      const end = last;
      let sum = 0;
      const e = ours.effect(() => {
        sum += end.get();
      });
      return {
        run: () => {
          for (let i = 1; i <= UPDATES; i++) s.set(s.peek() + 1);
          return sum;
        },
        dispose: () => e.stop(),
      };
    },
    'alien-signals': () => {
      const s = alien.signal(0);
      let last: () => number = s;
      for (let i = 0; i < WIDTH; i++) {
        const prev = last;
        last = alien.computed(() => prev() + 1);
      }
      const end = last;
      let sum = 0;
      const stop = alien.effect(() => {
        sum += end();
      });
      return {
        run: () => {
          for (let i = 1; i <= UPDATES; i++) s(untrackedAlien<number>(s) + 1);
          return sum;
        },
        dispose: stop,
      };
    },
    '@preact/signals-core': () => {
      const s = preact.signal(0);
      let last: preact.ReadonlySignal<number> = s;
      for (let i = 0; i < WIDTH; i++) {
        const prev = last;
        last = preact.computed(() => prev.value + 1);
      }
      const end = last;
      let sum = 0;
      const stop = preact.effect(() => {
        sum += end.value;
      });
      return {
        run: () => {
          for (let i = 1; i <= UPDATES; i++) s.value = s.peek() + 1;
          return sum;
        },
        dispose: stop,
      };
    },
  },
};

// 1 source → WIDTH effects that each read it.
const effects: Scenario = {
  name: `wide: 1 signal → ${WIDTH} effects`,
  ops: UPDATES * WIDTH,
  unit: 'effect runs/s',
  builds: {
    omnisync: () => {
      const s = ours.signal(0);
      let sum = 0;
      const es = Array.from({ length: WIDTH }, () => ours.effect(() => void (sum += s.get())));
      return {
        run: () => {
          for (let i = 1; i <= UPDATES; i++) s.set(s.peek() + 1);
          return sum;
        },
        dispose: () => es.forEach((e) => e.stop()),
      };
    },
    'alien-signals': () => {
      const s = alien.signal(0);
      let sum = 0;
      const es = Array.from({ length: WIDTH }, () => alien.effect(() => void (sum += s())));
      return {
        run: () => {
          for (let i = 1; i <= UPDATES; i++) s(untrackedAlien<number>(s) + 1);
          return sum;
        },
        dispose: () => es.forEach((stop) => stop()),
      };
    },
    '@preact/signals-core': () => {
      const s = preact.signal(0);
      let sum = 0;
      const es = Array.from({ length: WIDTH }, () => preact.effect(() => void (sum += s.value)));
      return {
        run: () => {
          for (let i = 1; i <= UPDATES; i++) s.value = s.peek() + 1;
          return sum;
        },
        dispose: () => es.forEach((stop) => stop()),
      };
    },
  },
};

// The per-call cost of the API itself: set a signal, read a computed of it (no effect).
const ping: Scenario = {
  name: `ping: set a signal, read its computed (${PINGS / 1000}k times)`,
  ops: PINGS,
  unit: 'set+get/s',
  builds: {
    omnisync: () => {
      const s = ours.signal(0);
      const c = ours.computed(() => s.get() * 2);
      return {
        run: () => {
          let sum = 0;
          for (let i = 0; i < PINGS; i++) {
            s.set(i);
            sum += c.get();
          }
          return sum;
        },
        dispose: () => {},
      };
    },
    'alien-signals': () => {
      const s = alien.signal(0);
      const c = alien.computed(() => s() * 2);
      return {
        run: () => {
          let sum = 0;
          for (let i = 0; i < PINGS; i++) {
            s(i);
            sum += c();
          }
          return sum;
        },
        dispose: () => {},
      };
    },
    '@preact/signals-core': () => {
      const s = preact.signal(0);
      const c = preact.computed(() => s.value * 2);
      return {
        run: () => {
          let sum = 0;
          for (let i = 0; i < PINGS; i++) {
            s.value = i;
            sum += c.value;
          }
          return sum;
        },
        dispose: () => {},
      };
    },
  },
};

/** Raw alien-signals has no peek: read outside any subscriber, as our wrapper does. */
function untrackedAlien<T>(s: () => T): T {
  const prev = alien.setActiveSub(undefined);
  const v = s();
  alien.setActiveSub(prev);
  return v;
}

const LIBS: Lib[] = ['omnisync', 'alien-signals', '@preact/signals-core'];

/** Median ops/s of each library on one scenario, runs interleaved across libraries. */
export function measure(sc: Scenario, runs = RUNS, warmup = WARMUP): Record<Lib, number> {
  const graphs = LIBS.map((lib) => sc.builds[lib]());
  const times: number[][] = LIBS.map(() => []);
  let check = 0;
  for (let r = 0; r < warmup + runs; r++) {
    // Rotate the order so no library always runs first (or right after a GC-heavy one).
    for (let k = 0; k < LIBS.length; k++) {
      const j = (k + r) % LIBS.length;
      const t0 = performance.now();
      check += graphs[j]!.run();
      const dt = performance.now() - t0;
      if (r >= warmup) times[j]!.push(dt);
    }
  }
  for (const g of graphs) g.dispose();
  if (Number.isNaN(check)) throw new Error('unreachable: keeps the checksum alive');
  return Object.fromEntries(LIBS.map((lib, j) => [lib, (sc.ops / median(times[j]!)) * 1000])) as Record<
    Lib,
    number
  >;
}

export default async (): Promise<BenchSection> => {
  const rows: (string | number)[][] = [];
  for (const sc of [fan, chain, effects, ping]) {
    const r = measure(sc);
    const ratio = r['alien-signals'] / r.omnisync;
    rows.push([
      sc.name,
      sc.unit,
      fmtRate(r.omnisync),
      fmtRate(r['alien-signals']),
      fmtRate(r['@preact/signals-core']),
      `${ratio.toFixed(2)}×`,
    ]);
  }
  return {
    title: 'Signals: propagation vs alien-signals and @preact/signals-core',
    notes: `Median of ${RUNS} runs after ${WARMUP} warm-up runs, libraries interleaved in one process; each run is ${UPDATES} updates of the source (ping: ${PINGS} set+get). "ours/alien" is our time over raw alien-signals' time (goal ≤ 1.20×)`,
    columns: ['graph', 'unit', 'omnisync', 'alien-signals', '@preact/signals-core', 'ours/alien'],
    rows,
  };
};
