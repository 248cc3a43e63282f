import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { propertyParams } from '../test/property.js';
import {
  ClockDriftError,
  compareHlc,
  createHlc,
  encodeHlc,
  HLC_MAX_COUNTER,
  HLC_MAX_DRIFT_MS,
  HlcParseError,
  type HlcStamp,
  isValidHlc,
  parseHlc,
} from './index.js';

const NODE_CHARS = [...'ABCXYZabcxyz0189_-'];
const node = fc.string({ unit: fc.constantFrom(...NODE_CHARS), minLength: 1, maxLength: 6 });
const longNode = fc.string({ unit: fc.constantFrom(...NODE_CHARS), minLength: 60, maxLength: 64 });

/** Wall times spread over the whole range, with many near neighbours and the edges. */
const wall = fc.oneof(
  fc.maxSafeNat(),
  fc.integer({ min: 1_700_000_000_000, max: 1_700_000_000_010 }),
  fc.integer({ min: 0, max: 40 }),
  fc.integer({ min: Number.MAX_SAFE_INTEGER - 3, max: Number.MAX_SAFE_INTEGER }),
);
const counter = fc.oneof(
  fc.integer({ min: 0, max: HLC_MAX_COUNTER }),
  fc.integer({ min: 0, max: 3 }),
  fc.constant(HLC_MAX_COUNTER),
);
const stamp: fc.Arbitrary<HlcStamp> = fc.record({ wall, counter, node: fc.oneof(node, longNode) });

/** A pair of stamps that often share a wall time, or wall and counter. */
const stampPair = fc
  .tuple(stamp, stamp, fc.integer({ min: 0, max: 3 }))
  .map(([a, b, share]): [HlcStamp, HlcStamp] => {
    if (share === 1) return [a, { ...b, wall: a.wall }];
    if (share === 2) return [a, { ...b, wall: a.wall, counter: a.counter }];
    return [a, b];
  });

const sign = (n: number) => (n < 0 ? -1 : n > 0 ? 1 : 0);
const tupleCompare = (a: HlcStamp, b: HlcStamp): number =>
  a.wall !== b.wall
    ? a.wall - b.wall
    : a.counter !== b.counter
      ? a.counter - b.counter
      : a.node < b.node
        ? -1
        : a.node > b.node
          ? 1
          : 0;

