import { q } from '@omnisync/core';
import { describe, expect, it } from 'vitest';
import type { SourceContext } from '../types.js';
import { QuerySet, scopeKey } from './query-set.js';
import { META_QUERIES } from './server-source-types.js';

/** The two members of the source context a query set uses (meta storage), in memory. */
function context(stored?: unknown): SourceContext & { meta: Map<string, unknown> } {
  const meta = new Map<string, unknown>(stored === undefined ? [] : [[META_QUERIES, stored]]);
  return {
    collections: ['todos', 'users'],
    meta,
    getMeta: (k: string) => meta.get(k),
    setMeta: async (k: string, v: unknown) => void meta.set(k, v),
  } as unknown as SourceContext & { meta: Map<string, unknown> };
}

const mine = q('todos').where('ownerId', '=', 'u1');
const mineTop = q('todos').where('ownerId', '=', 'u1').orderBy('priority', 'desc').limit(5);
const theirs = q('todos').where('ownerId', '=', 'u2');

describe('QuerySet: holders of wanted scopes', () => {
  it('counts holders per scope (order and window share one); drops only a scope nobody holds', async () => {
    const ctx = context();
    const set = new QuerySet(ctx, undefined, undefined, 'queries');
    void set.want(mine);
    void set.want(mineTop); // same scope: a second holder
    void set.want(theirs);
    expect(scopeKey(mine)).toBe(scopeKey(mineTop));
    expect(set.all()).toHaveLength(2);
    expect(set.release(mine)).toBe(false); // mineTop still holds it
    expect(set.drop(scopeKey(mine))).toBeUndefined();
    expect(set.release(mineTop)).toBe(true);
    expect(set.release(mineTop)).toBe(false); // not held: nothing to release
    set.markSynced(set.all());
    await set.save();
    expect(ctx.meta.get(META_QUERIES)).toHaveLength(2);
    expect(set.drop(scopeKey(mine))).toEqual({ collection: 'todos', where: mine.ast.where });
    expect(set.has(scopeKey(mine))).toBe(false);
    expect(set.all()).toHaveLength(1);
    expect(set.dirty).toBe(true);
    await set.save();
    expect(ctx.meta.get(META_QUERIES)).toEqual([scopeKey(theirs)]);
    // Wanted again: a new scope, to catch up from 0.
    void set.want(mine);
    expect(set.unsynced()).toHaveLength(1);
    expect(set.covers(mine)).toBe(false);
    expect(set.covers(theirs)).toBe(true);
  });

  it('scopes remembered from an earlier run start without holders; fixed queries are never dropped', () => {
    const ctx = context([scopeKey(mine), scopeKey(theirs)]);
    const set = new QuerySet(ctx, [q('users')], undefined, 'queries');
    expect(set.idle().sort()).toEqual([scopeKey(mine), scopeKey(theirs)].sort());
    void set.want(theirs);
    expect(set.idle()).toEqual([scopeKey(mine)]);
    expect(set.drop(scopeKey(theirs))).toBeUndefined(); // held
    expect(set.drop(scopeKey(q('users')))).toBeUndefined(); // fixed
    expect(set.release(q('users'))).toBe(false);
    expect(set.drop(scopeKey(mine))).toBeDefined();
    expect(set.idle()).toEqual([]);
  });
});
