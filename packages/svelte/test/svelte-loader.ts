/**
 * Compile Svelte components in a test (no Vite plugin): `svelte/compiler`'s `compile()` turns
 * each source into a client module, written to a temporary folder in this package (the test
 * runner loads files under the project root) with its bare imports
 * pointed at absolute files (svelte's client runtime, this package's source), then imported.
 * Used by the tests and by bench/frameworks.bench.ts.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Component } from 'svelte';
import { compile } from 'svelte/compiler';

const here = dirname(fileURLToPath(import.meta.url));
const svelteRoot = join(here, '../../../node_modules/svelte');
const exportsMap = JSON.parse(readFileSync(join(svelteRoot, 'package.json'), 'utf8')).exports as Record<
  string,
  string | Record<string, unknown>
>;

/** The file a `svelte/...` import loads in a browser. */
function svelteFile(spec: string): string {
  const entry = exportsMap[spec === 'svelte' ? '.' : `./${spec.slice('svelte/'.length)}`];
  if (entry === undefined) throw new Error(`svelte has no export ${spec}`);
  const pick = (e: unknown): string | undefined =>
    typeof e === 'string'
      ? e
      : e && typeof e === 'object'
        ? pick((e as Record<string, unknown>).browser ?? (e as Record<string, unknown>).default)
        : undefined;
  const rel = pick(entry);
  if (rel === undefined) throw new Error(`no browser file for ${spec}`);
  return join(svelteRoot, rel);
}

const extra: Record<string, string> = {
  '@omnisync/svelte': join(here, '../src/index.ts'),
};

/**
 * Compile `files` (name → Svelte source; imports between them by `./Name.svelte`) and
 * return the default export of `entry`.
 */
export async function loadSvelte(files: Record<string, string>, entry: string): Promise<Component<any>> {
  const out = mkdtempSync(join(here, '.compiled-'));
  for (const [name, source] of Object.entries(files)) {
    const { js } = compile(source, { filename: name, generate: 'client', dev: false });
    const code = js.code.replace(/from\s+['"]([^'"]+)['"]/g, (m, spec: string) => {
      if (spec.endsWith('.svelte')) return `from '${spec}.js'`;
      if (spec === 'svelte' || spec.startsWith('svelte/')) return `from '${svelteFile(spec)}'`;
      if (extra[spec]) return `from '${extra[spec]}'`;
      return m;
    });
    writeFileSync(
      join(out, `${name}.js`),
      code.replace(
        /import\s+['"](svelte\/[^'"]+)['"]/g,
        (_m, spec: string) => `import '${svelteFile(spec)}'`,
      ),
    );
  }
  try {
    const mod = (await import(/* @vite-ignore */ join(out, `${entry}.js`))) as {
      default: Component<any>;
    };
    return mod.default;
  } finally {
    // Loaded modules stay loaded; the files are not needed any more.
    rmSync(out, { recursive: true, force: true });
  }
}
