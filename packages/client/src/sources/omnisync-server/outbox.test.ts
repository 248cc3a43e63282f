import { describe, expect, test } from 'vitest';
import { Outbox } from './outbox.js';

const m = (id: string) => ({ id, changes: [] });

describe('server source outbox', () => {
  test('batches from the head in order, at most max', () => {
    const o = new Outbox();
    for (const id of ['a', 'b', 'c', 'd']) void o.add(m(id));
    expect(o.take(3).map((e) => e.id)).toEqual(['a', 'b', 'c']);
    expect(o.size).toBe(4);
  });

  test('a solo entry goes alone, and stops a batch before it', () => {
    const o = new Outbox();
    for (const id of ['a', 'b', 'c']) void o.add(m(id));
    o.take(3)[1]!.solo = true;
    expect(o.take(10).map((e) => e.id)).toEqual(['a']);
    o.settle('a');
    expect(o.take(10).map((e) => e.id)).toEqual(['b']);
  });

  test('settle resolves or rejects every waiter of an id once; a repeated id joins the entry', async () => {
    const o = new Outbox();
    const first = o.add(m('a'));
    const again = o.add({ id: 'a', changes: [{ collection: 't', id: 'x', field: 'f', value: 1, hlc: 'h' }] });
    expect(o.size).toBe(1);
    expect(o.take(1)[0]!.mutation.changes).toHaveLength(1);
    const rejected = o.add(m('b'));
    expect(o.settle('a')).toBe(true);
    expect(o.settle('a')).toBe(false);
    o.settle('b', new Error('refused'));
    await expect(first).resolves.toBeUndefined();
    await expect(again).resolves.toBeUndefined();
    await expect(rejected).rejects.toThrow('refused');
    expect(o.size).toBe(0);
  });
});
