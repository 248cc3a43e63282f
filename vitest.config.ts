import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (p: string) => fileURLToPath(new URL(`./packages/${p}`, import.meta.url));

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
      { find: /^@omnisync\/convex\/server$/, replacement: src('convex/src/server.ts') },
      { find: /^@omnisync\/convex$/, replacement: src('convex/src/index.ts') },
      { find: /^@omnisync\/react$/, replacement: src('react/src/index.ts') },
      { find: /^@omnisync\/server$/, replacement: src('server/src/index.ts') },
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
  },
});
