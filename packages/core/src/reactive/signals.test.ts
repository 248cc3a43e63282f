import { describe, expect, it } from 'vitest';
import { batch, computed, effect, isTracking, signal, untracked } from '../index.js';

describe('signal', () => {
  it('gets, sets, updates and peeks', () => {
    const s = signal(1);
    expect(s.get()).toBe(1);
    s.set(2);
    expect(s.get()).toBe(2);
    s.update((n) => n * 10);
    expect(s.get()).toBe(20);
    expect(s.peek()).toBe(20);
  });

  it('notifies only when the value changes (Object.is-like identity)', () => {
    const s = signal({ n: 1 });
    const seen: number[] = [];
    effect(() => void seen.push(s.get().n));
    const same = s.peek();
    s.set(same);
    s.set({ n: 2 });
    expect(seen).toEqual([1, 2]);
  });

  it('peek does not subscribe the running effect', () => {
    const a = signal(1);
    const b = signal(1);
    let runs = 0;
    effect(() => {
      runs++;
      a.get();
      b.peek();
    });
    b.set(2);
    expect(runs).toBe(1);
    a.set(2);
    expect(runs).toBe(2);
  });

  it('update reads without subscribing (no self-triggered loop inside an effect)', () => {
    const trigger = signal(0);
    const count = signal(0);
    let runs = 0;
    effect(() => {
      runs++;
      trigger.get();
      count.update((n) => n + 1);
    });
    trigger.set(1);
    expect(runs).toBe(2);
    expect(count.peek()).toBe(2);
  });
});

describe('computed', () => {
  it('is lazy: nothing runs until it is read', () => {
    let evals = 0;
    const s = signal(1);
    const c = computed(() => {
      evals++;
      return s.get() * 2;
    });
    expect(evals).toBe(0);
    s.set(2);
    expect(evals).toBe(0);
    expect(c.get()).toBe(4);
    expect(evals).toBe(1);
  });

  it('is cached until a dependency changes', () => {
    let evals = 0;
    const s = signal(1);
    const other = signal(0);
    const c = computed(() => {
      evals++;
      return s.get() + 1;
    });
    expect([c.get(), c.get(), c.peek()]).toEqual([2, 2, 2]);
    expect(evals).toBe(1);
    other.set(5); // not a dependency
    expect(c.get()).toBe(2);
    expect(evals).toBe(1);
    s.set(10);
    expect(c.get()).toBe(11);
    expect(c.get()).toBe(11);
    expect(evals).toBe(2);
  });

  it('stops downstream work when its value did not change', () => {
    const s = signal(1);
    const parity = computed(() => s.get() % 2);
    let evals = 0;
    const label = computed(() => {
      evals++;
      return parity.get() === 0 ? 'even' : 'odd';
    });
    expect(label.get()).toBe('odd');
    s.set(3);
    expect(label.get()).toBe('odd');
    expect(evals).toBe(1);
    s.set(4);
    expect(label.get()).toBe('even');
    expect(evals).toBe(2);
  });

  it('passes the previous value', () => {
    const s = signal(1);
    const prevs: (number | undefined)[] = [];
    const c = computed<number>((prev) => {
      prevs.push(prev);
      return s.get() * 10;
    });
    c.get();
    s.set(2);
    c.get();
    expect(prevs).toEqual([undefined, 10]);
  });

  it('tracks dynamic dependencies: a branch no longer read no longer triggers', () => {
    const useA = signal(true);
    const a = signal('a');
    const b = signal('b');
    let evals = 0;
    const c = computed(() => {
      evals++;
      return useA.get() ? a.get() : b.get();
    });
    const seen: string[] = [];
    effect(() => void seen.push(c.get()));
    b.set('b2'); // not read yet
    expect(evals).toBe(1);
    useA.set(false);
    expect(seen).toEqual(['a', 'b2']);
    a.set('a2'); // no longer read
    expect(evals).toBe(2);
    expect(seen).toEqual(['a', 'b2']);
  });

  it('rethrows its error on every read until a dependency changes, then recovers', () => {
    const s = signal(0);
    let evals = 0;
    const c = computed(() => {
      evals++;
      if (s.get() < 0) throw new Error(`negative: ${s.get()}`);
      return s.get();
    });
    s.set(-1);
    expect(() => c.get()).toThrow('negative: -1');
    expect(() => c.get()).toThrow('negative: -1');
    expect(() => c.peek()).toThrow('negative: -1');
    expect(evals).toBe(1);
    s.set(-2);
    expect(() => c.get()).toThrow('negative: -2');
    s.set(3);
    expect(c.get()).toBe(3);
  });
});

