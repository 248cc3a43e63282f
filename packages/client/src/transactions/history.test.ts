import { describe, expect, it } from 'vitest';
import { resolveHistory, TransactionHistory } from './history.js';
import { Transaction } from './transaction.js';

const tx = (id: string, mutations: number) => {
  const t = new Transaction(id, 0, 0, {});
  t.records = [];
  for (let i = 0; i < mutations; i++) t.records.push({} as never);
  return t;
};

describe('transaction history bounds', () => {
  it('keeps the newest, by count and by mutations; a transaction over the whole budget is not kept', () => {
    const h = new TransactionHistory(resolveHistory({ transactions: 3, mutations: 10 }));
    expect(h.add(tx('a', 1))).toEqual([]);
    expect(h.add(tx('b', 1))).toEqual([]);
    expect(h.add(tx('c', 1))).toEqual([]);
    expect(h.add(tx('d', 1))).toEqual(['a']);
    expect(h.add(tx('e', 8))).toEqual(['b']); // 3 kept, 10 mutations: within both bounds
    expect(h.add(tx('f', 2))).toEqual(['c', 'd']); // 12 mutations: the oldest go until it fits
    expect(h.list().map((t) => t.id)).toEqual(['e', 'f']);
    expect(h.add(tx('huge', 11))).toEqual(['huge']);
    expect(h.add(tx('quiet', 11), false)).toEqual([]); // not reported: nobody stores the history
    expect(h.find('f')?.id).toBe('f');
    expect(h.find('a')).toBeUndefined();
    // Unreported evictions still evict.
    expect(h.add(tx('g', 1), false)).toEqual([]);
    expect(h.add(tx('h', 1), false)).toEqual([]);
    expect(h.list().map((t) => t.id)).toEqual(['f', 'g', 'h']);
  });

  it('refuses bad bounds', () => {
    expect(() => resolveHistory(-1)).toThrow(/transactionHistory/);
    expect(resolveHistory(5)).toEqual({ transactions: 5, mutations: 10_000 });
  });
});
