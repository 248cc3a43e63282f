/** The chaos checker must catch planted violations in doctored histories, and pass a clean one. */
import { describe, expect, it } from 'vitest';
import {
  checkHistory,
  valueOf,
  type FinalState,
  type HistoryEvent,
} from '../../../../bench/chaos/checker.ts';

/** A clean history: a and b each write the field x of d twice (rows w-a1…), all acked. */
function clean(): { events: HistoryEvent[]; finals: FinalState[] } {
  const events: HistoryEvent[] = [];
  for (const c of ['a', 'b']) {
    for (const seq of [1, 2]) {
      const id = `w-${c}${seq}`;
      events.push({ type: 'write', client: c, id, doc: 'd', field: 'x', seq });
      events.push({ type: 'read', client: c, doc: 'd', field: 'x', value: valueOf(c, seq) });
      events.push({ type: 'ack', client: c, id });
    }
  }
  const rows = ['w-a1', 'w-a2', 'w-b1', 'w-b2'];
  const fields = { 'd.x': valueOf('b', 2) };
  const finals = ['server-0', 'client-a', 'client-b'].map((node) => ({ node, fields, rows }));
  return { events, finals };
}

const kinds = (r: ReturnType<typeof checkHistory>) => r.violations.map((v) => v.kind);

describe('chaos checker', () => {
  it('passes a clean history', () => {
    const { events, finals } = clean();
    const r = checkHistory(events, finals);
    expect(r.violations).toEqual([]);
    expect(r.stats).toEqual({ writes: 4, acks: 4, reads: 4, nodes: 3 });
  });

  it('flags a doubled apply (a row held twice by one node)', () => {
    const { events, finals } = clean();
    finals[0] = { ...finals[0]!, rows: [...finals[0]!.rows, 'w-a1'] };
    expect(kinds(checkHistory(events, finals))).toContain('write-duplicated');
  });

  it('flags a lost acked write (a row missing on one node)', () => {
    const { events, finals } = clean();
    finals[1] = { ...finals[1]!, rows: finals[1]!.rows.filter((r) => r !== 'w-b1') };
    const k = kinds(checkHistory(events, finals));
    expect(k).toContain('acked-write-lost');
    expect(k).toContain('divergence');
  });

  it('flags a stale own read (read-your-writes)', () => {
    const { events, finals } = clean();
    events.push({ type: 'read', client: 'a', doc: 'd', field: 'x', value: valueOf('a', 1) });
    expect(kinds(checkHistory(events, finals))).toEqual(['read-your-writes', 'monotonic-reads']);
  });

  it('flags a read going backwards in another writer (monotonic reads)', () => {
    const { events, finals } = clean();
    events.push({ type: 'read', client: 'c', doc: 'd', field: 'x', value: valueOf('b', 2) });
    events.push({ type: 'read', client: 'c', doc: 'd', field: 'x', value: valueOf('b', 1) });
    expect(kinds(checkHistory(events, finals))).toEqual(['monotonic-reads']);
  });

  it('flags a final value its writer overwrote later (LWW order)', () => {
    const { events, finals } = clean();
    const stale = finals.map((f) => ({ ...f, fields: { 'd.x': valueOf('b', 1) } }));
    expect(kinds(checkHistory(events, stale))).toEqual(['lww-order', 'lww-order', 'lww-order']);
  });

  it('flags divergence of a field and a value nobody wrote', () => {
    const { events, finals } = clean();
    finals[2] = { ...finals[2]!, fields: { 'd.x': 'z:9' } };
    const k = kinds(checkHistory(events, finals));
    expect(k).toContain('phantom-write');
    expect(k).toContain('divergence');
  });

  it('flags an ack for a write that was never made', () => {
    const { events, finals } = clean();
    events.push({ type: 'ack', client: 'a', id: 'w-ghost' });
    expect(kinds(checkHistory(events, finals))).toEqual(['phantom-write']);
  });

  it('flags a row back after its acked delete, and does not count a deleted row as lost', () => {
    const { events, finals } = clean();
    events.push({ type: 'delete', client: 'a', id: 'del:w-a1', row: 'w-a1' });
    events.push({ type: 'ack', client: 'a', id: 'del:w-a1' });
    // Every node still holds w-a1: the delete was acked, so it came back (or never applied).
    expect(kinds(checkHistory(events, finals))).toEqual([
      'resurrected-delete',
      'resurrected-delete',
      'resurrected-delete',
    ]);
    const gone = finals.map((f) => ({ ...f, rows: f.rows.filter((r) => r !== 'w-a1') }));
    expect(checkHistory(events, gone).violations).toEqual([]);
  });

  it('does not excuse a missing row nobody deleted', () => {
    const { events, finals } = clean();
    events.push({ type: 'delete', client: 'a', id: 'del:w-a1', row: 'w-a1' });
    const gone = finals.map((f) => ({ ...f, rows: f.rows.filter((r) => r !== 'w-a1' && r !== 'w-b2') }));
    expect(kinds(checkHistory(events, gone))).toEqual([
      'acked-write-lost',
      'acked-write-lost',
      'acked-write-lost',
    ]);
  });
});
