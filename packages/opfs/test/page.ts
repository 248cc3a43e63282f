/**
 * A loopback origin for OPFS tests and benches: `entry` (page script) and the OPFS worker
 * bundled with esbuild, served beside sqlite3.wasm.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** Chromium's path (CHROMIUM_PATH or Debian's). */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** Flags for headless Chromium here. */
export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
];

const here = fileURLToPath(new URL('.', import.meta.url));
const tsconfig = fileURLToPath(new URL('../../../tsconfig.json', import.meta.url));

const bundle = async (
  options: { stdin?: { contents: string; resolveDir: string; loader: 'js' }; entryPoints?: string[] },
  format: 'iife' | 'esm',
) => {
  const out = await build({
    ...options,
    bundle: true,
    format,
    platform: 'browser',
    write: false,
    tsconfig,
    logLevel: 'silent',
  });
  return out.outputFiles[0]!.text;
};

/** Serve a page running `entry` (JS, resolved from test/) with /worker.js and /sqlite3.wasm. */
export async function serveOpfsPage(entry: string): Promise<{ server: Server; url: string }> {
  const js = await bundle({ stdin: { contents: entry, resolveDir: here, loader: 'js' } }, 'esm');
  const worker = await bundle(
    { entryPoints: [fileURLToPath(new URL('../src/worker.ts', import.meta.url))] },
    'esm',
  );
  const require = createRequire(import.meta.url);
  const wasm = readFileSync(require.resolve('@sqlite.org/sqlite-wasm/sqlite3.wasm'));
  const server = createServer((req, res) => {
    if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else if (req.url === '/worker.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(worker);
    else if (req.url === '/sqlite3.wasm')
      res.writeHead(200, { 'content-type': 'application/wasm' }).end(wasm);
    else if (req.url === '/' || req.url === '/index.html')
      res
        .writeHead(200, { 'content-type': 'text/html' })
        .end('<!doctype html><script type="module" src="/page.js"></script>');
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}
