/**
 * The state the capture middleware and the bridge share: which tables are synced, which
 * Dexie transactions apply remote changes (never captured), and the replica's HLC.
 */
import { type Clock, createHlc, type HlcClock, type Random, randomId } from '@omnisync/core';
import { type DBCore, type DBCoreTransaction, Dexie } from 'dexie';
import { type ClockState, STATE_STORE } from './stores.js';

/** Shared by the middleware (capture) and the bridge (remote apply, sync). */
export interface CaptureState {
  /** Names of the synced tables. */
  readonly tables: ReadonlySet<string>;
  /** DBCore transactions that apply remote changes: their writes are not captured. */
  readonly remote: WeakSet<DBCoreTransaction>;
  /** Physical time of the HLC. */
  readonly wallClock: Clock;
  /** Randomness for a new replica's node id. */
  readonly random: Random;
  /** The replica's HLC, once loaded from the state store. */
  clock: HlcClock | undefined;
  /** Called after a transaction captured writes into the outbox (not after it commits). */
  onCaptured(): void;
}

/**
 * The replica's HLC, read from the state store inside `trans` the first time (so the only
 * thing a capturing transaction ever waits for is its own requests; a Dexie promise chain,
 * see the middleware).
 */
export function ensureClock(
  down: DBCore,
  trans: DBCoreTransaction,
  state: CaptureState,
): PromiseLike<HlcClock> {
  if (state.clock) return Dexie.Promise.resolve(state.clock);
  return down
    .table(STATE_STORE)
    .get({ trans, key: 'clock' })
    .then((row: ClockState | undefined) => {
      state.clock ??= createHlc({
        nodeId: row?.nodeId ?? randomId(state.random, 16),
        clock: state.wallClock,
        ...(row ? { restore: row.last } : {}),
      });
      return state.clock;
    });
}
