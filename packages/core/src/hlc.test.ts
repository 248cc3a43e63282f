import { describe, expect, it } from 'vitest';
import {
  ClockDriftError,
  compareHlc,
  createHlc,
  createManualScheduler,
  encodeHlc,
  HLC_MAX_COUNTER,
  HLC_MAX_DRIFT_MS,
  HLC_ZERO,
  HlcParseError,
  isValidHlc,
  parseHlc,
  ValidationError,
} from './index.js';

const T0 = 1_700_000_000_000;

describe('HLC encoding', () => {
  it('encodes to fixed-width base-36 parts and parses back', () => {
    const s = encodeHlc({ wall: T0, counter: 5, node: 'n1' });
    expect(s).toBe(`${T0.toString(36).padStart(11, '0')}-000005-n1`);
    expect(parseHlc(s)).toEqual({ wall: T0, counter: 5, node: 'n1' });
    expect(isValidHlc(s)).toBe(true);
  });

  it('HLC_ZERO sorts before any stamp a clock issues', () => {
    const hlc = createHlc({ nodeId: '0', clock: { now: () => 0 } });
    expect(compareHlc(HLC_ZERO, hlc.now())).toBe(-1);
  });

  it('encodes the largest safe wall time and the largest counter', () => {
    const s = encodeHlc({ wall: Number.MAX_SAFE_INTEGER, counter: HLC_MAX_COUNTER, node: 'z' });
    expect(parseHlc(s)).toEqual({ wall: Number.MAX_SAFE_INTEGER, counter: HLC_MAX_COUNTER, node: 'z' });
  });

  it.each([
    ['negative wall', { wall: -1, counter: 0, node: 'n' }],
    ['fractional wall', { wall: 1.5, counter: 0, node: 'n' }],
    ['wall beyond 2^53', { wall: 2 ** 53, counter: 0, node: 'n' }],
    ['counter too large', { wall: 1, counter: HLC_MAX_COUNTER + 1, node: 'n' }],
    ['negative counter', { wall: 1, counter: -1, node: 'n' }],
    ['empty node', { wall: 1, counter: 0, node: '' }],
    ['node with a dot', { wall: 1, counter: 0, node: 'a.b' }],
    ['node of 65 characters', { wall: 1, counter: 0, node: 'x'.repeat(65) }],
  ])('refuses to encode a stamp with a %s (HlcParseError)', (_name, stamp) => {
    expect(() => encodeHlc(stamp)).toThrow(HlcParseError);
  });

  it.each([
    ['a number', 12345],
    ['null', null],
    ['undefined', undefined],
    ['an empty string', ''],
    ['a wall of 10 digits', '000000000a-000000-n'],
    ['a counter of 7 digits', '000loyw3v28-0000000-n'],
    ['upper-case wall digits', '000LOYW3V28-000000-n'],
    ['a missing counter', '000loyw3v28--n'],
    ['a missing node', '000loyw3v28-000000-'],
    ['a node with a space', '000loyw3v28-000000-a b'],
    ['a node of 65 characters', `000loyw3v28-000000-${'x'.repeat(65)}`],
    ['a wall beyond 2^53', 'zzzzzzzzzzz-000000-n'],
    ['trailing garbage after a newline', '000loyw3v28-000000-n\nx'],
  ])('parseHlc refuses %s with HlcParseError (code invalid_hlc)', (_name, bad) => {
    expect(() => parseHlc(bad)).toThrow(HlcParseError);
    expect(() => parseHlc(bad)).toThrow(expect.objectContaining({ code: 'invalid_hlc' }));
    expect(isValidHlc(bad)).toBe(false);
  });
});

