// The four sync functions of @omnisync/convex, as an app exports them.
import { defineSyncFunctions } from '../../packages/convex/src/server.ts';

export const { push, pull, watchChanges, updateCursor } = defineSyncFunctions();
