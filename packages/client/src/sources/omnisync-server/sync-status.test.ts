import { NetworkError, UnauthorizedError } from '@omnisync/core';
import { describe, expect, test } from 'vitest';
import {
  initialStatus,
  publicStatus,
  reduceStatus,
  type StatusAction,
  subscriptionStatusOf,
} from './sync-status.js';

const run = (...actions: StatusAction[]) => actions.reduce(reduceStatus, initialStatus());
const net = new NetworkError('down');

describe('server sync status reducer', () => {
  test('connecting → online → syncing → online', () => {
    let s = initialStatus();
    expect(s.state).toBe('connecting');
    s = reduceStatus(s, { type: 'reached', at: 1 });
    expect(s.state).toBe('online');
    s = reduceStatus(s, { type: 'busy', busy: true });
    expect(s.state).toBe('syncing');
    expect(subscriptionStatusOf(s)).toBe('syncing');
    s = reduceStatus(s, { type: 'busy', busy: false });
    expect(s.state).toBe('online');
    expect(subscriptionStatusOf(s)).toBe('ready');
  });

  test('offline keeps the first failure time; partitioned only after the timeout; reaching clears both', () => {
    let s = run({ type: 'reached', at: 0 }, { type: 'unreachable', at: 1000, error: net });
    expect(s).toMatchObject({ state: 'offline', online: false, offlineSince: 1000, partitioned: false });
    s = reduceStatus(s, { type: 'unreachable', at: 5000, error: net });
    expect(s.offlineSince).toBe(1000);
    s = reduceStatus(s, { type: 'partition-check', at: 60_999, timeoutMs: 60_000 });
    expect(s.partitioned).toBe(false);
    s = reduceStatus(s, { type: 'partition-check', at: 61_000, timeoutMs: 60_000 });
    expect(s.partitioned).toBe(true);
    expect(subscriptionStatusOf(s)).toBe('disconnected');
    s = reduceStatus(s, { type: 'reached', at: 70_000 });
    expect(s).toMatchObject({ state: 'online', online: true, partitioned: false });
    expect(s.offlineSince).toBeUndefined();
    expect(s.error).toBeUndefined();
  });

  test('an auth failure is an error state while the server is reachable, cleared by success', () => {
    const err = new UnauthorizedError('no');
    let s = run({ type: 'unreachable', at: 1, error: net }, { type: 'failed', at: 2, error: err });
    expect(s).toMatchObject({ state: 'error', online: true, error: err });
    s = reduceStatus(s, { type: 'busy', busy: true });
    expect(s.state).toBe('error');
    s = reduceStatus(s, { type: 'reached', at: 3 });
    expect(s.state).toBe('syncing');
  });

  test('unchanged actions return the same object; the public status has no busy flag', () => {
    const s = run({ type: 'reached', at: 0 }, { type: 'pending', count: 2 }, { type: 'cursor', cursor: 9 });
    expect(reduceStatus(s, { type: 'pending', count: 2 })).toBe(s);
    expect(reduceStatus(s, { type: 'cursor', cursor: 9 })).toBe(s);
    expect(reduceStatus(s, { type: 'transport', transport: 'polling' })).toBe(s);
    expect(publicStatus(s)).toEqual({
      state: 'online',
      online: true,
      pending: 2,
      partitioned: false,
      transport: 'polling',
      cursor: 9,
    });
  });
});
