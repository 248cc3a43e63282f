/**
 * Elle-style checker of a chaos run's history. Every client logs its writes (a unique id, the
 * document and field, a per-client sequence number), the acks it got, and the values it read;
 * every node (server or client) reports its final state. The checker derives what any correct
 * LWW sync engine must satisfy from those logs alone:
 * - read-your-writes: after writing seq k to a field, the client never reads its own seq < k
 *   there, nor reads the field as absent;
 * - monotonic reads: per client, field and writer, the writer's seqs read never go backwards;
 * - per-field LWW order: the final value of a field is never one its writer later overwrote
 *   with an acked write (a writer's HLC only grows);
 * - every acked write's row is present exactly once in every node's final state (unless a
 *   delete of it was sent), no row appears that nobody wrote, and no row whose delete was
 *   acked comes back;
 * - convergence: every node's final state of the shared fields is the same.
 */

/** One event of a client's history (one JSON line of its log). */
export type HistoryEvent =
  | { type: 'write'; client: string; id: string; doc: string; field: string; seq: number }
  | { type: 'delete'; client: string; id: string; row: string }
  | { type: 'ack'; client: string; id: string }
  | { type: 'read'; client: string; doc: string; field: string; value: FieldValue | null };

/** A field's value: which write put it there (`<client>:<seq>`). */
export type FieldValue = string;

/** A node's final state: the shared fields and the list of write rows it holds (duplicates kept). */
export interface FinalState {
  readonly node: string;
  readonly fields: Readonly<Record<string, FieldValue | null>>;
  readonly rows: readonly string[];
}

/** One violation found. */
export interface Violation {
  readonly kind:
    | 'read-your-writes'
    | 'monotonic-reads'
    | 'lww-order'
    | 'acked-write-lost'
    | 'write-duplicated'
    | 'resurrected-delete'
    | 'phantom-write'
    | 'divergence';
  readonly detail: string;
}

/** The checker's answer. */
export interface CheckResult {
  readonly ok: boolean;
  readonly violations: readonly Violation[];
  readonly stats: { writes: number; acks: number; reads: number; nodes: number };
}

/** The value a write leaves in its field. */
export const valueOf = (client: string, seq: number): FieldValue => `${client}:${seq}`;

function parseValue(v: FieldValue): { client: string; seq: number } {
  const i = v.lastIndexOf(':');
  return { client: v.slice(0, i), seq: Number(v.slice(i + 1)) };
}

const key = (doc: string, field: string) => `${doc}.${field}`;

