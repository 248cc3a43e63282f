/**
 * The local-only source: no backend. A write is confirmed as soon as the client's
 * persistence holds it (at once without persistence), then lives in the synced base.
 */
import type { Source } from './types.js';

/**
 * A source with no remote: data stays on this device (persisted if the client has a
 * persistence, in memory otherwise).
 * @example
 * const drafts = client.collection({ id: 'drafts', source: createLocalOnlySource() });
 */
export function createLocalOnlySource(id = 'local'): Source {
  return {
    id,
    kind: 'local',
    // Never called: the engine confirms local writes through persistence itself.
    persist: async () => {},
  };
}
