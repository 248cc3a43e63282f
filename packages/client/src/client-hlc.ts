/**
 * The client's HLC. Writes may happen before persistence is loaded, so the clock starts at
 * once and is replaced, after loading, by one restored past the saved high-water mark (a
 * restart never issues a stamp at or below one issued before it).
 *
 * A system clock that was hours ahead and is then put right leaves the high-water mark in
 * the future, and every later stamp with it: each would be refused by the server
 * (`clock_drift`) forever. Once a backend refused a stamp as too far ahead
 * ({@link ClientHlc.refused}; remembered across restarts), a high-water mark further ahead of
 * the clock than the drift limit is known to hold only refused stamps, none of them anyone's
 * truth: the clock starts again from physical time, never below the highest stamp received
 * from others or acknowledged by a backend ({@link ClientHlc.accepted}). Without a refusal a
 * clock that went back (an NTP correction) keeps stamping past the high-water mark: stamps
 * stay monotonic.
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
  /** The highest stamp received from others or acknowledged by a backend. */
  #accepted: string | undefined;
  /** A backend refused a stamp as too far ahead, and none was acknowledged since. */
  #suspect = false;
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
    if (this.#suspect && (pt >= this.#checkAfter || pt < this.#checkFrom)) {
      this.#checkFrom = pt;
      this.#checkAfter = pt + RUNAWAY_CHECK_MS;
      this.#rewindIfRunaway(pt);
    }
    return this.#inner.now();
  }
  receive(remote: string): void {
    this.#inner.receive(remote);
    this.#accept(remote);
  }
  /** A stamp of ours a backend acknowledged: the clock was within the limit. */
  acknowledged(stamp: string): void {
    this.#suspect = false;
    this.#accept(stamp);
  }
  /** A backend refused a stamp of ours as too far ahead of its clock (`clock_drift`). */
  refused(): void {
    this.#suspect = true;
    this.#checkFrom = this.#checkAfter = -Infinity;
  }
  /** Whether a refusal is outstanding (save it with {@link last}). */
  get suspect(): boolean {
    return this.#suspect;
  }
  #accept(stamp: string): void {
    if (this.#accepted === undefined || head(stamp) > head(this.#accepted)) this.#accepted = stamp;
  }
  get last(): string {
    return this.#inner.last;
  }
  /** The highest stamp received from others or acknowledged (save it with {@link last}), if any. */
  get accepted(): string | undefined {
    return this.#accepted;
  }

  /**
   * Continue as `nodeId`, past both `saved` and every stamp issued so far; `accepted` and
   * `suspect`: the saved {@link accepted} and {@link suspect}.
   */
  restore(nodeId: string, saved: string | undefined, accepted?: string, suspect = false): void {
    if (suspect) this.#suspect = true;
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
