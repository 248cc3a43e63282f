/**
 * The browser's side of {@link TabLock} and {@link TabChannel}: Web Locks and
 * BroadcastChannel. Where either is missing the client falls back to single-tab and says so.
 */
import type { TabChannel, TabLock } from './types.js';

interface LockManagerLike {
  request(name: string, callback: () => Promise<unknown>): Promise<unknown>;
}
interface BroadcastChannelLike {
  postMessage(m: unknown): void;
  onmessage: ((e: { data: unknown }) => void) | null;
  close(): void;
}
type BroadcastChannelCtor = new (name: string) => BroadcastChannelLike;

/** `navigator.locks` as a {@link TabLock}, or undefined where Web Locks are missing. */
export function webLocks(): TabLock | undefined {
  const locks = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator?.locks;
  if (!locks || typeof locks.request !== 'function') return undefined;
  return {
    request: <T>(name: string, fn: () => Promise<T>) => locks.request(name, fn) as Promise<T>,
  };
}

/** A BroadcastChannel factory, or undefined where BroadcastChannel is missing. */
export function broadcastChannels(): ((name: string) => TabChannel) | undefined {
  const BC = (globalThis as { BroadcastChannel?: BroadcastChannelCtor }).BroadcastChannel;
  if (typeof BC !== 'function') return undefined;
  return (name) => {
    const bc = new BC(name);
    return {
      postMessage: (m) => bc.postMessage(m),
      onMessage: (handler) => {
        bc.onmessage = (e) => handler(e.data);
      },
      close: () => bc.close(),
    };
  };
}
