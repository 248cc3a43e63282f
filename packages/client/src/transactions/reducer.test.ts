import { InvalidStateError } from '@omnisync/core';
import { describe, expect, it } from 'vitest';
import { canTransition, initialSnapshot, reduceTransaction, type TransactionAction } from './reducer.js';

const err = new Error('x');

describe('transaction reducer (seed 001 states)', () => {
  it('walks pending → persisting → persisted_awaiting_sync → completed, recording attempts', () => {
    let s = initialSnapshot('t', 1000);
    s = reduceTransaction(s, { type: 'attempt:start', at: 1001, attemptId: 't#1' });
    expect(s.state).toBe('persisting');
    s = reduceTransaction(s, { type: 'attempt:failed', at: 1002, error: err, retryAt: 2002 });
    expect(s.state).toBe('persisting'); // keeps its lock while waiting for the retry
    expect(s.attempts[0]).toEqual({
      id: 't#1',
      started_at: new Date(1001),
      completed_at: new Date(1002),
      error: err,
      retry_scheduled_for: new Date(2002),
    });
    s = reduceTransaction(s, { type: 'attempt:start', at: 2002, attemptId: 't#2' });
    s = reduceTransaction(s, { type: 'persisted', at: 2003 });
    expect(s.state).toBe('persisted_awaiting_sync');
    expect(s.attempts[1]!.completed_at).toEqual(new Date(2003));
    s = reduceTransaction(s, { type: 'synced', at: 2004 });
    expect(s).toMatchObject({ state: 'completed', current_attempt: 2, updated_at: new Date(2004) });
  });

  it('settled completes a persisting transaction in one step and closes its attempt', () => {
    let s = reduceTransaction(initialSnapshot('t', 1000), {
      type: 'attempt:start',
      at: 1001,
      attemptId: 't#1',
    });
    s = reduceTransaction(s, { type: 'settled', at: 1002 });
    expect(s).toMatchObject({ state: 'completed', current_attempt: 1, updated_at: new Date(1002) });
    expect(s.attempts).toEqual([{ id: 't#1', started_at: new Date(1001), completed_at: new Date(1002) }]);
    expect(() => reduceTransaction(initialSnapshot('u', 0), { type: 'settled', at: 1 })).toThrow(
      /cannot take/,
    );
  });

  it('committed completes a pending local commit in one step, with one closed attempt', () => {
    const s = reduceTransaction(initialSnapshot('t', 1000), {
      type: 'committed',
      at: 1001,
      attemptId: 't#1',
    });
    expect(s).toMatchObject({ state: 'completed', current_attempt: 1, updated_at: new Date(1001) });
    expect(s.attempts).toEqual([{ id: 't#1', started_at: new Date(1001), completed_at: new Date(1001) }]);
    const persisting = reduceTransaction(initialSnapshot('u', 0), {
      type: 'attempt:start',
      at: 1,
      attemptId: 'u#1',
    });
    expect(() => reduceTransaction(persisting, { type: 'committed', at: 2, attemptId: 'u#2' })).toThrow(
      /cannot take/,
    );
  });

  it('queues and unqueues, and a dependency failure keeps the holder id', () => {
    let s = reduceTransaction(initialSnapshot('t', 0), { type: 'queue', at: 1, behind: 'h' });
    expect(s).toMatchObject({ state: 'queued', queued_behind: 'h' });
    s = reduceTransaction(s, { type: 'unqueue', at: 2 });
    expect(s.state).toBe('pending');
    expect('queued_behind' in s).toBe(false);
    s = reduceTransaction(reduceTransaction(s, { type: 'queue', at: 3, behind: 'h' }), {
      type: 'fail',
      at: 4,
      error: { transaction_id: 'h', message: 'dep', error: err },
    });
    expect(s).toMatchObject({ state: 'failed', error: { transaction_id: 'h' } });
  });

  it.each<[string, TransactionAction]>([
    ['completed', { type: 'attempt:start', at: 0, attemptId: 'a' }],
    ['failed', { type: 'synced', at: 0 }],
    ['pending', { type: 'persisted', at: 0 }],
    ['queued', { type: 'attempt:start', at: 0, attemptId: 'a' }],
  ])('refuses a transition the machine does not have (%s)', (state, action) => {
    const s = { ...initialSnapshot('t', 0), state: state as never };
    expect(canTransition(s.state, action.type)).toBe(false);
    expect(() => reduceTransaction(s, action)).toThrow(InvalidStateError);
  });
});
