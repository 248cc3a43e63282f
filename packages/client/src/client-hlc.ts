/**
 * The client's HLC. Writes may happen before persistence is loaded, so the clock starts at
 * once and is replaced, after loading, by one restored past the saved high-water mark (a
 * restart never issues a stamp at or below one issued before it).
 */
import { createHlc, type HlcClock, type HlcOptions } from '@omnisync/core';

// Stamps compare as strings, but only on (wall, counter): strip node ids before comparing.
const head = (s: string) => s.slice(0, 18);

/** @internal An HlcClock whose inner clock can be swapped for a restored one. */
export class ClientHlc implements HlcClock {
  #inner: HlcClock;
  /** The newest stamp received from elsewhere (a reseed never goes below it). */
  #received: string | undefined;
  readonly #options: Omit<HlcOptions, 'nodeId' | 'restore'>;

  constructor(nodeId: string, options: Omit<HlcOptions, 'nodeId' | 'restore'>) {
    this.#options = options;
    this.#inner = createHlc({ ...options, nodeId });
  }

  get nodeId(): string {
    return this.#inner.nodeId;
  }
  now(): string {
    return this.#inner.now();
  }
  receive(remote: string): void {
    this.#inner.receive(remote);
    if (this.#received === undefined || head(remote) > head(this.#received)) this.#received = remote;
  }
  get last(): string {
    return this.#inner.last;
  }

  /** Continue as `nodeId`, past both `saved` and every stamp issued so far. */
  restore(nodeId: string, saved: string | undefined): void {
    const current = this.#inner.last;
    const restore = saved !== undefined && head(saved) > head(current) ? saved : current;
    this.#inner = createHlc({ ...this.#options, nodeId, restore });
  }

  /**
   * Forget the stamps issued from a clock that ran ahead (the server refused one with
   * `clock_drift`): continue from the system clock, past every stamp received from elsewhere.
   * Without this the clock keeps the refused future stamp and every later write is refused
   * too, even once the system clock is right. The refused stamps were never accepted, so no
   * replica holds them; own stamps the server did accept were at most the drift limit ahead.
   */
  reseed(): void {
    this.#inner = createHlc({
      ...this.#options,
      nodeId: this.#inner.nodeId,
      ...(this.#received !== undefined ? { restore: this.#received } : {}),
    });
  }
}
