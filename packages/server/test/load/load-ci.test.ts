/**
 * The load run (driver.ts, `npm run load` for 2,000 clients × 10 minutes) in CI: 200
 * WebSocket clients in rooms of 10, one write a second each, for a minute against a real
 * server process, a client dropping its socket and resuming by cursor every 10 s. Every check
 * but the RSS drift must pass (a minute is too short for a drift figure to mean anything on
 * a shared machine: it is printed). A second, short run (10 clients, 5 s) loses messages
 * on purpose and must fail the checks, so they can fail.
 * OMNISYNC_LOAD_CLIENTS / OMNISYNC_LOAD_SECONDS change the size.
 */
import { describe, expect, it } from 'vitest';
import { formatSummary, runLoad } from './driver.js';

const CLIENTS = Number(process.env.OMNISYNC_LOAD_CLIENTS ?? 200);
const SECONDS = Number(process.env.OMNISYNC_LOAD_SECONDS ?? 60);

describe('load (real server process, real sockets)', () => {
  it(
    `${CLIENTS} clients × ${SECONDS} s: 0 missed, 0 duplicates, every copy equal to the server, no errors; RSS drift reported`,
    { timeout: (SECONDS + 60) * 1000 },
    async () => {
      const s = await runLoad({
        clients: CLIENTS,
        seconds: SECONDS,
        warmupS: Math.min(10, SECONDS / 6),
        sampleS: 2,
        periodS: SECONDS / 3,
        reconnectEveryS: 10,
        gapS: 6,
        drainS: 20,
        pin: false,
        checkDrift: false,
      });
      console.log(formatSummary(s));
      const failed = s.checks.filter((c) => !c.ok);
      expect(failed).toEqual([]);
      const r = s.result;
      expect(r.writes).toBeGreaterThan(CLIENTS * SECONDS * 0.8);
      expect(r.missed).toBe(0);
      expect(r.delivered + r.superseded).toBe(r.expected);
      expect(r.expected).toBe(r.writes * 10);
      expect(r.reconnects).toBeGreaterThanOrEqual(3);
      expect(r.catchUp).toBeGreaterThan(0);
      expect(r.statesDiffering).toBe(0);
      expect(s.rss.length).toBeGreaterThan(SECONDS / 2 - 2);
      expect(Number.isFinite(s.drift.drift)).toBe(true);
    },
  );

  it(
    'the checks fail when deliveries are lost (the load generator ignores every 40th live message)',
    { timeout: 60_000 },
    async () => {
      const s = await runLoad({
        clients: 10,
        seconds: 5,
        warmupS: 1,
        sampleS: 1,
        periodS: 5,
        reconnectEveryS: 0,
        drainS: 2,
        pin: false,
        checkDrift: false,
        loseEvery: 40,
      });
      expect(s.ok).toBe(false);
      expect(s.result.missed).toBeGreaterThan(0);
      expect(s.checks.find((c) => c.name === 'missed')!.ok).toBe(false);
      expect(s.checks.find((c) => c.name === 'acknowledged')!.ok).toBe(true);
    },
  );
});
