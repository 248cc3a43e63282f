/**
 * `npm run fuzz -- --messages 1000000 [--seed S] [--lanes 4] [--batch 20] [--start M] [--stop-on-violation]`: the fuzz driver (driver.ts)
 * against a real server process, with progress on stderr and a JSON summary on stdout.
 * Exits 1 when the oracle found anything (crash, non-4xx refusal, state change).
 */
import { parseArgs } from 'node:util';
import { runFuzz, type FuzzSummary } from './driver.js';

const { values } = parseArgs({
  options: {
    messages: { type: 'string', default: '100000' },
    seed: { type: 'string' },
    batch: { type: 'string', default: '20' },
    lanes: { type: 'string', default: '4' },
    start: { type: 'string', default: '0' },
    'stop-on-violation': { type: 'boolean', default: false },
  },
});
const messages = Number(values.messages);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
const start = Number(values.start);
if (
  !Number.isInteger(messages) ||
  messages < 1 ||
  !Number.isInteger(seed) ||
  !Number.isInteger(start) ||
  start < 0
) {
  console.error(
    'usage: npm run fuzz -- --messages <n> [--seed <int>] [--lanes <n>] [--batch <n>] [--start <m>] [--stop-on-violation]',
  );
  process.exit(2);
}
const progress = (s: FuzzSummary) => {
  const rate = Math.round((s.sent / s.ms) * 1000);
  const pct = ((s.sent / messages) * 100).toFixed(1);
  process.stderr.write(
    `[fuzz seed ${seed}] ${s.sent}/${messages} (${pct}%) ${rate} msg/s, accepted ${s.accepted}, refused ${s.refused}, digest checks ${s.digestChecks} (covering ${s.refusedVerified} refusals), violations ${s.violations.length}\n`,
  );
};
process.stderr.write(`[fuzz] seed ${seed}, ${messages} messages\n`);
const stop = new AbortController();
// SIGINT/SIGTERM: stop after the current batch and print the summary of what was sent.
process.once('SIGINT', () => stop.abort());
process.once('SIGTERM', () => stop.abort());
const summary = await runFuzz({
  signal: stop.signal,
  onViolation: (v) => {
    process.stderr.write(`[fuzz] VIOLATION ${v}\n`);
    if (values['stop-on-violation']) stop.abort();
  },
  onNote: (v) => process.stderr.write(`[fuzz] note ${v}\n`),
  messages,
  seed,
  batch: Number(values.batch),
  lanes: Number(values.lanes),
  start,
  onProgress: progress,
});
console.log(JSON.stringify(summary, null, 2));
process.exit(summary.violations.length === 0 && !summary.crashed ? 0 : 1);
