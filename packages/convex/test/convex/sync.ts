// An app's convex/sync.ts: the four sync functions, with the conformance suite's rule.
import { defineSyncFunctions } from '../../src/server.js';

export const { push, pull, watchChanges, updateCursor } = defineSyncFunctions({
  rule: (op) => (op.payload?.mustReject === true ? 'mustReject is refused by this app' : undefined),
});
