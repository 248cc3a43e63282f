/**
 * How the transport and the server source tell errors apart. Every failure is an
 * OmniSyncError; what matters to the sync loop is only what to do next.
 */
import { OmniSyncError } from '@omnisync/core';

/** What the sync loop does after an error. */
export type ErrorClass =
  /** Network down, timeout, 5xx, 429, an unreadable answer: back off and try again. */
  | 'transient'
  /** 401 even after a token refresh: back off, call the token function again next time. */
  | 'unauthorized'
  /** 403 (another app's token, or not allowed): stop until the app calls `sync()` again. */
  | 'forbidden'
  /** The request itself is bad (400, 404, 413…): retrying the same request cannot help. */
  | 'fatal';

/** Marks an error the transport knows to be temporary (set in `details.transient`). */
export function isMarkedTransient(err: OmniSyncError): boolean {
  return err.details?.['transient'] === true;
}

const TRANSIENT_CODES: ReadonlySet<string> = new Set([
  'network',
  'offline',
  'closed',
  'rate_limited',
  'storage_failed',
  'internal',
  'persistence_failed',
]);

/** Classify any thrown value. */
export function classifyError(err: unknown): ErrorClass {
  if (!(err instanceof OmniSyncError)) return 'transient';
  if (err.code === 'unauthorized') return 'unauthorized';
  if (err.code === 'forbidden') return 'forbidden';
  if (isMarkedTransient(err) || TRANSIENT_CODES.has(err.code)) return 'transient';
  return 'fatal';
}
