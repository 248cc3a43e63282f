/**
 * Structured logs (pino, JSON lines on stdout). Level: the `logLevel` option, else
 * `OMNISYNC_LOG_LEVEL`, else `info`.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

/** Log levels pino accepts (plus `silent`). */
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Create the server logger. */
export function createLogger(level?: LogLevel): Logger {
  const fromEnv = process.env.OMNISYNC_LOG_LEVEL as LogLevel | undefined;
  return pino({ level: level ?? fromEnv ?? 'info', base: { service: 'omnisync' } });
}
