/**
 * A real process using file persistence, for the lock and SIGKILL tests. Run from the repo
 * root (tsx resolves @omnisync/core through tsconfig paths):
 *
 *   node --import tsx file-child.ts hold <path>                 open, print READY, wait
 *   node --import tsx file-child.ts run <path> <seed> <compact> commit batch n+1, n+2…
 *                                                               printing "ACK i" after each resolves
 */
import { createFilePersistence } from '../../src/persistence/file.js';
import { killTestBatch } from './kill-batches.js';

const [mode, path, seedArg, compactArg] = process.argv.slice(2);
const say = (line: string) => process.stdout.write(`${line}\n`);

async function main() {
  if (!path) throw new Error('usage: file-child.ts hold|run <path> [seed] [compactAfterBytes]');
  if (mode === 'hold') {
    const p = createFilePersistence({ path });
    await p.load();
    say('READY');
    setInterval(() => {}, 60_000);
    return;
  }
  if (mode === 'run') {
    const seed = Number(seedArg);
    const p = createFilePersistence({ path, compactAfterBytes: Number(compactArg) });
    const state = await p.load();
    let n = typeof state.meta.n === 'number' ? state.meta.n : 0;
    say(`START ${n}`);
    for (;;) {
      n++;
      await p.commit(killTestBatch(seed, n));
      say(`ACK ${n}`);
    }
  }
  throw new Error(`unknown mode ${String(mode)}`);
}

main().catch((err: unknown) => {
  const e = err as { name?: string; code?: string; message?: string };
  say(`ERROR ${e?.name} ${e?.code} ${String(e?.message).replace(/\n/g, ' ')}`);
  process.exit(1);
});
