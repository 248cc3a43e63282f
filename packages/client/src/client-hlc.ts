/**
 * The client's HLC. Writes may happen before persistence is loaded, so the clock starts at
 * once and is replaced, after loading, by one restored past the saved high-water mark (a
 * restart never issues a stamp at or below one issued before it).
 */
import { createHlc, type HlcClock, type HlcOptions } from '@omnisync/core';

/** @internal An HlcClock whose inner clock can be swapped for a restored one. */
export class ClientHlc implements HlcClock {
  #inner: HlcClock;
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
  }
  get last(): string {
    return this.#inner.last;
  }

  /** Continue as `nodeId`, past both `saved` and every stamp issued so far. */
  restore(nodeId: string, saved: string | undefined): void {
    const current = this.#inner.last;
    // Stamps compare as strings, but only on (wall, counter): strip node ids before comparing.
    const head = (s: string) => s.slice(0, 18);
    const restore = saved !== undefined && head(saved) > head(current) ? saved : current;
    this.#inner = createHlc({ ...this.#options, nodeId, restore });
  }
}