describe('createHlc', () => {
  it('issues strictly increasing stamps while the wall clock stands still', () => {
    const clock = createManualScheduler(T0);
    const hlc = createHlc({ nodeId: 'a', clock });
    const a = hlc.now();
    const b = hlc.now();
    expect(parseHlc(a)).toEqual({ wall: T0, counter: 0, node: 'a' });
    expect(parseHlc(b)).toEqual({ wall: T0, counter: 1, node: 'a' });
    clock.advance(1);
    expect(parseHlc(hlc.now())).toEqual({ wall: T0 + 1, counter: 0, node: 'a' });
  });

  it('keeps going forward when the wall clock jumps back an hour', () => {
    let now = T0;
    const hlc = createHlc({ nodeId: 'a', clock: { now: () => now } });
    const before = hlc.now();
    now -= 3_600_000;
    const after = hlc.now();
    expect(after > before).toBe(true);
    expect(parseHlc(after)).toEqual({ wall: T0, counter: 1, node: 'a' });
  });

  it('borrows a millisecond when the counter overflows under a frozen clock', () => {
    const restore = encodeHlc({ wall: T0, counter: HLC_MAX_COUNTER - 1, node: 'a' });
    const hlc = createHlc({ nodeId: 'a', clock: { now: () => T0 }, restore });
    expect(parseHlc(hlc.now())).toEqual({ wall: T0, counter: HLC_MAX_COUNTER, node: 'a' });
    expect(parseHlc(hlc.now())).toEqual({ wall: T0 + 1, counter: 0, node: 'a' });
  });

  it('floors a clock with sub-millisecond precision so stamps always encode', () => {
    const hlc = createHlc({ nodeId: 'a', clock: { now: () => T0 + 0.75 } });
    const s = hlc.now();
    expect(isValidHlc(s)).toBe(true);
    expect(parseHlc(s).wall).toBe(T0);
  });

  it('receive() moves past a remote stamp from the future (within drift)', () => {
    const clock = createManualScheduler(T0);
    const hlc = createHlc({ nodeId: 'a', clock });
    const remote = encodeHlc({ wall: T0 + 1000, counter: 7, node: 'b' });
    hlc.receive(remote);
    expect(parseHlc(hlc.last)).toEqual({ wall: T0 + 1000, counter: 8, node: 'a' });
    expect(hlc.now() > remote).toBe(true);
  });

  it('receive() of an older remote stamp still advances the counter', () => {
    const clock = createManualScheduler(T0);
    const hlc = createHlc({ nodeId: 'a', clock });
    const first = hlc.now();
    hlc.receive(encodeHlc({ wall: T0 - 10, counter: 3, node: 'b' }));
    expect(hlc.last > first).toBe(true);
  });

  it('accepts a remote exactly maxDrift ahead and refuses one a millisecond further, unchanged', () => {
    const clock = createManualScheduler(T0);
    const hlc = createHlc({ nodeId: 'a', clock, maxDriftMs: 1000 });
    hlc.now();
    const before = hlc.last;
    const tooFar = encodeHlc({ wall: T0 + 1001, counter: 0, node: 'b' });
    expect(() => hlc.receive(tooFar)).toThrow(ClockDriftError);
    expect(() => hlc.receive(tooFar)).toThrow(expect.objectContaining({ code: 'clock_drift' }));
    expect(hlc.last).toBe(before);
    hlc.receive(encodeHlc({ wall: T0 + 1000, counter: 0, node: 'b' }));
    expect(parseHlc(hlc.last).wall).toBe(T0 + 1000);
  });

  it('defaults maxDrift to 5 minutes', () => {
    const hlc = createHlc({ nodeId: 'a', clock: { now: () => T0 } });
    expect(HLC_MAX_DRIFT_MS).toBe(300_000);
    expect(() => hlc.receive(encodeHlc({ wall: T0 + 300_001, counter: 0, node: 'b' }))).toThrow(
      ClockDriftError,
    );
    hlc.receive(encodeHlc({ wall: T0 + 300_000, counter: 0, node: 'b' }));
  });

  it('receive() of a string that does not parse throws HlcParseError and changes nothing', () => {
    const hlc = createHlc({ nodeId: 'a', clock: { now: () => T0 } });
    hlc.now();
    const before = hlc.last;
    expect(() => hlc.receive('not-an-hlc')).toThrow(HlcParseError);
    expect(hlc.last).toBe(before);
  });

  it('restores its high-water mark so a restart with a clock behind it never goes backwards', () => {
    const first = createHlc({ nodeId: 'a', clock: { now: () => T0 + 60_000 } });
    first.now();
    const saved = first.last;
    const restarted = createHlc({ nodeId: 'a', clock: { now: () => T0 }, restore: saved });
    expect(restarted.last).toBe(saved);
    expect(restarted.now() > saved).toBe(true);
  });

  it('refuses a bad node id, a negative maxDrift and an unparseable restore', () => {
    expect(() => createHlc({ nodeId: '' })).toThrow(ValidationError);
    expect(() => createHlc({ nodeId: 'a b' })).toThrow(expect.objectContaining({ code: 'invalid_input' }));
    expect(() => createHlc({ nodeId: 'a', maxDriftMs: -1 })).toThrow(ValidationError);
    expect(() => createHlc({ nodeId: 'a', maxDriftMs: Number.NaN })).toThrow(ValidationError);
    expect(() => createHlc({ nodeId: 'a', restore: 'yesterday' })).toThrow(HlcParseError);
  });
});
