/**
 * Answer compression for the sync endpoints: gzip (or deflate) when the request's
 * Accept-Encoding allows it and the answer is at least `threshold` bytes. hono's own
 * `compress()` cannot tell the size of a `c.json` answer (it sets no Content-Length), so it
 * would compress every tiny ack; the answers here are already whole strings, so measuring
 * them costs nothing. CompressionStream keeps this runtime-neutral (Node, Bun, Deno).
 */
import type { MiddlewareHandler } from 'hono';

/** The encoding to use for an Accept-Encoding header, if any (gzip first; `q=0` refuses). */
export function pickEncoding(accept: string | undefined): 'gzip' | 'deflate' | undefined {
  if (!accept) return undefined;
  const allowed = new Set<string>();
  for (const part of accept.split(',')) {
    const [name, ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => /^\s*q=([\d.]+)\s*$/.exec(p)?.[1]).find((v) => v !== undefined);
    if (name && (q === undefined || Number(q) > 0)) allowed.add(name.trim());
  }
  return allowed.has('gzip') ? 'gzip' : allowed.has('deflate') ? 'deflate' : undefined;
}

/** Compress answers of `threshold` bytes and more (default 1 kB). */
export function compressAnswers(threshold = 1024): MiddlewareHandler {
  return async (c, next) => {
    await next();
    const encoding = pickEncoding(c.req.header('accept-encoding'));
    const res = c.res;
    if (!encoding || !res.body || res.headers.has('content-encoding')) return;
    const bytes = await res.arrayBuffer();
    const headers = new Headers(res.headers);
    let body = bytes;
    if (bytes.byteLength >= threshold) {
      try {
        body = await new Response(
          new Response(bytes).body!.pipeThrough(new CompressionStream(encoding)),
        ).arrayBuffer();
        headers.set('content-encoding', encoding);
        headers.append('vary', 'accept-encoding');
      } catch {
        // A runtime without a working CompressionStream: the answer goes out as it is (the
        // write behind it is committed; failing it would only make the client retry).
        body = bytes;
      }
    }
    headers.set('content-length', String(body.byteLength));
    c.res = undefined;
    c.res = new Response(body, { status: res.status, headers });
  };
}
