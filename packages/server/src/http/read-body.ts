/**
 * Reading a request body with a size limit: refused from Content-Length when it already
 * says too much, else counted while streaming, so an oversized body is never buffered whole.
 * A body sent with `Content-Encoding: gzip` or `deflate` (clients compress pushes of 1 kB and
 * more once the server said it accepts them, {@link ACCEPTS_ENCODING_HEADER}) is inflated
 * with the same limit on what it inflates to, so a small bomb is refused like a large body.
 */
import { isUtf8 } from 'node:buffer';
import { promisify } from 'node:util';
import { gunzip, inflate } from 'node:zlib';
import { NetworkError, OmniSyncError, PayloadTooLargeError, ProtocolError } from '@omnisync/core';

/** What to do about an oversized body, per endpoint (`readBody`'s `kind`). */
const SHRINK: Record<string, string> = {
  push: 'Push fewer mutations per request, or fewer changes per mutation (split the batch, or a large transaction into smaller ones)',
  pull: 'Send fewer or smaller queries per pull',
  snapshot: 'Send fewer or smaller queries per snapshot',
  cursor: 'Send a smaller cursor request',
};

const tooLarge = (bytes: number, max: number, kind: string | undefined) =>
  new PayloadTooLargeError(
    `The request body is ${bytes} bytes or more, over the limit of ${max} bytes. ${
      (kind !== undefined && SHRINK[kind]) || 'Send a smaller request'
    }, or raise the server's maxBodyBytes.`,
    { details: { maxBytes: max } },
  );

/** Response header naming the request encodings the server inflates (`gzip, deflate`). */
export const ACCEPTS_ENCODING_HEADER = 'OmniSync-Accept-Encoding';
/** Its value. */
export const ACCEPTED_ENCODINGS = 'gzip, deflate';

const inflaters = { gzip: promisify(gunzip), deflate: promisify(inflate) } as const;

/** The request's Content-Encoding, checked: identity (none) or one this server inflates. */
function encodingOf(request: Request): 'gzip' | 'deflate' | undefined {
  const raw = request.headers.get('content-encoding');
  const value = raw?.trim().toLowerCase();
  if (!value || value === 'identity') return undefined;
  if (value === 'gzip' || value === 'x-gzip') return 'gzip';
  if (value === 'deflate') return 'deflate';
  throw new ProtocolError(
    `The request body's Content-Encoding ${JSON.stringify(raw)} is not supported: send it as it is or with gzip or deflate.`,
    { details: { contentEncoding: raw, accepted: ACCEPTED_ENCODINGS } },
  );
}

async function inflateBody(
  bytes: Buffer,
  encoding: 'gzip' | 'deflate',
  maxBytes: number,
  kind: string | undefined,
): Promise<Buffer> {
  try {
    return await inflaters[encoding](bytes, { maxOutputLength: maxBytes });
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE')
      throw tooLarge(maxBytes + 1, maxBytes, kind);
    throw new ProtocolError(
      `The request body says Content-Encoding ${encoding} but does not inflate (${err instanceof Error ? err.message : String(err)}); nothing was applied. Send it compressed whole, or uncompressed.`,
      { details: { contentEncoding: encoding } },
    );
  }
}

/** `details.clientAborted` of the error {@link readBody} throws when the client hung up mid-body. */
export const CLIENT_ABORTED = 'clientAborted';

/** Did the request fail because its client went away (not a server fault: logged at info)? */
export const isClientAbort = (err: OmniSyncError): boolean => err.details?.[CLIENT_ABORTED] === true;

/** A read failure of the body: the client's abort (connection reset, stream aborted) or a bug. */
function readFailed(err: unknown, received: number): unknown {
  if (err instanceof OmniSyncError) return err;
  const code = (err as { code?: unknown } | null)?.code;
  const aborted =
    code === 'ECONNRESET' ||
    code === 'ERR_STREAM_PREMATURE_CLOSE' ||
    (err instanceof Error && (err.message === 'aborted' || err.name === 'AbortError'));
  if (!aborted) return err;
  return new NetworkError(
    `The client closed the connection after ${received} bytes of the request body; nothing was applied. Send the request again.`,
    { cause: err, details: { [CLIENT_ABORTED]: true, receivedBytes: received } },
  );
}

/** The Node request behind a Fetch Request, when running on @hono/node-server. */
export interface NodeIncoming extends AsyncIterable<Buffer> {
  readonly readableEnded?: boolean;
  /** The peer (rate limits key unauthenticated callers by its address). */
  readonly socket?: { readonly remoteAddress?: string | undefined };
  destroy?(): void;
}

/** A request body as text, with its size in bytes (so the decoder need not count them again). */
export interface BodyText {
  readonly text: string;
  readonly bytes: number;
}

/**
 * The body as UTF-8 text, at most `maxBytes`. On Node, `incoming` (the IncomingMessage)
 * is read directly: same limits, without the web-stream wrapping. `kind` (push, pull…)
 * picks the advice of a refusal.
 */
export async function readBody(
  request: Request,
  maxBytes: number,
  incoming?: NodeIncoming,
  kind?: string,
): Promise<BodyText> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(Number(declared), maxBytes, kind);
  const encoding = encodingOf(request);
  const raw = await readRaw(request, maxBytes, incoming, kind);
  return decodeUtf8(encoding ? await inflateBody(raw, encoding, maxBytes, kind) : raw);
}

async function readRaw(
  request: Request,
  maxBytes: number,
  incoming: NodeIncoming | undefined,
  kind: string | undefined,
): Promise<Buffer> {
  if (incoming) return readNode(incoming, maxBytes, kind);
  if (!request.body) return Buffer.alloc(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    let next: ReadableStreamReadResult<Uint8Array>;
    try {
      next = await reader.read();
    } catch (err) {
      throw readFailed(err, total);
    }
    const { done, value } = next;
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(total, maxBytes, kind);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

async function readNode(incoming: NodeIncoming, maxBytes: number, kind: string | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of incoming) {
      total += chunk.length;
      if (total > maxBytes) throw tooLarge(total, maxBytes, kind);
      chunks.push(chunk);
    }
  } catch (err) {
    throw readFailed(err, total);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
}

function decodeUtf8(bytes: Buffer): BodyText {
  if (!isUtf8(bytes)) throw new ProtocolError('The request body is not valid UTF-8; send JSON text.');
  return { text: bytes.toString('utf8'), bytes: bytes.length };
}
