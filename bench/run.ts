/**
 * `npm run bench [-- [--only] name-filter]`: runs every bench/*.bench.ts (or those whose file
 * name contains the filter) in this process, prints each table, and writes bench/RESULTS.md
 * with the machine and date. A filtered run replaces only its own sections (each section
 * names its file and the date it ran), keeping the others.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { barChartSvg } from './chart.ts';
import type { BenchFn, BenchSection } from './lib.ts';

const dir = fileURLToPath(new URL('.', import.meta.url));
const args = process.argv.slice(2).filter((a) => a !== '--only');
const filter = args[0];
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts') && (!filter || f.includes(filter)))
  .sort();

const table = (s: BenchSection): string => {
  const head = `| ${s.columns.join(' | ')} |\n|${s.columns.map(() => '---').join('|')}|\n`;
  return head + s.rows.map((r) => `| ${r.join(' | ')} |`).join('\n');
};

const today = new Date().toISOString().slice(0, 10);
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
const cores = `${os.cpus().length} × ${cpu}`;
const sections = new Map<string, string>();
for (const f of files) {
  const mod = (await import(pathToFileURL(dir + f).href)) as { default: BenchFn };
  process.stdout.write(`\n## ${f}\n`);
  const s = await mod.default();
  const charts = (s.charts ?? []).map((c) => {
    mkdirSync(new URL('charts/', import.meta.url), { recursive: true });
    writeFileSync(new URL(`charts/${c.file}`, import.meta.url), barChartSvg(c));
    return `\n![${c.title}](charts/${c.file})\n`;
  });
  const md = `## ${s.title}\n\n_${f}, ${today}, ${cores}_${s.notes ? `. ${s.notes}` : ''}\n\n${table(s)}\n${charts.join('')}`;
  console.log(md);
  sections.set(f, md);
}

const machine = `${cores}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}`;
const resultsUrl = new URL('RESULTS.md', import.meta.url);
if (filter && existsSync(resultsUrl)) {
  // Keep the sections of the files this run did not touch, as they were.
  const old = readFileSync(resultsUrl, 'utf8');
  for (const part of old.split(/^(?=## )/m).slice(1)) {
    const file = /^## .*\n\n_([\w.-]+\.bench\.ts)/.exec(part)?.[1];
    if (file && !sections.has(file)) sections.set(file, part.trimEnd() + '\n');
  }
}
const body = [...sections.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, md]) => md);
const header = `# Benchmark results\n\nWritten by \`npm run bench\` (${filter ? `last run: \`--only ${filter}\` on ${today}` : `full run on ${today}`}): ${machine}. Each section names the date and CPU it ran on. Shared, noisy machine: figures are medians; compare ratios within one run.\n\n`;
writeFileSync(resultsUrl, header + body.join('\n'));
