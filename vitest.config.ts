import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(`./packages/${p}`, import.meta.url));
const dep = (p: string) => fileURLToPath(new URL(`./node_modules/${p}`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^@omnisync\/core$/, replacement: src('core/src/index.ts') },
      { find: /^@omnisync\/client\/node$/, replacement: src('client/src/node.ts') },
      { find: /^@omnisync\/client\/graphql$/, replacement: src('client/src/graphql.ts') },
      { find: /^@omnisync\/client\/testing$/, replacement: src('client/src/testing/index.ts') },
      { find: /^@omnisync\/client$/, replacement: src('client/src/index.ts') },
      { find: /^@omnisync\/devtools\/react$/, replacement: src('devtools/src/react.tsx') },
      { find: /^@omnisync\/devtools$/, replacement: src('devtools/src/index.ts') },
      { find: /^@omnisync\/dexie$/, replacement: src('dexie/src/index.ts') },
      { find: /^@omnisync\/opfs$/, replacement: src('opfs/src/index.ts') },
      { find: /^@omnisync\/convex\/server$/, replacement: src('convex/src/server.ts') },
      { find: /^@omnisync\/convex$/, replacement: src('convex/src/index.ts') },
      { find: /^@omnisync\/react$/, replacement: src('react/src/index.ts') },
      { find: /^@omnisync\/server$/, replacement: src('server/src/index.ts') },
      { find: /^@omnisync\/vue$/, replacement: src('vue/src/index.ts') },
      { find: /^@omnisync\/svelte$/, replacement: src('svelte/src/index.ts') },
      { find: /^@omnisync\/solid$/, replacement: src('solid/src/index.ts') },
      // Solid and Svelte react only in their 'browser' builds (Node's conditions pick the server
      // ones): the jsdom tests load those, inlined below so the packages' own imports follow.
      { find: /^solid-js$/, replacement: dep('solid-js/dist/dev.js') },
      { find: /^solid-js\/(web|store)$/, replacement: dep('solid-js/$1/dist/dev.js') },
      { find: /^svelte(\/store|\/reactivity)?$/, replacement: dep('svelte/src$1/index-client.js') },
    ],
  },
  test: {
    include: [
      'packages/*/src/**/*.test.{ts,tsx}',
      'packages/*/test/**/*.test.{ts,tsx}',
      'examples/*/test/**/*.test.{ts,tsx}',
    ],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
    server: { deps: { inline: [/node_modules\/(solid-js|svelte\/src)\//] } },
  },
});
