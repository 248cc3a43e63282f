/**
 * Automatic compaction (seed 004's GcManager): every `everyMs`, each open app's change log is
 * cut to its newest `keepChanges` entries. Tombstones stay (see `SyncStorage.gc`), so any
 * horizon is safe: a client behind it gets `reset` and snapshots, and its writes to deleted
 * documents still lose to the delete. Failures are logged, never thrown; ticks never overlap.
 */
import { ValidationError } from '@omnisync/core';
import type { Logger } from '../util/logger.js';
import type { AppState } from './app-registry.js';

/** Automatic compaction of each app's change log. */
export interface CompactionOptions {
  /** Keep this many of the newest change-log entries per app (at least 1); older ones are dropped. */
  readonly keepChanges: number;
  /** How often open apps are checked, in ms (default 60 000, at least 10). */
  readonly everyMs?: number;
}

const EVERY_MS = 60_000;

/** Validate compaction options; throws ValidationError saying what is wrong. */
export function resolveCompaction(
  o: CompactionOptions | false | undefined,
): Required<CompactionOptions> | undefined {
  if (o === undefined || o === false) return undefined;
  if (typeof o !== 'object' || o === null)
    throw new ValidationError('compaction must be { keepChanges, everyMs? } or false.', {
      details: { option: 'compaction' },
    });
  const { keepChanges, everyMs = EVERY_MS } = o;
  if (!Number.isSafeInteger(keepChanges) || keepChanges < 1)
    throw new ValidationError(
      `compaction.keepChanges must be a positive integer (change-log entries kept per app), got ${String(keepChanges)}.`,
      { details: { option: 'compaction.keepChanges' } },
    );
  if (!Number.isSafeInteger(everyMs) || everyMs < 10)
    throw new ValidationError(
      `compaction.everyMs must be an integer of at least 10 ms, got ${String(everyMs)}.`,
      {
        details: { option: 'compaction.everyMs' },
      },
    );
  return { keepChanges, everyMs };
}

/** Told of each app's compaction run (the metrics). */
export type CompactionListener = (result: 'ok' | 'failed', changesDropped: number) => void;

/** Compacts the open apps on a timer until stopped. */
export class Compactor {
  readonly #options: Required<CompactionOptions>;
  readonly #apps: () => Iterable<Promise<AppState>>;
  readonly #log: Logger;
  readonly #timer: ReturnType<typeof setInterval>;
  #running: Promise<void> | undefined;
  readonly #onRun: CompactionListener | undefined;

  constructor(
    options: Required<CompactionOptions>,
    apps: () => Iterable<Promise<AppState>>,
    log: Logger,
    onRun?: CompactionListener,
  ) {
    this.#onRun = onRun;
    this.#options = options;
    this.#apps = apps;
    this.#log = log;
    this.#timer = setInterval(() => {
      this.#running ??= this.#tick().finally(() => (this.#running = undefined));
    }, options.everyMs);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    for (const opening of [...this.#apps()]) {
      let state: AppState;
      try {
        state = await opening;
      } catch {
        continue; // failed to open: the request that opened it reported that
      }
      try {
        const res = await state.lock.run(async () => {
          const head = await state.storage.read((r) => r.head());
          const olderThanVersion = head - this.#options.keepChanges + 1;
          return olderThanVersion > 1 ? state.storage.gc({ olderThanVersion }) : undefined;
        });
        this.#onRun?.('ok', res?.changesDropped ?? 0);
        if (res && res.changesDropped > 0)
          this.#log.info(
            { app: state.app, horizon: res.horizon, changesDropped: res.changesDropped },
            'change log compacted',
          );
      } catch (err) {
        this.#onRun?.('failed', 0);
        this.#log.warn({ app: state.app, err }, 'compaction failed; retried at the next interval');
      }
    }
  }

  /** Stop the timer and wait for a running pass. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }
}
