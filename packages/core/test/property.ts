/**
 * Shared fast-check configuration for every property test in the repo.
 *
 * - `OMNISYNC_RUNS` sets the number of runs per property (default 1000, as CI requires).
 * - `OMNISYNC_SEED` replays a run; without it a fresh seed is drawn once per test file.
 * - `OMNISYNC_PATH` (optional, with the seed) jumps straight to the shrunk counterexample
 *   that fast-check's failure report names.
 *
 * The seed is printed once per file and fast-check repeats it (with the path) in every
 * failure report, so a red CI log always holds what is needed to replay it locally:
 *
 *     OMNISYNC_SEED=<seed> OMNISYNC_PATH=<path> npx vitest run <file> -t "<test name>"
 */
import type { Parameters } from 'fast-check';

const parseIntEnv = (name: string): number | undefined => {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error(`${name}=${JSON.stringify(raw)} is not an integer.`);
  return n;
};

/** Runs per property: `OMNISYNC_RUNS`, default 1000. */
export const PROPERTY_RUNS: number = Math.max(1, parseIntEnv('OMNISYNC_RUNS') ?? 1000);

/** The seed of this test file's run: `OMNISYNC_SEED`, or drawn now (printed below). */
export const PROPERTY_SEED: number = parseIntEnv('OMNISYNC_SEED') ?? (Math.random() * 2 ** 31) | 0;

const PROPERTY_PATH: string | undefined = process.env.OMNISYNC_PATH || undefined;

let announced = false;

/**
 * fast-check parameters for one property: `numRuns` and `seed` from the environment, plus
 * any other fast-check options. `runsScale` (≥ 1) runs a property more often than the
 * environment says; nothing here can run it less often.
 */
export function propertyParams<T>(
  overrides: Omit<Parameters<T>, 'numRuns' | 'seed' | 'path'> & { runsScale?: number } = {},
): Parameters<T> {
  if (!announced) {
    announced = true;
    console.log(
      `[property] runs=${PROPERTY_RUNS} seed=${PROPERTY_SEED} (replay: OMNISYNC_SEED=${PROPERTY_SEED})`,
    );
  }
  const { runsScale = 1, ...rest } = overrides;
  const params: Parameters<T> = {
    ...rest,
    numRuns: Math.max(PROPERTY_RUNS, Math.ceil(PROPERTY_RUNS * runsScale)),
    seed: PROPERTY_SEED,
  };
  if (PROPERTY_PATH !== undefined) params.path = PROPERTY_PATH;
  return params;
}
