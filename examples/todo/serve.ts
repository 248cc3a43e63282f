/**
 * Serve the built Todo app and the OmniSync sync server on one port: `/v1/…` (HTTP and the
 * live WebSocket) goes to the sync server, everything else is a static file of `dist/`
 * (unknown paths get `index.html`).
 *
 *     node --import tsx examples/todo/serve.ts [--port 8787] [--host 127.0.0.1] [--data ./data] [--dist examples/todo/dist]
 *
 * Prints `listening <url>` once ready; SIGTERM/SIGINT shut down gracefully.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
// The server from source (tsx): no prior build of the package is needed to serve.
import { createLogger, createServer, type LogLevel } from '../../packages/server/src/index.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
};

/** Options of {@link serveTodo}. */
export interface ServeTodoOptions {
  readonly port?: number;
  readonly host?: string;
  /** Directory of the per-app SQLite files. */
  readonly dataDir: string;
  /** The built app (`vite build` output). */
  readonly distDir: string;
  readonly logLevel?: LogLevel;
}

/** A static file handler for `dir` (no directory listing, no path escapes). */
function staticFiles(dir: string) {
  const root = resolve(dir);
  const send = async (res: ServerResponse, file: string, status = 200) => {
    const info = await stat(file);
    res.writeHead(status, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': info.size,
      // Hashed assets can be cached forever; the HTML must be revalidated to pick up a new build.
      'cache-control': file.includes(`${sep}assets${sep}`)
        ? 'public, max-age=31536000, immutable'
        : 'no-cache',
    });
    createReadStream(file).pipe(res);
  };
  return async (req: IncomingMessage, res: ServerResponse) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const rel = normalize(decodeURIComponent(url.pathname)).replace(/^([/\\])+/, '');
      const file = join(root, rel);
      if (file !== root && !file.startsWith(root + sep)) {
        res.writeHead(403).end('forbidden');
        return;
      }
      const info = await stat(file).catch(() => undefined);
      if (info?.isFile()) await send(res, file);
      else if (extname(rel) === '') await send(res, join(root, 'index.html'));
      else res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    } catch (err) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end(String(err));
    }
  };
}

/** Start the app + sync server. Resolves with its URL and a `close()`. */
export async function serveTodo(options: ServeTodoOptions): Promise<{ url: string; close(): Promise<void> }> {
  await stat(join(options.distDir, 'index.html')).catch(() => {
    throw new Error(
      `${options.distDir}/index.html not found: build the app first (npm run build -w examples/todo).`,
    );
  });
  const server = createServer({ dataDir: options.dataDir, logger: createLogger(options.logLevel ?? 'warn') });
  // The sync server's Node listener serves /v1/…; every other request goes to the static files.
  const http = server.httpServer;
  const sync = http.listeners('request') as ((req: IncomingMessage, res: ServerResponse) => void)[];
  http.removeAllListeners('request');
  const files = staticFiles(options.distDir);
  http.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if ((req.url ?? '/').startsWith('/v1/')) for (const l of sync) l.call(http, req, res);
    else void files(req, res);
  });
  const { url } = await server.listen(options.port ?? 8787, options.host ?? '127.0.0.1');
  return { url, close: () => server.close() };
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      data: { type: 'string' },
      dist: { type: 'string' },
      'log-level': { type: 'string' },
    },
  });
  const here = fileURLToPath(new URL('.', import.meta.url));
  const app = await serveTodo({
    port: Number(values.port ?? process.env.PORT ?? 8787),
    host: values.host ?? '127.0.0.1',
    dataDir: values.data ?? './data',
    distDir: values.dist ?? join(here, 'dist'),
    logLevel: (values['log-level'] ?? 'info') as LogLevel,
  });
  console.log(`listening ${app.url}`);
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(1);
    stopping = true;
    app.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
