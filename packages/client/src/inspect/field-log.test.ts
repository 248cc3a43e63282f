import { encodeHlc } from '@omnisync/core';
import { describe, expect, it } from 'vitest';
import { FieldLog, originOf } from './field-log.js';

const hlc = (wall: number, node: string) => encodeHlc({ wall, counter: 0, node });

describe('FieldLog (the inspector’s bounded per-field record)', () => {
  it('keeps the writes of a field in the order seen, with the origin read from the HLC', () => {
    const log = new FieldLog();
    log.record('todos', 'a', 'title', 'one', hlc(1, 'dev-a'), 'local', 10, 'tx1');
    log.record('todos', 'a', 'title', 'two', hlc(2, 'dev-b'), 'omnisync:todo', 20);
    expect(log.writes('todos', 'a', 'title')).toEqual([
      {
        value: 'one',
        hlc: hlc(1, 'dev-a'),
        origin: 'dev-a',
        via: ['local'],
        seenAt: 10,
        transactionId: 'tx1',
      },
      { value: 'two', hlc: hlc(2, 'dev-b'), origin: 'dev-b', via: ['omnisync:todo'], seenAt: 20 },
    ]);
    expect(log.list()).toEqual([
      { collection: 'todos', id: 'a', field: 'title', writes: 2, origins: 2, lastSeenAt: 20 },
    ]);
  });

  it('records the same write seen twice once, with both ways it came', () => {
    const log = new FieldLog();
    log.record('todos', 'a', 'title', 'x', hlc(1, 'me'), 'local', 1, 'tx1');
    log.record('todos', 'a', 'title', 'x', hlc(1, 'me'), 'omnisync:todo', 2);
    log.record('todos', 'a', 'title', 'x', hlc(1, 'me'), 'omnisync:todo', 3);
    const w = log.writes('todos', 'a', 'title');
    expect(w).toHaveLength(1);
    expect(w[0]!.via).toEqual(['local', 'omnisync:todo']);
  });

  it('holds at most writesPerField writes of a field: the oldest goes first', () => {
    const log = new FieldLog(3, 100);
    for (let i = 1; i <= 10; i++) log.record('c', 'd', 'f', i, hlc(i, 'n'), 'local', i);
    expect(log.writes('c', 'd', 'f').map((w) => w.value)).toEqual([8, 9, 10]);
  });

  it('holds at most `fields` fields: the least recently written goes first', () => {
    const log = new FieldLog(4, 2);
    log.record('c', 'd', 'f1', 1, hlc(1, 'n'), 'local', 1);
    log.record('c', 'd', 'f2', 2, hlc(2, 'n'), 'local', 2);
    log.record('c', 'd', 'f1', 3, hlc(3, 'n'), 'local', 3); // f1 is now the most recent
    log.record('c', 'd', 'f3', 4, hlc(4, 'n'), 'local', 4); // evicts f2
    expect(log.size).toBe(2);
    expect(log.list().map((f) => f.field)).toEqual(['f3', 'f1']);
    expect(log.writes('c', 'd', 'f2')).toEqual([]);
    expect(log.fieldsOf('c', 'd')).toEqual(['f1', 'f3']);
  });

  it('returns copies: a reader cannot change the record', () => {
    const log = new FieldLog();
    log.record('c', 'd', 'f', 1, hlc(1, 'n'), 'local', 1);
    (log.writes('c', 'd', 'f')[0]!.via as string[]).push('tampered');
    expect(log.writes('c', 'd', 'f')[0]!.via).toEqual(['local']);
  });

  it('names no origin for a stamp that does not parse (diagnostics never throw)', () => {
    expect(originOf('not-an-hlc')).toBe('?');
    expect(originOf(hlc(5, 'device_1'))).toBe('device_1');
  });
});