describe('effect', () => {
  it('runs at once and re-runs when a signal it read changes', () => {
    const s = signal('a');
    const seen: string[] = [];
    effect(() => void seen.push(s.get()));
    expect(seen).toEqual(['a']);
    s.set('b');
    s.set('c');
    expect(seen).toEqual(['a', 'b', 'c']);
  });

  it('stop() ends it and runs its cleanup; re-runs run the previous cleanup first', () => {
    const s = signal(1);
    const log: string[] = [];
    const e = effect(() => {
      const v = s.get();
      log.push(`run ${v}`);
      return () => log.push(`cleanup ${v}`);
    });
    s.set(2);
    e.stop();
    s.set(3);
    e.stop(); // idempotent
    expect(log).toEqual(['run 1', 'cleanup 1', 'run 2', 'cleanup 2']);
  });

  it('an effect that throws on its first run is disposed and the error reaches the caller', () => {
    const s = signal(0);
    let runs = 0;
    expect(() =>
      effect(() => {
        runs++;
        s.get();
        throw new Error('first run failed');
      }),
    ).toThrow('first run failed');
    s.set(1);
    expect(runs).toBe(1);
  });

  it('an effect that throws when it re-runs does not keep the others from running; set() rethrows the error', () => {
    const s = signal(0);
    const log: string[] = [];
    effect(() => {
      const v = s.get();
      if (v === 1) throw new Error('A failed on 1');
      log.push(`A${v}`);
    });
    effect(() => void log.push(`B${s.get()}`));
    expect(() => s.set(1)).toThrow('A failed on 1');
    expect(log).toEqual(['A0', 'B0', 'B1']);
    s.set(2); // the failed effect is still alive and the error is not thrown twice
    expect(log).toEqual(['A0', 'B0', 'B1', 'A2', 'B2']);
  });

  it('an effect error inside a batch is rethrown by batch(), after every effect ran', () => {
    const s = signal(0);
    const seen: number[] = [];
    effect(() => {
      if (s.get() === 1) throw new Error('bad');
    });
    effect(() => void seen.push(s.get()));
    expect(() => batch(() => s.set(1))).toThrow('bad');
    expect(seen).toEqual([0, 1]);
  });

  it('a cleanup that throws does not stop the re-run; the error reaches the caller (set or stop)', () => {
    const s = signal(0);
    const runs: number[] = [];
    const e = effect(() => {
      runs.push(s.get());
      return () => {
        throw new Error('cleanup failed');
      };
    });
    expect(() => s.set(1)).toThrow('cleanup failed');
    expect(runs).toEqual([0, 1]);
    expect(() => e.stop()).toThrow('cleanup failed');
    s.set(2);
    expect(runs).toEqual([0, 1]);
  });

  it('errors of an effect re-run by a set() inside another effect surface at the outermost set()', () => {
    const a = signal(0);
    const b = signal(0);
    effect(() => b.set(a.get()));
    effect(() => {
      if (b.get() === 1) throw new Error('b is 1');
    });
    expect(() => a.set(1)).toThrow('b is 1');
    expect(() => a.set(2)).not.toThrow();
  });

  it('nested effects are stopped with their parent and re-created when it re-runs', () => {
    const outer = signal(0);
    const inner = signal(0);
    const log: string[] = [];
    const e = effect(() => {
      const o = outer.get();
      effect(() => {
        log.push(`inner ${o}/${inner.get()}`);
        return () => log.push(`inner cleanup ${o}`);
      });
    });
    inner.set(1);
    outer.set(1);
    inner.set(2);
    e.stop();
    inner.set(3);
    expect(log).toEqual([
      'inner 0/0',
      'inner cleanup 0',
      'inner 0/1',
      'inner cleanup 0',
      'inner 1/1',
      'inner cleanup 1',
      'inner 1/2',
      'inner cleanup 1',
    ]);
  });

  it('an effect may write to a signal another effect reads', () => {
    const a = signal(1);
    const b = signal(0);
    const seen: number[] = [];
    effect(() => b.set(a.get() * 2));
    effect(() => void seen.push(b.get()));
    a.set(5);
    expect(seen).toEqual([2, 10]);
  });
});

