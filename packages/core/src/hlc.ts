/**
 * Hybrid logical clock (Kulkarni et al.). A stamp is (wall ms, counter, node id), totally
 * ordered in that order, and encoded as a fixed-width string whose lexicographic order is
 * the stamp order, so storage and merge compare plain strings:
 *
 *     <wall: 11 base-36 digits>-<counter: 6 base-36 digits>-<node id>
 *
 * The physical time comes from an injected {@link Clock}; the clock never goes backwards
 * even when the wall clock does, and its high-water mark can be saved and restored.
 */
import { ClockDriftError, HlcParseError, ValidationError } from './errors.js';
import { type Clock, systemClock } from './clock.js';

/** A decoded stamp. */
export interface HlcStamp {
  readonly wall: number;
  readonly counter: number;
  readonly node: string;
}

const WALL_WIDTH = 11; // 36^11 > 2^53: any safe integer of milliseconds fits
const COUNTER_WIDTH = 6;
/** Largest counter value; past it the clock borrows a millisecond from the future. */
export const HLC_MAX_COUNTER = 36 ** COUNTER_WIDTH - 1;
/** Default refusal threshold for a remote stamp ahead of our physical clock. */
export const HLC_MAX_DRIFT_MS = 5 * 60 * 1000;
const NODE_RE = /^[A-Za-z0-9_-]{1,64}$/;
const HLC_RE = /^([0-9a-z]{11})-([0-9a-z]{6})-([A-Za-z0-9_-]{1,64})$/;

/** The smallest possible stamp: older than every real write. */
export const HLC_ZERO = encodeHlc({ wall: 0, counter: 0, node: '0' });

/** True for a usable node id: 1-64 characters of A-Z, a-z, 0-9, `_` or `-`. */
export function isValidNodeId(node: unknown): node is string {
  return typeof node === 'string' && NODE_RE.test(node);
}

/** Encode a stamp. Throws on an out-of-range part. */
export function encodeHlc(s: HlcStamp): string {
  if (!Number.isSafeInteger(s.wall) || s.wall < 0)
    throw new HlcParseError(`HLC wall time ${s.wall} is not a non-negative safe integer.`);
  if (!Number.isInteger(s.counter) || s.counter < 0 || s.counter > HLC_MAX_COUNTER)
    throw new HlcParseError(`HLC counter ${s.counter} is out of range 0..${HLC_MAX_COUNTER}.`);
  if (!isValidNodeId(s.node))
    throw new HlcParseError(
      `HLC node id ${JSON.stringify(s.node)} must be 1-64 characters of A-Z, a-z, 0-9, _ or -.`,
    );
  return `${s.wall.toString(36).padStart(WALL_WIDTH, '0')}-${s.counter.toString(36).padStart(COUNTER_WIDTH, '0')}-${s.node}`;
}

/** Decode a stamp; a string that does not parse throws {@link HlcParseError}. */
export function parseHlc(hlc: unknown): HlcStamp {
  if (typeof hlc !== 'string') throw new HlcParseError(`An HLC must be a string, got ${typeof hlc}.`);
  const m = HLC_RE.exec(hlc);
  if (!m) {
    throw new HlcParseError(
      `HLC ${JSON.stringify(hlc.slice(0, 100))} does not parse: expected <11 base-36 digits>-<6 base-36 digits>-<node id>, as produced by createHlc().now().`,
    );
  }
  const wall = parseInt(m[1]!, 36);
  if (!Number.isSafeInteger(wall))
    throw new HlcParseError(`HLC ${JSON.stringify(hlc)} has a wall time beyond 2^53.`);
  return { wall, counter: parseInt(m[2]!, 36), node: m[3]! };
}

/** True when the string is a well-formed HLC. Cheaper than parse. */
export function isValidHlc(hlc: unknown): hlc is string {
  return (
    typeof hlc === 'string' &&
    HLC_RE.test(hlc) &&
    parseInt(hlc.slice(0, WALL_WIDTH), 36) <= Number.MAX_SAFE_INTEGER
  );
}

