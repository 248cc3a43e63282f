/**
 * Vite config of the Todo app. The OmniSync packages are bundled from their sources (no
 * prior `tsc` build needed). `/test-harness.html` is a second entry used by the browser
 * tests: it exposes the client persistence suite on `window` to run it against the real
 * IndexedDB of the page.
 */
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const pkg = (p: string) => fileURLToPath(new URL(`../../packages/${p}`, import.meta.url));

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  resolve: {
    alias: [
      { find: /^@omnisync\/core$/, replacement: pkg('core/src/index.ts') },
      { find: /^@omnisync\/client$/, replacement: pkg('client/src/index.ts') },
      { find: /^@omnisync\/client\/testing$/, replacement: pkg('client/src/testing/index.ts') },
      { find: /^@omnisync\/react$/, replacement: pkg('react/src/index.ts') },
      { find: /^@omnisync\/devtools$/, replacement: pkg('devtools/src/index.ts') },
    ],
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    rollupOptions: {
      input: {
        main: fileURLToPath(new URL('./index.html', import.meta.url)),
        harness: fileURLToPath(new URL('./test-harness.html', import.meta.url)),
      },
    },
  },
});
