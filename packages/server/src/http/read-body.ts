/**
 * Reading a request body with a size limit: refused from Content-Length when it already
 * says too much, else counted while streaming, so an oversized body is never buffered whole.
 */
import { PayloadTooLargeError, ProtocolError } from '@omnisync/core';

const tooLarge = (bytes: number, max: number) =>
  new PayloadTooLargeError(
    `The request body is ${bytes} bytes or more, over the limit of ${max} bytes. Push fewer mutations per request (split the batch).`,
    { details: { maxBytes: max } },
  );

/** The body as UTF-8 text, at most `maxBytes`. */
export async function readBody(request: Request, maxBytes: number): Promise<string> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(Number(declared), maxBytes);
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw tooLarge(total, maxBytes);
    }
    chunks.push(value);
  }
  const bytes = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (err) {
    throw new ProtocolError('The request body is not valid UTF-8; send JSON text.', { cause: err });
  }
}
