import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { normalizeBatch } from './batch.js';
import { createFilePersistence } from './file.js';
import { scanFile } from './file-format.js';
import { assertSameState, cell, prng, randomBatch, ReferenceModel } from './suite-support.js';

const dir = mkdtempSync(join(tmpdir(), 'omnisync-file-compact-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshPath = () => join(dir, `store-${++n}.omnisync`);
const scan = (path: string) => scanFile(readFileSync(path), path);

describe('file persistence compaction', () => {
  it('compact() rewrites the file as one snapshot holding the same state, and commits continue after it', async () => {
    const path = freshPath();
    const model = new ReferenceModel();
    const rand = prng(3);
    let p = createFilePersistence({ path });
    let nonEmpty = 0;
    for (let i = 1; i <= 300; i++) {
      const b = randomBatch(rand, i);
      await p.commit(b);
      model.apply(b);
      if (normalizeBatch(b)) nonEmpty++; // an empty batch writes no record
    }
    const before = statSync(path).size;
    expect(scan(path).records).toBe(nonEmpty);
    await p.compact();
    expect(statSync(path).size).toBeLessThan(before / 5);
    expect(scan(path)).toMatchObject({ records: 1, tornBytes: 0 });
    assertSameState(await p.load(), model.state(), 'after compaction');
    nonEmpty = 0;
    for (let i = 301; i <= 350; i++) {
      const b = randomBatch(rand, i);
      await p.commit(b);
      model.apply(b);
      if (normalizeBatch(b)) nonEmpty++;
    }
    await p.close();
    p = createFilePersistence({ path });
    assertSameState(await p.load(), model.state(), 'snapshot + journal, reopened');
    expect(scan(path).records).toBe(1 + nonEmpty);
    await p.close();
  });

  it('compacts on its own once the journal outgrows compactAfterBytes and the snapshot, keeping the file bounded', async () => {
    const path = freshPath();
    const p = createFilePersistence({ path, compactAfterBytes: 8 * 1024 });
    let largest = 0;
    for (let i = 0; i < 400; i++) {
      // 100 bytes of payload per commit, overwriting the same 10 cells: the state stays small.
      await p.commit({
        cells: [cell('todos', `d${i % 10}`, 'title', `${i}`.padStart(100, '-'), i)],
        putTransactions: [{ id: `t${i % 3}`, i }],
        meta: { i },
      });
      largest = Math.max(largest, statSync(path).size);
    }
    await p.close();
    expect(largest).toBeLessThan(3 * 8 * 1024); // 400 commits of ~200 bytes would be ~80 KiB uncompacted
    const s = scan(path);
    expect(s.baseEnd).toBeGreaterThan(16); // a snapshot is there
    const again = createFilePersistence({ path });
    const state = await again.load();
    expect(state.cells).toHaveLength(10);
    expect(state.transactions.map((t) => t.id)).toEqual(['t0', 't1', 't2']);
    expect(state.meta).toEqual({ i: 399 });
    await again.close();
  });

  it('a leftover temporary file from a compaction that crashed before its rename is ignored and removed', async () => {
    const path = freshPath();
    const p = createFilePersistence({ path });
    await p.commit({ cells: [cell('todos', 'a', 'title', 'kept')] });
    await p.close();
    writeFileSync(`${path}.tmp`, 'half a snapshot');
    const q = createFilePersistence({ path });
    expect((await q.load()).cells.map((c) => c.value)).toEqual(['kept']);
    expect(existsSync(`${path}.tmp`)).toBe(false);
    await q.compact();
    expect(existsSync(`${path}.tmp`)).toBe(false);
    await q.close();
  });

  it('compaction keeps the outbox order of first puts, including re-puts and deletes', async () => {
    const path = freshPath();
    const p = createFilePersistence({ path });
    await p.commit({ putTransactions: [{ id: 'c' }, { id: 'a' }, { id: 'b' }] });
    await p.commit({ putTransactions: [{ id: 'a', v: 2 }], deleteTransactions: ['c'] });
    await p.compact();
    await p.commit({
      putTransactions: [
        { id: 'c', again: true },
        { id: 'a', v: 3 },
      ],
    });
    await p.close();
    const q = createFilePersistence({ path });
    expect((await q.load()).transactions).toEqual([{ id: 'a', v: 3 }, { id: 'b' }, { id: 'c', again: true }]);
    await q.close();
  });
});
