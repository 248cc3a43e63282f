/**
 * The Svelte driver of the adapter conformance suite (also used by bench/frameworks.bench.ts):
 * runes-mode components compiled in the test; the list reads `queryStore` as `$rows`, a keyed
 * `{#each}` renders one Row per row, and a row counts each update of its template.
 */
import type { AdapterDriver } from '@omnisync/client/testing';
import { type Component, flushSync, mount, unmount } from 'svelte';

/** The driver's components (Svelte sources), by file name. */
export const conformanceFiles: Record<string, string> = {
  'Row.svelte': `<script>
  let { row, onRender } = $props();
  const seen = (r) => { onRender(r.id); return r.title; };
</script>
<li data-id={row.id} data-done={String(row.done)}>{seen(row)}</li>`,
  'List.svelte': `<script>
  import { queryStore } from '@omnisync/svelte';
  import Row from './Row.svelte';
  let { query, onRowRender } = $props();
  const rows = queryStore(query);
</script>
{#if rows.current.status === 'loading'}<p data-testid="loading">loading</p>
{:else if rows.current.status === 'error'}<p role="alert">{rows.current.error.message}</p>
{:else}<ul>{#each rows.current.data as row (row.id)}<Row {row} onRender={onRowRender} />{/each}</ul>{/if}`,
  'Root.svelte': `<script>
  import { setOmniSync } from '@omnisync/svelte';
  import List from './List.svelte';
  let { client, query, onRowRender } = $props();
  setOmniSync(client);
</script>
<List {query} {onRowRender} />`,
};

/** Compile the driver's components (the driver does it on first mount otherwise). */
export async function compileConformanceList(): Promise<Component<any>> {
  // Loaded on demand: the Chromium benchmark bundles this driver with precompiled components.
  const { loadSvelte } = await import('./svelte-loader.js');
  return loadSvelte(conformanceFiles, 'Root.svelte');
}

/** The Svelte driver (compiles its components on first mount unless given them). */
export function svelteDriver(compiled?: Component<any>): AdapterDriver {
  let root: Promise<Component<any>> | undefined = compiled && Promise.resolve(compiled);
  return {
    name: 'Svelte',
    async mount(props, container) {
      root ??= compileConformanceList();
      const app = mount(await root, { target: container, props });
      flushSync();
      return { unmount: () => void unmount(app) };
    },
    act: async (fn) => {
      await fn();
      flushSync();
    },
  };
}
