// Lint: TypeScript rules plus the layering of DESIGN.md, enforced:
// core imports no other package; client imports core only; react imports client and core;
// server imports core only (never the client).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const layer = (files, forbidden, why) => ({
  files,
  rules: {
    'no-restricted-imports': [
      'error',
      { patterns: forbidden.map((group) => ({ group: [group, `${group}/*`], message: why })) },
    ],
  },
});

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'examples/*/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-constant-condition': ['error', { checkLoops: false }],
    },
  },
  layer(
    ['packages/core/src/**'],
    ['@omnisync/client', '@omnisync/react', '@omnisync/server', 'node:*', 'react'],
    'core is the bottom layer and isomorphic: it imports no other OmniSync package and no Node or DOM module.',
  ),
  layer(
    ['packages/client/src/**'],
    ['@omnisync/react', '@omnisync/server', 'react'],
    'client sits on core only (layering in DESIGN.md).',
  ),
  layer(
    ['packages/react/src/**'],
    ['@omnisync/server'],
    'react is a skin over the client; it never imports the server.',
  ),
  layer(
    ['packages/{vue,svelte,solid}/src/**'],
    ['@omnisync/server', '@omnisync/react', 'react'],
    'framework bindings are skins over the client; they never import the server.',
  ),
  layer(
    ['packages/dexie/src/**'],
    ['@omnisync/server', '@omnisync/react', 'react', 'node:*'],
    'dexie is a client-side bridge over client and core; it never imports the server or Node modules.',
  ),
  layer(
    ['packages/convex/src/**'],
    ['@omnisync/server', '@omnisync/react', 'react'],
    'convex sits on client and core; its server side runs in Convex, never the OmniSync server.',
  ),
  layer(
    ['packages/devtools/src/**'],
    ['@omnisync/server', '@omnisync/react', 'node:*'],
    'devtools is a browser panel over client and core: no server, no Node modules.',
  ),
  layer(
    ['packages/server/src/**'],
    ['@omnisync/client', '@omnisync/react', 'react'],
    'the server never imports the client (layering in DESIGN.md).',
  ),
);
