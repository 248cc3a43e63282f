/**
 * `npm run bench [-- name-filter]`: runs every bench/*.bench.ts in this process, prints
 * each table, and rewrites bench/RESULTS.md with the machine and date.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchFn, BenchSection } from './lib.ts';

const dir = fileURLToPath(new URL('.', import.meta.url));
const filter = process.argv[2];
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts') && (!filter || f.includes(filter)))
  .sort();

const table = (s: BenchSection): string => {
  const head = `| ${s.columns.join(' | ')} |\n|${s.columns.map(() => '---').join('|')}|\n`;
  return head + s.rows.map((r) => `| ${r.join(' | ')} |`).join('\n');
};

const sections: string[] = [];
for (const f of files) {
  const mod = (await import(pathToFileURL(dir + f).href)) as { default: BenchFn };
  process.stdout.write(`\n## ${f}\n`);
  const s = await mod.default();
  const md = `## ${s.title}\n\n_${f}_${s.notes ? `. ${s.notes}` : ''}\n\n${table(s)}\n`;
  console.log(md);
  sections.push(md);
}

const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const header = `# Benchmark results\n\nWritten by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: ${os.cpus().length} × ${cpu}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}. Shared, noisy machine: figures are medians; compare ratios within one run.\n\n`;
if (!filter) writeFileSync(new URL('RESULTS.md', import.meta.url), header + sections.join('\n'));
else console.log(`(filter "${filter}": RESULTS.md not rewritten)`);