/** Total order of encoded stamps: negative, zero or positive. Plain string order. */
export function compareHlc(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Counters below this have their encoded tail cached per clock. */
const TAILS_CACHED = 4096;

/** Options of {@link createHlc}. */
export interface HlcOptions {
  /** This replica's id (1-64 of A-Z a-z 0-9 _ -). Unique per replica. */
  nodeId: string;
  /** Physical time source; defaults to the system clock. */
  clock?: Clock;
  /** A remote stamp more than this far ahead of our physical time is refused. Default 5 minutes. */
  maxDriftMs?: number;
  /** A saved high-water mark (see {@link HlcClock.last}); the clock never issues a stamp at or below it. */
  restore?: string;
}

/** A running hybrid logical clock for one replica. */
export interface HlcClock {
  readonly nodeId: string;
  /** A new stamp, greater than every stamp issued or received before. */
  now(): string;
  /** Advance past a remote stamp. Throws {@link ClockDriftError} (and changes nothing) when it is too far ahead. */
  receive(remote: string): void;
  /** The high-water mark: save it, and pass it as `restore` after a restart. */
  readonly last: string;
}

/**
 * Create a hybrid logical clock.
 * @example
 * const hlc = createHlc({ nodeId: 'client_1' });
 * const t1 = hlc.now(); const t2 = hlc.now(); // t1 < t2, as strings
 */
export function createHlc(options: HlcOptions): HlcClock {
  const { nodeId } = options;
  if (!isValidNodeId(nodeId))
    throw new ValidationError(
      `nodeId ${JSON.stringify(nodeId)} must be 1-64 characters of A-Z, a-z, 0-9, _ or -.`,
    );
  const clock = options.clock ?? systemClock;
  const maxDrift = options.maxDriftMs ?? HLC_MAX_DRIFT_MS;
  if (!(maxDrift >= 0))
    throw new ValidationError(`maxDriftMs must be a non-negative number, got ${maxDrift}.`);
  let wall = 0;
  let counter = 0;
  if (options.restore !== undefined) {
    const r = parseHlc(options.restore);
    wall = r.wall;
    counter = r.counter;
  }
  // Stamps hold whole milliseconds: a clock with sub-millisecond precision (performance.now
  // style) would otherwise make a wall time that does not encode.
  const physical = (): number => Math.floor(clock.now());
  // Cache of the encoded wall prefix: stamping in a tight loop re-encodes only the counter.
  let prefixWall = -1;
  let prefix = '';
  const suffix = `-${nodeId}`;
  // The counter with the node id after it, for the small counters of a tight loop (built once
  // each, so a stamp is one concatenation): `000000-node`, `000001-node`, …
  const tails: string[] = [];
  const tail = (c: number): string => c.toString(36).padStart(COUNTER_WIDTH, '0') + suffix;
  const encode = (): string => {
    if (wall !== prefixWall) {
      prefixWall = wall;
      prefix = wall.toString(36).padStart(WALL_WIDTH, '0') + '-';
    }
    if (counter >= TAILS_CACHED) return prefix + tail(counter);
    return prefix + (tails[counter] ??= tail(counter));
  };
  const bump = () => {
    if (counter >= HLC_MAX_COUNTER) {
      wall += 1;
      counter = 0;
    } else counter += 1;
  };

  return {
    nodeId,
    now() {
      const pt = physical();
      if (pt > wall) {
        wall = pt;
        counter = 0;
      } else bump();
      return encode();
    },
    receive(remote: string) {
      const r = parseHlc(remote);
      const pt = physical();
      if (r.wall - pt > maxDrift) {
        throw new ClockDriftError(
          `Remote clock ${remote} is ${r.wall - pt} ms ahead of this replica (limit ${maxDrift} ms). Check the system clock of the replica that wrote it, or raise maxDriftMs.`,
          { details: { remote, aheadMs: r.wall - pt, maxDriftMs: maxDrift } },
        );
      }
      if (pt > wall && pt > r.wall) {
        wall = pt;
        counter = 0;
      } else if (r.wall > wall) {
        wall = r.wall;
        counter = r.counter;
        bump();
      } else if (r.wall === wall) {
        counter = Math.max(counter, r.counter);
        bump();
      } else bump();
    },
    get last() {
      return encode();
    },
  };
}
