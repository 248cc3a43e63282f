import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createFilePersistence } from '../../src/persistence/file.js';
import { scanFile } from '../../src/persistence/file-format.js';
import { assertSameState, prng, ReferenceModel } from '../../src/persistence/suite-support.js';
import { startChild } from './child-process.js';
import { killTestBatch } from './kill-batches.js';
import type { PersistenceBatch } from '../../src/persistence/types.js';

const dir = mkdtempSync(join(tmpdir(), 'omnisync-sigkill-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const seed = Number(process.env.OMNISYNC_SEED ?? 0x5eed);
const rounds = Number(process.env.OMNISYNC_KILL_ROUNDS ?? 12);
const compactAfterBytes = 16 * 1024 * 1024;

const hasBigValue = (b: PersistenceBatch) =>
  (b.cells ?? []).some((c) => typeof c.value === 'string' && c.value.length > 1024 * 1024);

describe('file persistence survives SIGKILL (real child process)', () => {
  it(`every acknowledged batch survives, none is applied twice, state = replay of 1..k (seed ${seed}, ${rounds} rounds)`, async () => {
    const path = join(dir, 'killed.omnisync');
    const rand = prng(seed);
    const model = new ReferenceModel();
    let applied = 0; // batches the model holds: k of the previous round
    const stats = { acked: 0, tornTails: 0, interruptedCompactions: 0, unackedButStored: 0 };
    for (let round = 1; round <= rounds; round++) {
      // Where to kill: after a random delay; as soon as the file starts growing (inside a
      // record's write); or once a compaction has started (its .tmp file exists).
      const strategy = (['random delay', 'mid-write', 'mid-compaction'] as const)[round % 3]!;
      const killAfterAcks = 1 + Math.floor(rand() * 25);
      const delayMs = rand() * 250;
      const child = startChild(['run', path, String(seed), String(compactAfterBytes)]);
      let lastAck = applied;
      let acks = 0;
      let poll: ReturnType<typeof setInterval> | undefined;
      const kill = () => {
        clearInterval(poll);
        child.proc.kill('SIGKILL');
      };
      const killWhen = (cond: () => boolean) => (poll = setInterval(() => cond() && kill(), 1));
      if (strategy === 'mid-compaction') killWhen(() => existsSync(`${path}.tmp`));
      child.onLine((line) => {
        const m = /^ACK (\d+)$/.exec(line);
        if (!m) return;
        lastAck = Number(m[1]);
        acks++;
        if (strategy === 'random delay' && acks === killAfterAcks) setTimeout(kill, delayMs);
        if (
          strategy === 'mid-write' &&
          acks >= killAfterAcks &&
          !poll &&
          hasBigValue(killTestBatch(seed, lastAck + 1))
        ) {
          const size = statSync(path).size; // the next record takes a while to write: kill inside it
          killWhen(() => statSync(path).size !== size);
        }
        if (strategy === 'mid-compaction' && acks === 80) kill(); // no compaction came: stop anyway
      });
      expect(await child.waitFor(/^START \d+$/)).toBe(`START ${applied}`); // resumes exactly after what it stored
      const exit = await child.exited;
      expect(exit, `round ${round}: ${child.lines.slice(-3).join(' | ')}`).toMatchObject({
        signal: 'SIGKILL',
      });
      if (strategy !== 'mid-compaction') expect(acks).toBeGreaterThanOrEqual(killAfterAcks);

      const scan = scanFile(readFileSync(path), path);
      if (scan.tornBytes > 0) stats.tornTails++;
      if (existsSync(`${path}.tmp`)) stats.interruptedCompactions++;

      const p = createFilePersistence({ path });
      const state = await p.load();
      await p.close();
      const k = state.meta.n as number;
      // Every acknowledged batch is there; at most the one in flight at the kill is too.
      expect(k).toBeGreaterThanOrEqual(lastAck);
      expect(k).toBeLessThanOrEqual(lastAck + 1);
      if (k > lastAck) stats.unackedButStored++;
      for (let i = applied + 1; i <= k; i++) model.apply(killTestBatch(seed, i));
      applied = k;
      assertSameState(state, model.state(), `round ${round} (seed ${seed}): state after batches 1..${k}`);
      stats.acked += acks;
    }
    console.log(
      `SIGKILL test, seed ${seed}: ${rounds} rounds, ${stats.acked} acks, ${applied} batches stored, kills mid-record (torn tail): ${stats.tornTails}, mid-compaction: ${stats.interruptedCompactions}, unacked-but-stored: ${stats.unackedButStored}`,
    );
  }, 180_000);
});
