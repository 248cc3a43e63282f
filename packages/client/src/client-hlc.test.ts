/**
 * After a backend refused a stamp as too far ahead, the client HLC starts again from the
 * clock when its high-water mark is further ahead of the clock than any peer accepts (a
 * system clock that was hours ahead and was put right), but never below the highest stamp
 * received from others or acknowledged. Without a refusal it stays monotonic.
 */
import { createHlc, parseHlc } from '@omnisync/core';
import { describe, expect, it } from 'vitest';
import { ClientHlc } from './client-hlc.js';

const HOUR_MS = 3_600_000;
const T0 = 1_800_000_000_000;

describe('ClientHlc', () => {
  it('after a refusal, rewinds a runaway high-water mark to the clock', () => {
    const clock = { now: () => T0 + 3 * HOUR_MS };
    const hlc = new ClientHlc('c1', { clock, maxDriftMs: 60_000 });
    const future = hlc.now();
    hlc.refused();
    clock.now = () => T0;
    const next = hlc.now();
    expect(parseHlc(next).wall).toBe(T0);
    expect(next < future).toBe(true);
  });

  it('without a refusal stays monotonic, even when the clock goes back hours', () => {
    const clock = { now: () => T0 + 3 * HOUR_MS };
    const hlc = new ClientHlc('c1', { clock, maxDriftMs: 60_000 });
    const a = hlc.now();
    clock.now = () => T0;
    expect(hlc.now() > a).toBe(true);
  });

  it('an acknowledged stamp ends the suspicion: later steps back stay monotonic', () => {
    const clock = { now: () => T0 + 3 * HOUR_MS };
    const hlc = new ClientHlc('c1', { clock, maxDriftMs: 60_000 });
    hlc.refused();
    const a = hlc.now();
    hlc.acknowledged(a);
    expect(hlc.suspect).toBe(false);
    clock.now = () => T0;
    expect(hlc.now() > a).toBe(true);
  });

  it('never rewinds below a stamp received from others, also after a restore', () => {
    const clock = { now: () => T0 + 3 * HOUR_MS };
    const hlc = new ClientHlc('c1', { clock, maxDriftMs: 60_000 });
    const peer = createHlc({ nodeId: 'srv', clock: { now: () => T0 + 50_000 } });
    const remote = peer.now();
    hlc.receive(remote);
    hlc.now();
    hlc.refused();
    clock.now = () => T0;
    const next = hlc.now();
    expect(next.slice(0, 18) > remote.slice(0, 18)).toBe(true);

    const restarted = new ClientHlc('c1', { clock, maxDriftMs: 60_000 });
    restarted.restore(
      'c1',
      createHlc({ nodeId: 'c1', clock: { now: () => T0 + 3 * HOUR_MS } }).now(),
      hlc.accepted,
      true,
    );
    const after = restarted.now();
    expect(parseHlc(after).wall).toBeLessThan(T0 + HOUR_MS);
    expect(after.slice(0, 18) > remote.slice(0, 18)).toBe(true);
  });

  it('refuses a damaged saved accepted stamp', () => {
    const hlc = new ClientHlc('c1', {});
    expect(() => hlc.restore('c1', undefined, 'not-an-hlc')).toThrow();
  });
});
