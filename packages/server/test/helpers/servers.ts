/** Start real servers on loopback port 0 with their data in a fresh temp dir. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type OmniSyncServer, type SyncHandlerOptions } from '@omnisync/server';

/** A running test server. */
export interface TestServer {
  server: OmniSyncServer;
  url: string;
  dataDir: string;
  close(): Promise<void>;
}

/** A fresh temp directory (removed by the returned function). */
export function tempDir(prefix = 'omnisync-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Start a server (SQLite files in a temp dir, logs silent unless OMNISYNC_LOG_LEVEL). */
export async function startServer(options: SyncHandlerOptions = {}): Promise<TestServer> {
  const { dir, remove } = tempDir();
  const server = createServer({
    dataDir: dir,
    logLevel: (process.env.OMNISYNC_LOG_LEVEL as 'silent' | undefined) ?? 'silent',
    ...options,
  });
  const { url } = await server.listen(0);
  return {
    server,
    url,
    dataDir: dir,
    async close() {
      await server.close();
      remove();
    },
  };
}
