/**
 * createLeanClient: the same client as createClient, with only the optional parts it is
 * given. Without one, using that part throws a ValidationError naming the feature to pass;
 * with it, the part works as in createClient.
 */
import { defineMutators, seededRandom, ValidationError } from '@omnisync/core';
import { describe, expect, it } from 'vitest';
import { createLeanClient } from './client.js';
import { inspectFeature, mutatorsFeature, roomsFeature } from './features.js';
import { createMemoryPersistence } from './persistence/memory.js';
import { createTestScheduler } from './testing/test-scheduler.js';

const mutators = defineMutators({
  async increment(tx, args: { id: string }) {
    const c = await tx.get('counters', args.id);
    await tx.set('counters', args.id, { n: ((c?.n as number | undefined) ?? 0) + 1 });
  },
});

describe('createLeanClient', () => {
  it('without features: collections work; each optional part throws naming its feature', async () => {
    const scheduler = createTestScheduler();
    const client = createLeanClient({
      scheduler,
      random: seededRandom(1),
      app: 'a',
      server: 'http://127.0.0.1:9',
      onError: () => {},
    });
    const local = createLeanClient({
      scheduler,
      random: seededRandom(2),
      persistence: createMemoryPersistence(),
    });
    const items = local.collection<{ id: string; title: string }>({ id: 'items' });
    items.insert({ id: 'a', title: 'Buy milk' });
    await scheduler.settle();
    expect(items.get('a')?.title).toBe('Buy milk');
    expect(() => local.mutate('increment', { id: 'a' })).toThrow(/client\.mutate needs mutatorsFeature/);
    expect(() => client.room('r')).toThrow(/client\.room needs roomsFeature/);
    expect(() => local.experimental_inspect).toThrow(ValidationError);
    expect(() => createLeanClient({ mutators })).toThrow(/mutators needs mutatorsFeature/);
    expect(() => createLeanClient({ persistence: createMemoryPersistence(), multiTab: true })).toThrow(
      /multiTab needs multiTabFeature/,
    );
    expect(() => createLeanClient({ experimental_inspect: true })).toThrow(ValidationError);
    await client.close();
    await local.close();
  });

  it('with features: mutate, room and inspection work as in createClient', async () => {
    const scheduler = createTestScheduler();
    const client = createLeanClient(
      {
        scheduler,
        random: seededRandom(3),
        clientId: 'c1',
        mutators,
        app: 'a',
        server: 'http://127.0.0.1:9',
        onError: () => {},
      },
      { mutators: mutatorsFeature, rooms: roomsFeature, inspect: inspectFeature },
    );
    const counters = client.collection<{ id: string; n: number }>({ id: 'counters' });
    client.experimental_inspect.enable({});
    expect(client.experimental_inspect.enabled).toBe(true);
    client.mutate('increment', { id: 'x' });
    await scheduler.settle();
    expect(counters.get('x')?.n).toBe(1);
    const room = client.room('lobby');
    expect(client.room('lobby')).toBe(room);
    await client.close();
  });
});
