/**
 * The named mutators of the simulation, the same object on the clients (optimistic) and the
 * server (authoritative): `bump` adds one to a counter. A counter then counts how often its
 * bump was applied on the server, which makes exactly-once checkable: after quiescence each
 * counter is at least its acknowledged bumps (none lost) and at most the bumps ever issued
 * (none applied twice, whatever was retried, duplicated or replayed after a crash).
 */
import { defineMutators } from '@omnisync/core';

export const COUNTERS = 'counters';
export const COUNTER_IDS = ['k0', 'k1', 'k2'];

export const simMutators = defineMutators({
  async bump(tx, args: { id: string }) {
    const c = await tx.get(COUNTERS, args.id);
    await tx.set(COUNTERS, args.id, { n: ((c?.n as number | undefined) ?? 0) + 1 });
  },
});
