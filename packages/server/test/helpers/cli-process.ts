/** Run the real CLI (`node --import tsx packages/server/src/cli.ts serve …`) as a child process. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** A running CLI server. */
export interface CliServer {
  readonly child: ChildProcess;
  readonly url: string;
  /** Everything it printed. */
  readonly output: () => string;
  /** Resolves with the exit code (or signal) when it exits. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Start `omnisync serve --port 0 …args` and wait for its "listening" log line. */
export async function startCli(args: string[], env: Record<string, string> = {}): Promise<CliServer> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', 'packages/server/src/cli.ts', 'serve', '--port', '0', ...args],
    {
      cwd: ROOT,
      env: { ...process.env, OMNISYNC_LOG_LEVEL: 'info', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`CLI did not start in time:\n${out}`)), 30_000);
    const onData = (d: Buffer) => {
      out += d.toString();
      for (const line of out.split('\n')) {
        if (!line.includes('"listening"')) continue;
        try {
          const { url: u } = JSON.parse(line) as { url: string };
          clearTimeout(timer);
          resolve(u);
          return;
        } catch {
          // partial line
        }
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    void exited.then(({ code, signal }) =>
      reject(new Error(`CLI exited (${code ?? signal}) before listening:\n${out}`)),
    );
  });
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  return { child, url, output: () => out, exited };
}
