import { encodeHlc } from '@omnisync/core';
import { describe, expect, it } from 'vitest';
import { mergeRemote } from './merge.js';

const h = (wall: number, node = 'n') => encodeHlc({ wall, counter: 0, node });
const cell = (field: string, value: unknown, hlc: string) =>
  value === undefined
    ? { collection: 't', id: 'a', field, hlc }
    : { collection: 't', id: 'a', field, value, hlc };

describe('mergeRemote (field-level LWW, delete wins)', () => {
  const row = { id: 'a', title: 'local', done: false };
  const meta = { table: 't', id: 'a', hlcs: { title: h(10), done: h(10) } };

  it('a newer remote field replaces only that field', () => {
    const r = mergeRemote('t', 'a', row, meta, [cell('title', 'remote', h(20))]);
    expect(r.action).toBe('put');
    expect(r.row).toEqual({ id: 'a', title: 'remote', done: false });
    expect(r.meta?.hlcs).toEqual({ title: h(20), done: h(10) });
  });

  it('an older remote field loses and changes nothing', () => {
    expect(mergeRemote('t', 'a', row, meta, [cell('title', 'old', h(5))])).toEqual({ action: 'none' });
  });

  it('a remote unset removes the field; nested paths are rebuilt', () => {
    const r = mergeRemote('t', 'a', row, meta, [cell('done', undefined, h(11)), cell('m.x', 1, h(11))]);
    expect(r.row).toEqual({ id: 'a', title: 'local', m: { x: 1 } });
  });

  it('a delete wins over any field write, even a later one, and stays', () => {
    const r = mergeRemote('t', 'a', row, meta, [
      cell('title', 'later', h(99)),
      cell('_deleted', true, h(12)),
    ]);
    expect(r).toEqual({ action: 'delete', meta: { table: 't', id: 'a', hlcs: {}, deleted: h(12) } });
    const after = mergeRemote('t', 'a', undefined, r.meta, [cell('title', 'resurrect?', h(200))]);
    expect(after).toEqual({ action: 'none' });
  });

  it('a row never seen locally is created from remote cells', () => {
    const r = mergeRemote('t', 'a', undefined, undefined, [cell('title', 'new', h(1))]);
    expect(r).toMatchObject({ action: 'put', row: { id: 'a', title: 'new' } });
  });
});