describe('batch', () => {
  it('runs each effect once, after the batch, with the final values', () => {
    const a = signal(1);
    const b = signal(2);
    const seen: number[] = [];
    effect(() => void seen.push(a.get() + b.get()));
    const r = batch(() => {
      a.set(10);
      b.set(20);
      a.set(100);
      expect(seen).toEqual([3]);
      return 'done';
    });
    expect(r).toBe('done');
    expect(seen).toEqual([3, 120]);
  });

  it('reads inside a batch see the new values (computeds too)', () => {
    const a = signal(1);
    const doubled = computed(() => a.get() * 2);
    batch(() => {
      a.set(5);
      expect(a.get()).toBe(5);
      expect(doubled.get()).toBe(10);
    });
  });

  it('nests: effects run when the outermost batch ends', () => {
    const a = signal(0);
    const seen: number[] = [];
    effect(() => void seen.push(a.get()));
    batch(() => {
      batch(() => a.set(1));
      expect(seen).toEqual([0]);
      a.set(2);
    });
    expect(seen).toEqual([0, 2]);
  });

  it('still runs effects (and rethrows) when the batch throws', () => {
    const a = signal(0);
    const seen: number[] = [];
    effect(() => void seen.push(a.get()));
    expect(() =>
      batch(() => {
        a.set(1);
        throw new Error('oops');
      }),
    ).toThrow('oops');
    expect(seen).toEqual([0, 1]);
    a.set(2);
    expect(seen).toEqual([0, 1, 2]);
  });
});

describe('untracked and isTracking', () => {
  it('untracked reads do not subscribe; isTracking says whether reads subscribe', () => {
    const a = signal(1);
    const b = signal(1);
    let runs = 0;
    const tracking: boolean[] = [];
    expect(isTracking()).toBe(false);
    effect(() => {
      runs++;
      a.get();
      tracking.push(isTracking());
      untracked(() => {
        tracking.push(isTracking());
        return b.get();
      });
      tracking.push(isTracking());
    });
    b.set(2);
    expect(runs).toBe(1);
    a.set(2);
    expect(runs).toBe(2);
    expect(tracking).toEqual([true, false, true, true, false, true]);
  });

  it('returns what fn returns and restores tracking when fn throws', () => {
    expect(untracked(() => 42)).toBe(42);
    const a = signal(0);
    let runs = 0;
    effect(() => {
      runs++;
      try {
        untracked(() => {
          throw new Error('x');
        });
      } catch {
        // ignored: the point is that tracking is restored
      }
      a.get();
    });
    a.set(1);
    expect(runs).toBe(2);
  });
});

describe('glitch freedom', () => {
  it('a diamond recomputes its bottom once per change and never sees a half-updated state', () => {
    const top = signal(1);
    const left = computed(() => top.get() * 2);
    const right = computed(() => top.get() * 3);
    let evals = 0;
    const seenPairs: [number, number][] = [];
    const bottom = computed(() => {
      evals++;
      seenPairs.push([left.get(), right.get()]);
      return left.get() + right.get();
    });
    const out: number[] = [];
    effect(() => void out.push(bottom.get()));
    top.set(2);
    top.set(3);
    expect(out).toEqual([5, 10, 15]);
    expect(evals).toBe(3);
    for (const [l, r] of seenPairs) expect(l / 2).toBe(r / 3);
  });

  it('an effect reading a signal and a computed of it sees them consistent', () => {
    const s = signal(1);
    const double = computed(() => s.get() * 2);
    const seen: [number, number][] = [];
    effect(() => void seen.push([s.get(), double.get()]));
    s.set(2);
    s.set(3);
    expect(seen).toEqual([
      [1, 2],
      [2, 4],
      [3, 6],
    ]);
  });
});
