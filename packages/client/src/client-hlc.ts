/**
 * The client's HLC. Writes may happen before persistence is loaded, so the clock starts at
 * once and is replaced, after loading, by one restored past the saved high-water mark (a
 * restart never issues a stamp at or below one issued before it).
 *
 * A system clock that was hours ahead and is then put right leaves the high-water mark in
 * the future, and every later stamp with it: each would be refused by the server
 * (`clock_drift`) forever. Stamps that far ahead of the clock were refused by every peer, so
 * none of them is anyone's truth: the clock starts again from physical time, but never below
 * the highest stamp it received from others ({@link ClientHlc.accepted}, saved with the
 * high-water mark), so it stays ahead of everything the rest of the system holds.
 */
import {
  createHlc,
  HLC_MAX_DRIFT_MS,
  type HlcClock,
  type HlcOptions,
  parseHlc,
  systemClock,
} from '@omnisync/core';

/** Stamps compare as strings, but only on (wall, counter): node ids are stripped before comparing. */
const head = (s: string) => s.slice(0, 18);
/** How often (ms of the clock) `now()` looks whether the high-water mark ran away from the clock. */
const RUNAWAY_CHECK_MS = 1000;

/** @internal An HlcClock whose inner clock can be swapped for a restored one. */
export class ClientHlc implements HlcClock {
  #inner: HlcClock;
  readonly #options: Omit<HlcOptions, 'nodeId' | 'restore'>;
  /** The highest stamp received from others. */
  #accepted: string | undefined;
  #checkFrom = -Infinity;
  #checkAfter = -Infinity;

  constructor(nodeId: string, options: Omit<HlcOptions, 'nodeId' | 'restore'>) {
    this.#options = options;
    this.#inner = createHlc({ ...options, nodeId });
  }

  get nodeId(): string {
    return this.#inner.nodeId;
  }
  now(): string {
    const pt = (this.#options.clock ?? systemClock).now();
    // Cheap on the write path: looked at once a second, and whenever the clock went back.
    if (pt >= this.#checkAfter || pt < this.#checkFrom) {
      this.#checkFrom = pt;
      this.#checkAfter = pt + RUNAWAY_CHECK_MS;
      this.#rewindIfRunaway(pt);
    }
    return this.#inner.now();
  }
  receive(remote: string): void {
    this.#inner.receive(remote);
    if (this.#accepted === undefined || head(remote) > head(this.#accepted)) this.#accepted = remote;
  }
  get last(): string {
    return this.#inner.last;
  }
  /** The highest stamp received from others (save it with {@link last}), if any. */
  get accepted(): string | undefined {
    return this.#accepted;
  }

  /**
   * Continue as `nodeId`, past both `saved` and every stamp issued so far; `accepted`: the
   * saved {@link accepted}.
   */
  restore(nodeId: string, saved: string | undefined, accepted?: string): void {
    if (accepted !== undefined) {
      parseHlc(accepted); // a damaged value throws (the caller reports the persistence)
      if (this.#accepted === undefined || head(accepted) > head(this.#accepted)) this.#accepted = accepted;
    }
    const current = this.#inner.last;
    const restore = saved !== undefined && head(saved) > head(current) ? saved : current;
    this.#inner = createHlc({ ...this.#options, nodeId, restore });
    this.#checkFrom = this.#checkAfter = -Infinity;
  }

  /** Start again from the clock when the high-water mark is further ahead than any peer accepts. */
  #rewindIfRunaway(pt: number): void {
    const maxDrift = this.#options.maxDriftMs ?? HLC_MAX_DRIFT_MS;
    if (parseHlc(this.#inner.last).wall - Math.floor(pt) <= maxDrift) return;
    const accepted = this.#accepted;
    this.#inner = createHlc({
      ...this.#options,
      nodeId: this.#inner.nodeId,
      ...(accepted !== undefined ? { restore: accepted } : {}),
    });
  }
}