describe('HLC properties', () => {
  it('string order of encoded stamps equals (wall, counter, node) order', () => {
    fc.assert(
      fc.property(stampPair, ([a, b]) => {
        const ea = encodeHlc(a);
        const eb = encodeHlc(b);
        const lexical = ea < eb ? -1 : ea > eb ? 1 : 0;
        expect(lexical).toBe(sign(tupleCompare(a, b)));
        expect(compareHlc(ea, eb)).toBe(lexical);
      }),
      propertyParams(),
    );
  });

  it('encode then parse is the identity on stamps', () => {
    fc.assert(
      fc.property(stamp, (s) => {
        const e = encodeHlc(s);
        expect(isValidHlc(e)).toBe(true);
        expect(parseHlc(e)).toEqual(s);
      }),
      propertyParams(),
    );
  });

  it('any string either parses and re-encodes to itself, or throws HlcParseError', () => {
    const mutated = fc
      .tuple(
        stamp,
        fc.nat(),
        fc.constantFrom('delete', 'insert', 'replace'),
        fc.string({ minLength: 1, maxLength: 1 }),
      )
      .map(([s, at, how, ch]) => {
        const e = encodeHlc(s);
        const i = at % (e.length + 1);
        if (how === 'delete') return e.slice(0, i) + e.slice(i + 1);
        if (how === 'insert') return e.slice(0, i) + ch + e.slice(i);
        return e.slice(0, i) + ch + e.slice(i + 1);
      });
    const input = fc.oneof(fc.string({ maxLength: 90 }), mutated, stamp.map(encodeHlc));
    fc.assert(
      fc.property(input, (s) => {
        let parsed: HlcStamp | undefined;
        try {
          parsed = parseHlc(s);
        } catch (e) {
          expect(e).toBeInstanceOf(HlcParseError);
          expect((e as HlcParseError).code).toBe('invalid_hlc');
        }
        expect(isValidHlc(s)).toBe(parsed !== undefined);
        if (parsed) expect(encodeHlc(parsed)).toBe(s);
      }),
      propertyParams(),
    );
  });

  type Op =
    | { k: 'jump'; ms: number }
    | { k: 'now' }
    | { k: 'recv'; ahead: number; counter: number; node: string }
    | { k: 'recvBad' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    {
      weight: 2,
      arbitrary: fc.record({
        k: fc.constant('jump' as const),
        ms: fc.integer({ min: -10_000_000, max: 10_000_000 }),
      }),
    },
    {
      weight: 2,
      arbitrary: fc.record({ k: fc.constant('jump' as const), ms: fc.integer({ min: -5, max: 5 }) }),
    },
    { weight: 4, arbitrary: fc.constant({ k: 'now' as const }) },
    {
      weight: 3,
      arbitrary: fc.record({
        k: fc.constant('recv' as const),
        ahead: fc.oneof(fc.integer({ min: -700_000, max: 700_000 }), fc.integer({ min: -3, max: 3 })),
        counter,
        node,
      }),
    },
    { weight: 1, arbitrary: fc.constant({ k: 'recvBad' as const }) },
  );

  it('stays monotonic under a wall clock that jumps back and forth, with receive() interleaved', () => {
    fc.assert(
      fc.property(
        fc.array(op, { minLength: 1, maxLength: 60, size: 'medium' }),
        fc.option(fc.integer({ min: 0, max: 600_000 }), { nil: undefined }),
        fc.integer({ min: -20_000_000, max: 20_000_000 }),
        (ops, maxDriftMs, restartSkew) => {
          let now = 1_700_000_000_000;
          const clock = { now: () => now };
          const hlc = createHlc({
            nodeId: 'self',
            clock,
            ...(maxDriftMs === undefined ? {} : { maxDriftMs }),
          });
          const drift = maxDriftMs ?? HLC_MAX_DRIFT_MS;
          let high = ''; // greatest stamp issued or accepted so far ('' sorts before all)
          for (const o of ops) {
            if (o.k === 'jump') now += o.ms;
            else if (o.k === 'now') {
              const s = hlc.now();
              expect(s > high).toBe(true);
              expect(parseHlc(s).node).toBe('self');
              expect(hlc.last).toBe(s);
              high = s;
            } else if (o.k === 'recvBad') {
              const before = hlc.last;
              expect(() => hlc.receive('garbage')).toThrow(HlcParseError);
              expect(hlc.last).toBe(before);
            } else {
              const remote = encodeHlc({
                wall: Math.max(0, now + o.ahead),
                counter: o.counter,
                node: o.node,
              });
              const before = hlc.last;
              if (parseHlc(remote).wall - now > drift) {
                expect(() => hlc.receive(remote)).toThrow(ClockDriftError);
                expect(hlc.last).toBe(before);
              } else {
                hlc.receive(remote);
                // the clock is now past the remote stamp and past everything before
                const l = parseHlc(hlc.last);
                const r = parseHlc(remote);
                expect(l.wall > r.wall || (l.wall === r.wall && l.counter > r.counter)).toBe(true);
                expect(hlc.last > before).toBe(true);
                if (hlc.last > high) high = hlc.last;
              }
            }
          }
          // A restart from the saved high-water mark, with a clock anywhere, never goes back.
          const saved = hlc.last;
          const restarted = createHlc({
            nodeId: 'self',
            clock: { now: () => now + restartSkew },
            restore: saved,
          });
          expect(restarted.last).toBe(saved);
          const next = restarted.now();
          expect(next > saved).toBe(true);
          expect(next > high).toBe(true);
        },
      ),
      propertyParams(),
    );
  });

  it('two clocks that exchange stamps order every causally later stamp after its cause', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            from: fc.integer({ min: 0, max: 1 }),
            skew: fc.integer({ min: -100_000, max: 100_000 }),
            send: fc.boolean(),
          }),
          { minLength: 1, maxLength: 40 },
        ),
        (steps) => {
          const skews = [0, 0];
          let base = 1_700_000_000_000;
          const clocks = [0, 1].map((i) =>
            createHlc({ nodeId: `n${i}`, clock: { now: () => base + skews[i]! } }),
          );
          for (const s of steps) {
            skews[s.from] = s.skew;
            base += 1;
            const a = clocks[s.from]!;
            const b = clocks[1 - s.from]!;
            const sent = a.now();
            if (s.send) {
              b.receive(sent);
              expect(b.now() > sent).toBe(true);
            }
          }
        },
      ),
      propertyParams(),
    );
  });
});
