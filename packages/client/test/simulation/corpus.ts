/**
 * The regression corpus of the simulation: seeds that once failed, with the client count
 * they failed with and the first line of the failure. `npm run sim` appends to it; the
 * simulation test replays every entry in CI, so a fixed bug stays fixed.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** One seed that failed once. */
export interface CorpusEntry {
  readonly seed: number;
  readonly clients: number;
  /** The first line of the failure when it was found. */
  readonly error: string;
  /** When it was found (ISO date) and on which commit, if known. */
  readonly found: string;
  /** What fixed it, once fixed (free text). */
  readonly fixed?: string;
  /** The server's storage it failed on (default sqlite). */
  readonly storage?: 'sqlite' | 'postgres';
  /** Server instances it failed with (default 1). */
  readonly servers?: 1 | 2;
}

/** The corpus file, beside this module. */
export const CORPUS_PATH = fileURLToPath(new URL('./regressions.json', import.meta.url));

/** Every entry of the corpus (none when the file does not exist yet). */
export function readCorpus(path = CORPUS_PATH): CorpusEntry[] {
  if (!existsSync(path)) return [];
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  if (!Array.isArray(parsed)) throw new Error(`${path}: the corpus must be a JSON array of entries`);
  return parsed as CorpusEntry[];
}

/** Add entries for seeds not in the corpus yet (by seed and client count); returns how many were new. */
export function addToCorpus(entries: readonly CorpusEntry[], path = CORPUS_PATH): number {
  const corpus = readCorpus(path);
  const key = (e: CorpusEntry) => `${e.seed}/${e.clients}/${e.storage ?? 'sqlite'}/${e.servers ?? 1}`;
  const known = new Set(corpus.map(key));
  const fresh = entries.filter((e) => !known.has(key(e)));
  if (fresh.length > 0) writeFileSync(path, `${JSON.stringify([...corpus, ...fresh], null, 2)}\n`);
  return fresh.length;
}
