/**
 * A loopback HTTP proxy in front of a real GraphQL server that can break the next
 * requests on demand: answer garbage instead of forwarding, or forward and then cut the
 * connection before the answer reaches the client (the server applied the request; the
 * client never hears so). Counts the requests it saw.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What to do with one request. */
export type Fault = 'garbage' | 'cut-after-apply' | 'cut-before-apply';

/** A running fault proxy. */
export interface FaultProxy {
  readonly url: string;
  /** Faults for the next requests, in order (then requests pass). */
  readonly faults: Fault[];
  /** The bodies of every request that came through, parsed. */
  readonly requests: { query: string; variables?: Record<string, unknown> }[];
  close(): Promise<void>;
}

/** Start a proxy forwarding POSTs to `target`. */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const faults: Fault[] = [];
  const requests: FaultProxy['requests'] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      try {
        requests.push(JSON.parse(body));
      } catch {
        requests.push({ query: body });
      }
      const fault = faults.shift();
      if (fault === 'garbage') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('<html>502 Bad Gateway</html>');
        return;
      }
      if (fault === 'cut-before-apply') {
        req.socket.destroy();
        return;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers))
        if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers[k] = v;
      fetch(target, { method: 'POST', headers, body }).then(
        async (up) => {
          const text = await up.text();
          if (fault === 'cut-after-apply') {
            req.socket.destroy();
            return;
          }
          res
            .writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'application/json' })
            .end(text);
        },
        () => req.socket.destroy(),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
    faults,
    requests,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
