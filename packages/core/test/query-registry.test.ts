/**
 * The live query registry holds queries weakly: 100,000 live queries created (half of
 * them subscribed and unsubscribed, half only read) and dropped leave nothing behind once
 * the garbage collector ran, while a query still referenced stays the same instance.
 * Runs the real V8 collector (exposed at runtime), no fake.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { createMemorySource, createQueryEngine, q } from '../src/index.js';

setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

async function settle(): Promise<void> {
  // FinalizationRegistry callbacks run as tasks after a collection.
  for (let i = 0; i < 5; i++) {
    collect();
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('live query registry', () => {
  it('is empty after 100,000 queries were created and dropped; a held query keeps its identity', async () => {
    const source = createMemorySource();
    const engine = createQueryEngine(source);
    engine.applyChanges([
      source.insert('todos', { id: 'a', n: 1 }),
      source.insert('todos', { id: 'b', n: 2 }),
    ]);
    const kept = engine.live(q('todos').where({ n: 1 }));
    kept.subscribe(() => {});
    for (let i = 0; i < 100_000; i++) {
      const lq = engine.live(q('todos').where('n', '>', i).orderBy('n').limit(5));
      if (i % 2 === 0) lq.subscribe(() => {})();
      else void lq.value;
    }
    expect(engine.stats().active).toBe(1);
    await settle();
    expect(engine.stats()).toEqual({ registered: 1, active: 1, collections: 1, indexes: 0 });
    expect(engine.live(q('todos').where({ n: 1 }))).toBe(kept);
  });
});
