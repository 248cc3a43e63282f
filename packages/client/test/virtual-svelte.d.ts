/** The precompiled Svelte conformance list of bench/frameworks-page.ts (an esbuild virtual module). */
declare module 'virtual:svelte-conformance' {
  import type { Component } from 'svelte';
  const Root: Component<any>;
  export default Root;
}
