/**
 * A tiny in-process stand-in for Web Locks, for unit tests where tabs are several clients in
 * one Node process: one holder per name, the others queued in request order. It is a test
 * double of `navigator.locks` and named so; browsers use the real one.
 */
import type { TabLock } from './types.js';

/** Create an in-process exclusive lock (test double of `navigator.locks`). */
export function createInProcessTabLock(): TabLock {
  const tails = new Map<string, Promise<unknown>>();
  return {
    request<T>(name: string, fn: () => Promise<T>): Promise<T> {
      const before = tails.get(name) ?? Promise.resolve();
      const run = before.then(fn, fn);
      const tail = run.catch(() => undefined);
      tails.set(name, tail);
      void tail.then(() => {
        if (tails.get(name) === tail) tails.delete(name);
      });
      return run;
    },
  };
}
