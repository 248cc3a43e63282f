// Worker-thread entry of `npm run sim`: loaders given by --import do not reach worker
// threads on Node 20, so the worker registers tsx itself before loading the TypeScript.
import { register } from 'tsx/esm/api';

register();
await import('./cli.ts');
