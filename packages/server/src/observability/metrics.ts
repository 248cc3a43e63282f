/**
 * Server metrics in the Prometheus text format (prom-client), on a Registry of this server
 * (never prom-client's global one, so two servers in one process keep their own figures).
 *
 * Counted where the work happens: requests by kind, transport and result code (`ok` or the
 * error's stable code), changes ingested, fan-out time per commit, push → ack time, slow
 * consumer closes, compaction runs. Gauges (open connections, per-app database size) are
 * read when scraped, so they cost nothing between scrapes.
 */
import { toOmniSyncError } from '@omnisync/core';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** What a request was. */
export type RequestKind = 'push' | 'pull' | 'snapshot' | 'cursor';
/** How it arrived. */
export type Transport = 'http' | 'ws';

/** Figures the metrics read at scrape time. */
export interface MetricSources {
  /** Open WebSocket connections (authenticated or not). */
  connections(): number;
  /** Bytes on disk (or in the database) of each open app's storage, where the storage can tell. */
  appSizes(): Promise<readonly (readonly [app: string, bytes: number])[]>;
}

/** The counters and histograms of one server (a no-op set when metrics are off). */
export interface ServerMetrics {
  /** False for the no-op set. */
  readonly enabled: boolean;
  /** Count a finished request: `code` is `ok` or the error's stable code. */
  request(kind: RequestKind, transport: Transport, code: string): void;
  /** Count changes (cells) written by applied mutations. */
  ingested(changes: number): void;
  /** One commit fanned out to `connections` candidate connections in `seconds`. */
  fannedOut(seconds: number): void;
  /** A push acknowledged `seconds` after it arrived. */
  acked(transport: Transport, seconds: number): void;
  /** A connection closed as a slow consumer (4008). */
  slowConsumerClosed(): void;
  /** A compaction run (`timer` or `manual`) finished, or failed. */
  compacted(trigger: 'timer' | 'manual', result: 'ok' | 'failed', changesDropped: number): void;
  /** The Prometheus text exposition of every metric. */
  render(): Promise<{ readonly contentType: string; readonly body: string }>;
}

/** Fan-out of one commit takes well under a millisecond to tens of milliseconds. */
const FANOUT_BUCKETS_S = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5,
];
/** Push → ack: a commit (fsync) dominates, milliseconds to seconds. */
const ACK_BUCKETS_S = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * Create the metrics of one server on a fresh Registry.
 * @example
 * const metrics = createServerMetrics({ connections: () => live.size, appSizes: async () => [] });
 * metrics.request('push', 'http', 'ok');
 * const { contentType, body } = await metrics.render();
 */
export function createServerMetrics(sources: MetricSources): ServerMetrics {
  const registry = new Registry();
  const registers = [registry];
  const requestLabels = ['transport', 'code'] as const;
  const byKind = {
    push: new Counter({
      name: 'omnisync_pushes_total',
      help: 'Push requests by transport and result code (ok, or the error code).',
      labelNames: requestLabels,
      registers,
    }),
    pull: new Counter({
      name: 'omnisync_pulls_total',
      help: 'Pull requests by transport (ws = subscription catch-up) and result code.',
      labelNames: requestLabels,
      registers,
    }),
    snapshot: new Counter({
      name: 'omnisync_snapshots_total',
      help: 'Snapshot requests by transport (ws = subscription catch-up) and result code.',
      labelNames: requestLabels,
      registers,
    }),
    cursor: new Counter({
      name: 'omnisync_cursor_updates_total',
      help: 'Cursor reports by transport and result code.',
      labelNames: requestLabels,
      registers,
    }),
  } satisfies Record<RequestKind, Counter<'transport' | 'code'>>;
  const ingested = new Counter({
    name: 'omnisync_ingested_changes_total',
    help: 'Changes (field cells) written by applied mutations; rate() gives changes per second.',
    registers,
  });
  const fanout = new Histogram({
    name: 'omnisync_fanout_duration_seconds',
    help: 'Time to route one commit to its subscribed connections and queue the messages.',
    buckets: FANOUT_BUCKETS_S,
    registers,
  });
  const ack = new Histogram({
    name: 'omnisync_push_ack_duration_seconds',
    help: 'Push received to ack sent (HTTP: request to response; ws: push message to ack).',
    labelNames: ['transport'],
    buckets: ACK_BUCKETS_S,
    registers,
  });
  const slow = new Counter({
    name: 'omnisync_slow_consumer_closes_total',
    help: 'Connections closed with 4008 because their send buffer overflowed.',
    registers,
  });
  const compactions = new Counter({
    name: 'omnisync_compaction_runs_total',
    help: 'Compaction runs by trigger (timer, manual) and result (ok, failed).',
    labelNames: ['trigger', 'result'],
    registers,
  });
  const compactedChanges = new Counter({
    name: 'omnisync_compacted_changes_total',
    help: 'Change-log entries dropped by compaction.',
    registers,
  });
  new Gauge({
    name: 'omnisync_connections',
    help: 'Open WebSocket connections.',
    registers,
    collect() {
      this.set(sources.connections());
    },
  });
  new Gauge({
    name: 'omnisync_app_database_bytes',
    help: 'Size of each open app database (SQLite file and WAL, or Postgres schema tables).',
    labelNames: ['app'],
    registers,
    async collect() {
      this.reset();
      for (const [app, bytes] of await sources.appSizes()) this.set({ app }, bytes);
    },
  });

  return {
    enabled: true,
    request(kind, transport, code) {
      byKind[kind].inc({ transport, code });
    },
    ingested(changes) {
      if (changes > 0) ingested.inc(changes);
    },
    fannedOut(seconds) {
      fanout.observe(seconds);
    },
    acked(transport, seconds) {
      ack.observe({ transport }, seconds);
    },
    slowConsumerClosed() {
      slow.inc();
    },
    compacted(trigger, result, changesDropped) {
      compactions.inc({ trigger, result });
      if (changesDropped > 0) compactedChanges.inc(changesDropped);
    },
    async render() {
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
  };
}

const noop = () => {};

/** Metrics turned off (`metrics: false`): every call does nothing; `/metrics` answers 404. */
export const noMetrics: ServerMetrics = {
  enabled: false,
  request: noop,
  ingested: noop,
  fannedOut: noop,
  acked: noop,
  slowConsumerClosed: noop,
  compacted: noop,
  render: () => Promise.resolve({ contentType: 'text/plain; version=0.0.4', body: '' }),
};

/** Run a request's work and count its outcome (`ok` or the error's code); pushes are timed to their ack. */
export async function counted<T>(
  metrics: ServerMetrics,
  kind: RequestKind,
  transport: Transport,
  fn: () => Promise<T>,
): Promise<T> {
  if (!metrics.enabled) return fn();
  const t0 = performance.now();
  try {
    const result = await fn();
    metrics.request(kind, transport, 'ok');
    if (kind === 'push') metrics.acked(transport, (performance.now() - t0) / 1000);
    return result;
  } catch (err) {
    metrics.request(kind, transport, toOmniSyncError(err).code);
    throw err;
  }
}
