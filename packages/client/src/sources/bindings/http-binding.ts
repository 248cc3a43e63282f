/**
 * @internal What the GraphQL and SQL bindings share: one JSON POST with the app's dynamic
 * headers, and errors sorted into retryable (network, 5xx, 429, an answer that is not JSON)
 * and final (other 4xx).
 */
import { NetworkError, NonRetriableError, ValidationError } from '@omnisync/core';
import { type HeadersOption, resolveHeaders } from './binding.js';

/** Options every HTTP binding takes. */
export interface HttpBindingOptions {
  /** Where requests go. */
  readonly endpoint: string;
  /**
   * Headers of each request: a record, or a function called before every request (seed 000
   * "dynamic context injection": return a fresh token, refreshing it if needed).
   */
  readonly headers?: HeadersOption;
  /** The fetch to use (default: the global one). */
  readonly fetch?: (
    input: string,
    init: { method: string; headers: Record<string, string>; body: string },
  ) => Promise<Response>;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** @internal Refuse an identifier that could inject into generated query text. */
export function checkIdentifier(name: string, what: string): string {
  if (!IDENTIFIER.test(name))
    throw new ValidationError(
      `${what} ${JSON.stringify(name)} is not a plain identifier (letters, digits, _): rename it or map it in the binding.`,
    );
  return name;
}

/** @internal POST `body` as JSON; the parsed JSON answer, or a typed error. */
export async function postJson(options: HttpBindingOptions, body: unknown): Promise<unknown> {
  const doFetch = options.fetch ?? (globalThis.fetch as NonNullable<HttpBindingOptions['fetch']> | undefined);
  if (doFetch === undefined)
    throw new ValidationError('No fetch available: pass `fetch` in the binding options.');
  const headers = { 'content-type': 'application/json', ...(await resolveHeaders(options.headers)) };
  let res: Response;
  try {
    res = await doFetch(options.endpoint, { method: 'POST', headers, body: JSON.stringify(body) });
  } catch (err) {
    throw new NetworkError(
      `Could not reach ${options.endpoint}: ${err instanceof Error ? err.message : String(err)}. Retrying.`,
      { cause: err },
    );
  }
  const text = await res.text();
  if (!res.ok) {
    const msg = `${options.endpoint} answered ${res.status}: ${text.slice(0, 300)}`;
    // Server trouble and rate limits pass; anything else the request itself is wrong.
    if (res.status >= 500 || res.status === 429 || res.status === 408)
      throw new NetworkError(`${msg}. Retrying.`);
    throw new NonRetriableError(msg);
  }
  try {
    return text === '' ? null : (JSON.parse(text) as unknown);
  } catch {
    // A proxy's error page or a cut body: the request may not have reached the backend.
    throw new NetworkError(
      `${options.endpoint} answered with something that is not JSON: ${text.slice(0, 200)}. Retrying.`,
      { details: { reason: 'invalid_answer' } },
    );
  }
}
