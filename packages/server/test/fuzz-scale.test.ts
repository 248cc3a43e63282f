/**
 * The fuzz driver (test/fuzz/driver.ts, `npm run fuzz` for a million messages) in CI: 5 000
 * mutated messages (OMNISYNC_FUZZ_MESSAGES, seed OMNISYNC_SEED) over HTTP and WebSocket to a
 * real `omnisync serve` process. No crash, every refusal a 4xx `{error:{code}}` (or a live
 * error with a known code / a close with a reason), and no state change from any refusal.
 */
import { describe, expect, it } from 'vitest';
import { runFuzz } from './fuzz/driver.js';
import { HTTP_KINDS, LIVE_TYPES } from './fuzz/mutator.js';

const MESSAGES = Number(process.env.OMNISYNC_FUZZ_MESSAGES ?? 5000);
const SEED = Number(process.env.OMNISYNC_SEED ?? Math.floor(Math.random() * 2 ** 31));

describe('fuzz at scale (real server process)', () => {
  it(
    `${MESSAGES} mutated messages of every kind: no crash, coded 4xx refusals, no state change`,
    { timeout: 300_000 },
    async () => {
      const s = await runFuzz({ messages: MESSAGES, seed: SEED, lanes: 2 });
      if (s.violations.length > 0) console.error(`fuzz seed ${SEED}:`, s.violations);
      expect(s.violations).toEqual([]);
      expect(s.crashed).toBe(false);
      expect(s.sent).toBe(MESSAGES);
      // every message kind of both protocols was sent, and some of each answer seen
      for (const k of HTTP_KINDS) expect(s.byKind[`http:${k}`]).toBeGreaterThan(0);
      for (const t of LIVE_TYPES) expect(s.byKind[`ws:${t}`]).toBeGreaterThan(0);
      expect(s.accepted).toBeGreaterThan(0);
      expect(s.refused).toBeGreaterThan(MESSAGES / 4);
      // every refusal sat in a segment whose before/after state digests were compared
      expect(s.refusedVerified).toBe(s.refused);
      expect(s.byStatus['400']).toBeGreaterThan(0);
      expect(s.byStatus['413']).toBeGreaterThan(0);
      expect(Object.keys(s.byStatus).every((st) => st === '200' || /^(4\d\d|closed:E[A-Z]+)$/.test(st))).toBe(
        true,
      );
    },
  );
});
