import {
  computed,
  DuplicateKeyError,
  effect,
  NotFoundError,
  SchemaError,
  seededRandom,
  t,
  defineCollection,
} from '@omnisync/core';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createClient } from '../client.js';
import { createTestScheduler } from '../testing/test-scheduler.js';

type Todo = { id: string; title: string; done: boolean; meta?: { n?: number; m?: number } };

function setup() {
  const scheduler = createTestScheduler();
  const client = createClient({ scheduler, random: seededRandom(7), clientId: 'c1' });
  const todos = client.collection<Todo>({ id: 'todos' });
  return { scheduler, client, todos };
}

describe('collection (local-only source)', () => {
  it('insert, update (patch and draft), delete are visible at once and complete', async () => {
    const { scheduler, todos } = setup();
    const tx = todos.insert({ id: 'a', title: 'A', done: false });
    expect(todos.get('a')).toEqual({ id: 'a', title: 'A', done: false });
    expect(tx.state).toBe('pending');
    await scheduler.settle();
    expect(tx.state).toBe('completed');
    todos.update('a', { title: 'A2' });
    todos.update('a', (d) => {
      d.done = true;
    });
    expect(todos.get('a')).toEqual({ id: 'a', title: 'A2', done: true });
    await scheduler.settle();
    expect(todos.count()).toBe(1);
    todos.delete('a');
    expect(todos.get('a')).toBeUndefined();
    expect(todos.count()).toBe(0);
  });

  it('same object while unchanged, across confirmation', async () => {
    const { scheduler, todos, client } = setup();
    todos.insert({ id: 'a', title: 'A', done: false });
    const before = todos.get('a');
    await scheduler.settle();
    expect(todos.get('a')).toBe(before);
    expect(client.store.base.get('todos', 'a')).toEqual(before);
  });

  it('bad input throws typed errors and changes nothing', () => {
    const { todos } = setup();
    todos.insert({ id: 'a', title: 'A', done: false });
    expect(() => todos.insert({ id: 'a', title: 'B', done: false })).toThrow(DuplicateKeyError);
    expect(() => todos.update('zz', { title: 'x' })).toThrow(NotFoundError);
    expect(() => todos.delete('zz')).toThrow(NotFoundError);
    expect(() =>
      todos.insert([
        { id: 'b', title: 'B', done: false },
        { id: 'b', title: 'B', done: false },
      ]),
    ).toThrow(DuplicateKeyError);
    expect(todos.get('b')).toBeUndefined();
    expect(todos.count()).toBe(1);
  });

  it('ids are never reused: insert after a pending or a confirmed delete is refused', async () => {
    const { scheduler, todos } = setup();
    todos.insert({ id: 'a', title: 'A', done: false });
    todos.delete('a');
    expect(() => todos.insert({ id: 'a', title: 'again', done: false })).toThrow(/already exists/);
    await scheduler.settle();
    expect(() => todos.insert({ id: 'a', title: 'again', done: false })).toThrow(/deleted document/);
    expect(todos.get('a')).toBeUndefined();
  });

  it('nested values, arrays and Dates go through the general path', async () => {
    const { scheduler, todos, client } = setup();
    const when = new Date(1_700_000_000_000);
    todos.insert({ id: 'n', title: 'N', done: false, meta: { n: 1 }, tags: ['x'], when } as never);
    expect(todos.get('n')).toEqual({
      id: 'n',
      title: 'N',
      done: false,
      meta: { n: 1 },
      tags: ['x'],
      when: when.toISOString(),
    });
    await scheduler.settle();
    expect(client.store.base.get('todos', 'n')).toEqual(todos.get('n'));
  });

  it('reactivity: get() per document, count() per collection', async () => {
    const { todos } = setup();
    todos.insert({ id: 'a', title: 'A', done: false });
    todos.insert({ id: 'b', title: 'B', done: false });
    let runsA = 0;
    let lastCount = -1;
    const e1 = effect(() => {
      todos.get('a');
      runsA++;
    });
    const e2 = effect(() => {
      lastCount = todos.count();
    });
    expect(runsA).toBe(1);
    todos.update('b', { title: 'B2' });
    expect(runsA).toBe(1);
    todos.update('a', { title: 'A2' });
    expect(runsA).toBe(2);
    todos.insert({ id: 'c', title: 'C', done: true });
    expect(lastCount).toBe(3);
    const done = computed(() => todos.find((t) => t.done).length);
    expect(done.get()).toBe(1);
    todos.update('a', { done: true });
    expect(done.get()).toBe(2);
    e1.stop();
    e2.stop();
  });

  it('a zod schema: defaults applied, dates shown as Date and stored as ISO strings, refMany as member cells', async () => {
    const scheduler = createTestScheduler();
    const client = createClient({ scheduler });
    const def = defineCollection({
      name: 'events',
      schema: z.object({
        id: z.string(),
        at: z.date(),
        tags: z.array(z.string()),
        done: z.boolean().default(false),
      }),
      fields: { tags: t.refMany('tags') },
    });
    const events = client.collection({ id: 'events', schema: def });
    const at = new Date(1_700_000_000_000);
    events.insert({ id: 'e', at, tags: ['b', 'a'] } as never);
    expect(events.get('e')).toEqual({ id: 'e', at, tags: ['a', 'b'], done: false });
    await scheduler.settle();
    expect(client.store.base.cell('events', 'e', 'at')?.value).toBe(at.toISOString());
    expect(client.store.base.cell('events', 'e', 'tags[a]')?.value).toBe(true);
    events.update('e', { tags: ['a'] });
    expect(events.get('e')?.tags).toEqual(['a']);
    await scheduler.settle();
    expect(client.store.base.cell('events', 'e', 'tags[b]')?.value).toBe(false);
    expect(() => events.update('e', { at: 'not a date' } as never)).toThrow(SchemaError);
  });

  it('schema failure throws SchemaError naming collection and field', () => {
    const scheduler = createTestScheduler();
    const client = createClient({ scheduler });
    const def = defineCollection({
      name: 'todos',
      schema: t.object({ id: t.string(), title: t.string(), done: t.boolean() }),
    });
    const todos = client.collection({ id: 'todos', schema: def });
    let err: unknown;
    try {
      todos.insert({ id: 'a', title: 3 as unknown as string, done: false });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(SchemaError);
    expect(String((err as Error).message)).toMatch(/todos/);
    expect(String((err as Error).message)).toMatch(/title/);
    expect(todos.count()).toBe(0);
  });
});