/** Check one run's history against the final states; at most `limit` violations of each kind. */
export function checkHistory(
  events: readonly HistoryEvent[],
  finals: readonly FinalState[],
  limit = 20,
): CheckResult {
  const violations: Violation[] = [];
  const counts = new Map<string, number>();
  const flag = (kind: Violation['kind'], detail: string) => {
    const n = counts.get(kind) ?? 0;
    counts.set(kind, n + 1);
    if (n < limit) violations.push({ kind, detail });
  };
  const writes = new Map<string, Extract<HistoryEvent, { type: 'write' }>>();
  const acked = new Set<string>();
  /** Delete id → row, and the rows a delete was sent for / acked for. */
  const deletes = new Map<string, string>();
  const deleteSent = new Set<string>();
  const deleteAcked = new Set<string>();
  const writtenValues = new Set<FieldValue>();
  /** Per field, per writer: highest acked seq. */
  const ackedMax = new Map<string, Map<string, number>>();
  /** Per client and field: last own seq written. */
  const ownLast = new Map<string, number>();
  /** Per client, field, writer: last seq read. */
  const lastRead = new Map<string, number>();
  let reads = 0;

  for (const e of events) {
    if (e.type === 'write') {
      writes.set(e.id, e);
      writtenValues.add(valueOf(e.client, e.seq));
      ownLast.set(`${e.client}|${key(e.doc, e.field)}`, e.seq);
    } else if (e.type === 'delete') {
      deletes.set(e.id, e.row);
      deleteSent.add(e.row);
    } else if (e.type === 'ack') {
      const row = deletes.get(e.id);
      if (row !== undefined) {
        deleteAcked.add(row);
        continue;
      }
      const w = writes.get(e.id);
      if (!w) {
        flag('phantom-write', `${e.client} got an ack for ${e.id}, never written`);
        continue;
      }
      acked.add(e.id);
      const k = key(w.doc, w.field);
      const m = ackedMax.get(k) ?? new Map<string, number>();
      m.set(w.client, Math.max(m.get(w.client) ?? -1, w.seq));
      ackedMax.set(k, m);
    } else {
      reads++;
      const k = key(e.doc, e.field);
      const own = ownLast.get(`${e.client}|${k}`);
      if (e.value === null) {
        if (own !== undefined)
          flag('read-your-writes', `${e.client} read ${k} absent after writing seq ${own}`);
        continue;
      }
      if (!writtenValues.has(e.value)) {
        flag('phantom-write', `${e.client} read ${k} = ${e.value}, never written`);
        continue;
      }
      const v = parseValue(e.value);
      if (v.client === e.client && own !== undefined && v.seq < own) {
        flag('read-your-writes', `${e.client} read its own seq ${v.seq} of ${k} after writing seq ${own}`);
      }
      const rk = `${e.client}|${k}|${v.client}`;
      const prev = lastRead.get(rk);
      if (prev !== undefined && v.seq < prev) {
        flag('monotonic-reads', `${e.client} read ${k} from ${v.client} seq ${v.seq} after seq ${prev}`);
      }
      lastRead.set(rk, Math.max(prev ?? -1, v.seq));
    }
  }

  for (const f of finals) {
    for (const [k, v] of Object.entries(f.fields)) {
      if (v === null) continue;
      if (!writtenValues.has(v)) {
        flag('phantom-write', `${f.node} holds ${k} = ${v}, never written`);
        continue;
      }
      const { client, seq } = parseValue(v);
      const later = ackedMax.get(k)?.get(client);
      if (later !== undefined && later > seq) {
        flag('lww-order', `${f.node} holds ${k} = ${v} though ${client} later wrote seq ${later} (acked)`);
      }
    }
    for (const [k] of ackedMax) {
      if (f.fields[k] === undefined || f.fields[k] === null)
        flag('acked-write-lost', `${f.node} lost field ${k}`);
    }
    const rowCount = new Map<string, number>();
    for (const r of f.rows) rowCount.set(r, (rowCount.get(r) ?? 0) + 1);
    for (const [r, n] of rowCount) {
      if (!writes.has(r)) flag('phantom-write', `${f.node} holds row ${r}, never written`);
      else if (n > 1) flag('write-duplicated', `${f.node} holds row ${r} ${n} times`);
      if (deleteAcked.has(r)) flag('resurrected-delete', `${f.node} holds row ${r}, whose delete was acked`);
    }
    for (const id of acked) {
      if (!rowCount.has(id) && !deleteSent.has(id))
        flag('acked-write-lost', `${f.node} lacks acked write ${id}`);
    }
  }

  if (finals.length > 1) {
    const ref = finals[0]!;
    const refRows = [...new Set(ref.rows)].sort().join(',');
    for (const f of finals.slice(1)) {
      const keys = new Set([...Object.keys(ref.fields), ...Object.keys(f.fields)]);
      for (const k of keys) {
        if ((ref.fields[k] ?? null) !== (f.fields[k] ?? null)) {
          flag('divergence', `${f.node} has ${k} = ${f.fields[k]} but ${ref.node} has ${ref.fields[k]}`);
        }
      }
      if ([...new Set(f.rows)].sort().join(',') !== refRows) {
        flag('divergence', `${f.node} and ${ref.node} hold different sets of rows`);
      }
    }
  }

  return {
    ok: violations.length === 0,
    violations,
    stats: { writes: writes.size, acks: acked.size, reads, nodes: finals.length },
  };
}
