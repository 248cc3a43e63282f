/**
 * The page of the adapter conformance suite in Chromium (bundled by adapter-bundle.ts): the
 * four drivers and the suite's cases, run one at a time from the test through
 * `window.conformance.run(framework, caseName, server?)`. The server case's client talks to
 * the test's real sync server (CORS) with its requests held in the page until `release()`.
 */
import { createClient, type FetchLike } from '@omnisync/client';
import {
  type AdapterDriver,
  adapterCases,
  conformanceRows,
  type HeldServerClient,
} from '@omnisync/client/testing';
import SvelteRoot from 'virtual:svelte-conformance';
import { reactDriver } from '../../react/test/conformance-driver.js';
import { solidDriver } from '../../solid/test/conformance-driver.js';
import { svelteDriver } from '../../svelte/test/conformance-driver.js';
import { vueDriver } from '../../vue/test/conformance-driver.js';

const drivers: Record<string, () => AdapterDriver> = {
  React: () => reactDriver({ useAct: false }),
  Vue: vueDriver,
  Svelte: () => svelteDriver(SvelteRoot),
  Solid: solidDriver,
};

/** Where the test's sync server holds three `items` for `app`. */
interface ServerInfo {
  readonly url: string;
  readonly app: string;
}

function heldClient({ url, app }: ServerInfo): HeldServerClient {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const held: FetchLike = async (input, init) => {
    await gate;
    return fetch(input, init as RequestInit) as never;
  };
  const client = createClient({
    app,
    server: url,
    clientId: 'reader',
    serverOptions: { WebSocket: null, fetch: held },
    onError: () => {},
  });
  client.collection({ id: 'items' });
  return { client, rows: conformanceRows(3), release, close: async () => {} };
}

(window as unknown as { conformance: unknown }).conformance = {
  async run(framework: string, name: string, server?: ServerInfo): Promise<void> {
    const c = adapterCases.find((x) => x.name === name);
    if (c === undefined) throw new Error(`no conformance case "${name}"`);
    await c.run(drivers[framework]!(), server ? { server: async () => heldClient(server) } : {});
  },
};
document.title = 'ready';
