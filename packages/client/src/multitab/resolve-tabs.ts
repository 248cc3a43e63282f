/**
 * `createClient({ multiTab })`: build the tab coordinator, or say why this tab runs alone.
 */
import { type Random, randomId, signal, type ReadonlySignal, ValidationError } from '@omnisync/core';
import type { Persistence } from '../persistence/types.js';
import { broadcastChannels, webLocks } from './browser-tabs.js';
import { TabCoordinator } from './tab-coordinator.js';
import type { MultiTabOptions, TabStatus } from './types.js';

/** @internal What the client gets: a coordinator, or the single-tab status with its reason. */
export type ResolvedTabs =
  | { readonly coordinator: TabCoordinator; readonly status: ReadonlySignal<TabStatus> }
  | { readonly coordinator: undefined; readonly status: ReadonlySignal<TabStatus> };

/** @internal */
export function resolveTabs(
  option: true | MultiTabOptions,
  persistence: Persistence | undefined,
  random: Random,
  onError: (e: Error) => void,
): ResolvedTabs {
  const o: MultiTabOptions = option === true ? {} : option;
  if (!persistence)
    throw new ValidationError(
      'multiTab needs the persistence the tabs share: pass persistence: createIndexedDbPersistence({ name }).',
    );
  const tabId = randomId(random, 10);
  const lock = o.lock ?? webLocks();
  const channel = o.channel ?? broadcastChannels();
  if (!lock || !channel) {
    const missing = [!lock && 'Web Locks (navigator.locks)', !channel && 'BroadcastChannel']
      .filter(Boolean)
      .join(' and ');
    const reason = `${missing} missing in this browser: this tab syncs on its own (single-tab), not through a shared leader.`;
    console.warn(`[omnisync] multiTab: ${reason}`);
    return { coordinator: undefined, status: signal<TabStatus>({ role: 'single', tabId, reason }) };
  }
  const name = o.name ?? persistence.name;
  const coordinator = new TabCoordinator({
    name,
    tabId,
    lock,
    channel: channel(`omnisync:${name}`),
    onError,
  });
  return { coordinator, status: coordinator.status };
}
