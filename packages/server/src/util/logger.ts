/**
 * Structured logs (pino, JSON lines on stdout). Level: the `logLevel` option, else
 * `OMNISYNC_LOG_LEVEL`, else `info`. Lines written while an HTTP request runs carry its
 * `requestId` (see observability/request-context.ts).
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { requestLogMixin } from '../observability/request-context.js';

export type { Logger };

/** Log levels pino accepts (plus `silent`). */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

const withMixin = new WeakSet<Logger>();

/** Create the server logger (to stdout, or to `destination`, e.g. a stream a test reads). */
export function createLogger(level?: LogLevel, destination?: DestinationStream): Logger {
  const fromEnv = process.env.OMNISYNC_LOG_LEVEL as LogLevel | undefined;
  const options = {
    level: level ?? fromEnv ?? 'info',
    base: { service: 'omnisync' },
    mixin: requestLogMixin,
  };
  const log = destination ? pino(options, destination) : pino(options);
  withMixin.add(log);
  return log;
}

/** True when `log` adds the request id by itself (made by {@link createLogger}). */
export function logsRequestId(log: Logger): boolean {
  return withMixin.has(log);
}
