/**
 * `npm run load -- [--clients 2000] [--minutes 10] [--seconds S] [--room 10] [--slots 5]
 * [--reconnect-every 20] [--gap 3] [--no-pin] [--json file]`:
 * the load run of driver.ts with a line per minute on stderr, the summary on stdout and the
 * whole summary as JSON in `--json <file>` when given. Exits 1 when a check failed.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fmt, formatSummary, runLoad } from './driver.ts';

const { values } = parseArgs({
  options: {
    clients: { type: 'string', default: '2000' },
    minutes: { type: 'string', default: '10' },
    seconds: { type: 'string' },
    room: { type: 'string', default: '10' },
    slots: { type: 'string', default: '5' },
    gap: { type: 'string', default: '3' },
    'reconnect-every': { type: 'string', default: '20' },
    'no-pin': { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});
const clients = Number(values.clients);
const seconds = values.seconds !== undefined ? Number(values.seconds) : Number(values.minutes) * 60;
const room = Number(values.room);
const reconnectEveryS = Number(values['reconnect-every']);
if (
  ![clients, seconds, room, reconnectEveryS].every((x) => Number.isFinite(x) && x >= 0) ||
  clients < 1 ||
  seconds < 10
) {
  console.error(
    'usage: npm run load -- [--clients <n>] [--minutes <m> | --seconds <s> (≥ 10)] [--room <n>] [--slots <n>] [--reconnect-every <s>, 0 = none] [--gap <s>] [--no-pin] [--json <file>]',
  );
  process.exit(2);
}
process.stderr.write(`[load] ${clients} clients, ${seconds} s, rooms of ${room}\n`);
const summary = await runLoad({
  clients,
  seconds,
  room,
  reconnectEveryS,
  slots: Number(values.slots),
  gapS: Number(values.gap),
  pin: !values['no-pin'],
  periodS: Math.min(60, seconds / 2),
  onPeriod: (p) =>
    process.stderr.write(
      `[load] ${fmt(p.atS, 0)} s: ${p.writes} writes, ${p.delivered} delivered, fan-out p50 ${fmt(p.fanout.p50, 1)} p99 ${fmt(p.fanout.p99, 1)} max ${fmt(p.fanout.max, 1)} ms, server RSS ${fmt(p.rssMB, 1)} MB, CPU ${fmt(p.cpuPct, 0)} % (waiting ${fmt(p.waitPct, 0)} %), ${p.outstanding} outstanding, load ${fmt(p.load1, 1)}\n`,
    ),
  onLog: (line) => process.stderr.write(`[load] server log: ${line}\n`),
});
if (values.json) writeFileSync(values.json, JSON.stringify(summary, null, 2));
console.log(formatSummary(summary));
process.exit(summary.ok ? 0 : 1);
