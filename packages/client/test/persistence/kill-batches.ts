/**
 * The batches the SIGKILL restart test commits: batch i is a pure function of (seed, i), so
 * the parent can replay 1..k itself and compare. Some carry a value of up to 6 MiB, so a
 * kill often lands in the middle of writing a record (a torn tail) or of a compaction.
 */
import type { Cell } from '@omnisync/core';
import type { PersistenceBatch } from '../../src/persistence/types.js';
import { cell, prng, tombstone } from '../../src/persistence/suite-support.js';

export function killTestBatch(seed: number, i: number): PersistenceBatch {
  const rand = prng((seed ^ Math.imul(i, 0x9e3779b1)) >>> 0);
  const cells: Cell[] = [];
  for (let k = 1 + Math.floor(rand() * 8); k > 0; k--) {
    const id = `d${Math.floor(rand() * 40)}`;
    if (rand() < 0.08) cells.push(tombstone('todos', id, i));
    else cells.push(cell('todos', id, ['title', 'done', 'meta.n'][Math.floor(rand() * 3)]!, `v${i}`, i));
  }
  if (rand() < 0.35)
    cells.push(
      cell(
        'blobs',
        `b${i % 3}`,
        'data',
        String.fromCharCode(97 + (i % 26)).repeat(Math.floor(rand() * 6 * 1024 * 1024)),
        i,
      ),
    );
  return {
    cells,
    putTransactions: [{ id: `tx${i}`, n: i, state: 'persisting' }],
    ...(i > 4 ? { deleteTransactions: [`tx${i - 4}`] } : {}),
    meta: { n: i, cursor: `c${i}` },
  };
}
