import { describe, expect, it } from 'vitest';
import { createHlc, createManualScheduler, flattenDocument, Replica, type Cell } from './index.js';

const clock = createManualScheduler();
const hlc = createHlc({ nodeId: 'n1', clock });
const doc = (collection: string, d: Record<string, unknown>): Cell[] => {
  const t = hlc.now();
  return [
    { collection, id: d.id as string, field: 'id', value: d.id as string, hlc: t },
    ...flattenDocument(d).map(([field, value]) => ({ collection, id: d.id as string, field, value, hlc: t })),
  ];
};

describe('Replica', () => {
  it('applies a document and reports an insert, then an update with exactly the changed fields', () => {
    const r = new Replica();
    expect(r.apply(doc('todos', { id: 'a', title: 'x', meta: { n: 1 } }))).toEqual([
      { collection: 'todos', id: 'a', kind: 'insert', fields: ['id', 'title', 'meta.n'] },
    ]);
    expect(r.get('todos', 'a')).toEqual({ id: 'a', title: 'x', meta: { n: 1 } });
    const before = r.get('todos', 'a');
    expect(r.get('todos', 'a')).toBe(before);
    const ch = r.apply([{ collection: 'todos', id: 'a', field: 'meta.n', value: 2, hlc: hlc.now() }]);
    expect(ch).toEqual([{ collection: 'todos', id: 'a', kind: 'update', fields: ['meta.n'] }]);
    expect(r.get('todos', 'a')).toEqual({ id: 'a', title: 'x', meta: { n: 2 } });
  });

  it('refuses a whole batch when one cell is bad and applies nothing', () => {
    const r = new Replica();
    const good = doc('todos', { id: 'a', title: 'x' });
    expect(() => r.apply([...good, { collection: 'todos', id: 'a', field: '', value: 1, hlc: hlc.now() }])).toThrow(
      expect.objectContaining({ code: 'invalid_cell' }),
    );
    expect(r.get('todos', 'a')).toBeUndefined();
    expect(r.seq).toBe(0);
  });

  it('delete wins over a later write and hides the document', () => {
    const r = new Replica();
    r.apply(doc('todos', { id: 'a', title: 'x' }));
    const del = hlc.now();
    const later = hlc.now();
    expect(r.apply([{ collection: 'todos', id: 'a', field: '_deleted', value: true, hlc: del }])).toEqual([
      { collection: 'todos', id: 'a', kind: 'delete', fields: [] },
    ]);
    expect(r.apply([{ collection: 'todos', id: 'a', field: 'title', value: 'y', hlc: later }])).toEqual([]);
    expect(r.get('todos', 'a')).toBeUndefined();
    expect([...r.documents('todos')]).toEqual([]);
    expect(r.cellsSince(0)).toEqual([{ collection: 'todos', id: 'a', field: '_deleted', value: true, hlc: del }]);
  });
});
