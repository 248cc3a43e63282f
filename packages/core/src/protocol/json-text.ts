/**
 * Turning received text into a JSON value, safely: size limit first, then a nesting-depth
 * limit checked on the text itself (so a hostile `[[[[…` never reaches a recursive walker),
 * then `JSON.parse`. Every failure is a typed {@link OmniSyncError} with a stable code.
 */
import { PayloadTooLargeError, ProtocolError } from '../errors.js';

/** Default largest accepted message, in bytes (UTF-8). */
export const MESSAGE_MAX_BYTES = 1024 * 1024;
/** Deepest accepted nesting of arrays/objects in a message (cell values allow 32 of it). */
export const MESSAGE_MAX_DEPTH = 64;

/** Limits for {@link parseMessageText}. */
export interface MessageLimits {
  /** Largest accepted message in bytes; default {@link MESSAGE_MAX_BYTES}. */
  maxBytes?: number;
  /** Deepest accepted nesting; default {@link MESSAGE_MAX_DEPTH}. */
  maxDepth?: number;
}

/**
 * The nesting depth of JSON text (arrays and objects), stopping early once past `limit`.
 * Brackets inside strings do not count. Returns a number greater than `limit` when too deep.
 */
export function jsonTextDepth(text: string, limit = Infinity): number {
  let depth = 0;
  let max = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      // Jump to the closing quote (native search), skipping escaped ones.
      for (;;) {
        const q = text.indexOf('"', i + 1);
        if (q < 0) return max; // unterminated: JSON.parse reports it
        let backslashes = 0;
        for (let j = q - 1; text.charCodeAt(j) === 92 /* \ */; j--) backslashes++;
        i = q;
        if (backslashes % 2 === 0) break;
      }
    } else if (c === 91 /* [ */ || c === 123 /* { */) {
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 93 /* ] */ || c === 125 /* } */) depth--;
  }
  return max;
}

/** UTF-8 byte length of a string without allocating. */
export function utf8Length(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/**
 * Parse a received message. Throws {@link PayloadTooLargeError} over `maxBytes`,
 * {@link ProtocolError} for nesting deeper than `maxDepth` or text that is not JSON.
 * `byteLength` may be passed when the caller already knows it (a received Buffer).
 */
export function parseMessageText(text: string, limits: MessageLimits = {}, byteLength?: number): unknown {
  const maxBytes = limits.maxBytes ?? MESSAGE_MAX_BYTES;
  const maxDepth = limits.maxDepth ?? MESSAGE_MAX_DEPTH;
  // Cheap bound first: a UTF-8 byte is at least one UTF-16 unit and at most three per unit.
  const bytes =
    byteLength ?? (text.length > maxBytes || text.length * 3 > maxBytes ? utf8Length(text) : text.length);
  if (bytes > maxBytes) {
    throw new PayloadTooLargeError(
      `The message is ${bytes} bytes, over the limit of ${maxBytes} bytes. Send fewer mutations per push (split the batch) or raise the server's maxBodyBytes.`,
      { details: { bytes, maxBytes } },
    );
  }
  if (jsonTextDepth(text, maxDepth) > maxDepth) {
    throw new ProtocolError(
      `The message is nested deeper than ${maxDepth} levels of arrays/objects; flatten the value (cell values may nest at most 32 levels).`,
      { details: { maxDepth } },
    );
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ProtocolError(
      `The message is not valid JSON (${err instanceof Error ? err.message : String(err)}); send a JSON object as described in the protocol (DESIGN.md, Protocol v1).`,
      { cause: err },
    );
  }
}
