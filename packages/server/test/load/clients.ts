/**
 * The load generator of `npm run load` (driver.ts), a process of its own: `n` plain `ws`
 * sockets speaking protocol v1 (the helpers of bench/connections-clients.ts), in rooms of
 * `room` clients, each subscribed to `msgs where room = r<k>` and writing one document a
 * second over its socket. JSON lines: one `run` command on stdin; on stdout `connected`,
 * one `period` report every `periodS` seconds, then `result`.
 *
 * Every write carries its id in field `w` (and its sequence number in `n`), so each delivery
 * is counted per write and per member of the room (a bit mask): a write must reach every
 * member once, the writer included (the server sends a subscriber its own writes too). Each
 * client writes `slots` documents of its own in turn (an insert the first time, an update of
 * `w`, `n`, `text` after), so the data stays bounded however long the run.
 *
 * Reconnects: every `reconnectEveryS` one client (a different one each time) waits for its
 * acks, drops its socket, stays away `gapS` and comes back with its cursor (`subscribe` with
 * `cursor`), as a client that lost its network does. The catch-up pull sends a document's
 * cells as they are now, so a write the client was away for may come superseded by a later
 * write of the same document: that counts as delivered (`superseded`) only for a member
 * that was away when the write committed (its cursor inside the gap) and whose copy of the
 * document holds a later write. Everything else not received is `missed`.
 *
 * At the end (all acks in, the last deliveries drained) each client's copy of its room is
 * compared with the server's snapshot of the room query, cell by cell (value and HLC).
 */
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import type WebSocket from 'ws';
import { compareHlc, createHlc, type HlcClock, type WireCell } from '@omnisync/core';
import { connect, openMany, summarize } from '../../../../bench/connections-clients.ts';

export interface RunCommand {
  url: string;
  app: string;
  n: number;
  room: number;
  slots: number;
  seconds: number;
  periodS: number;
  drainS: number;
  concurrency: number;
  /** 0: no reconnects. */
  reconnectEveryS: number;
  gapS: number;
  /**
   * Self-check of the checks: every `loseEvery`-th live `changes` message is ignored by
   * its client as if lost on the way (0 = none). A run with it must fail.
   */
  loseEvery?: number;
}

/** One `period` report. */
export interface PeriodReport {
  type: 'period';
  /** 1-based. */
  period: number;
  /** Seconds since the first write at the period's end. */
  atS: number;
  writes: number;
  acks: number;
  /** Deliveries received in the period (live and catch-up, writer's own included). */
  delivered: number;
  /** Write → change at the other members, live only, received in the period (ms). */
  fanout: { p50: number; p99: number; max: number; count: number };
  /** Writes still waiting for a member (all of them at the period's end). */
  outstanding: number;
  reconnects: number;
  /** The load generator's CPU over the period, % of one core. */
  loadgenCpuPct: number;
}

export interface RunResult {
  type: 'result';
  error?: string;
  connectMs: number;
  clients: number;
  rooms: number;
  writes: number;
  acks: number;
  /** Writes refused (a result that is not `applied`, or an error answer). */
  refused: number;
  /** Writes whose ack never came. */
  unacked: number;
  expected: number;
  delivered: number;
  catchUp: number;
  superseded: number;
  missed: number;
  duplicates: number;
  /** A `w` cell at a client outside the writer's room, or of a write never sent. */
  stray: number;
  reconnects: number;
  /** Sockets the server closed, errors and resets the clients got. */
  protocolErrors: number;
  examples: string[];
  statesChecked: number;
  statesDiffering: number;
  serverCells: number;
  fanout: { p50: number; p99: number; max: number; count: number };
  drainMs: number;
}

interface CellState {
  value: unknown;
  hlc: string;
}

interface Client {
  readonly i: number;
  readonly room: number;
  readonly hlc: HlcClock;
  ws: WebSocket | undefined;
  online: boolean;
  leaving: boolean;
  pendingAcks: number;
  /** The highest cursor of the changes and `subscribed` received. */
  cursor: number;
  seq: number;
  /** Bumped when it drops its socket: messages of an older socket are ignored. */
  gen: number;
  /** Its copy of the room: doc id → field → cell. */
  readonly state: Map<string, Map<string, CellState>>;
  /** Cursor ranges (from, to] this client was away for and got by catch-up. */
  readonly gaps: { from: number; to: number }[];
}

interface Write {
  readonly t: number;
  readonly writer: number;
  readonly doc: string;
  readonly seq: number;
  mask: number;
  got: number;
  /** The commit's cursor, from the ack (0 until then). */
  cursor: number;
}

const send = (m: object) => process.stdout.write(JSON.stringify(m) + '\n');
const MAX_EXAMPLES = 20;

/** Run one load (the `run` command) and answer `result`. */
export async function run(o: RunCommand): Promise<RunResult> {
  const roomQuery = (k: number) => ({
    collection: 'msgs',
    where: { op: 'eq', field: 'room', value: `r${k}` },
  });
  const rooms = Math.ceil(o.n / o.room);
  const membersOf = (k: number) => Math.min(o.room, o.n - k * o.room);
  const sent = new Map<string, Write>();
  const examples: string[] = [];
  const note = (s: string) => {
    if (examples.length < MAX_EXAMPLES) examples.push(s);
  };
  const totals = {
    writes: 0,
    acks: 0,
    refused: 0,
    delivered: 0,
    catchUp: 0,
    duplicates: 0,
    stray: 0,
    reconnects: 0,
    protocolErrors: 0,
    expected: 0,
  };
  let period = { writes: 0, acks: 0, delivered: 0, reconnects: 0 };
  let latencies: number[] = [];
  /** Every live fan-out latency of the run, as a histogram of 0.1 ms bins (for the whole run's percentiles). */
  const hist = new Uint32Array(600_000);
  let stopping = false;
  let liveMessages = 0;

  const clients: Client[] = Array.from({ length: o.n }, (_, i) => ({
    i,
    room: Math.floor(i / o.room),
    hlc: createHlc({ nodeId: `load_${i}` }),
    ws: undefined,
    online: false,
    leaving: false,
    pendingAcks: 0,
    cursor: 0,
    seq: 0,
    gen: 0,
    state: new Map(),
    gaps: [],
  }));

  const apply = (c: Client, cell: WireCell) => {
    let doc = c.state.get(cell.id);
    if (!doc) c.state.set(cell.id, (doc = new Map()));
    const old = doc.get(cell.field);
    if (!old || compareHlc(cell.hlc, old.hlc) > 0) doc.set(cell.field, { value: cell.value, hlc: cell.hlc });
  };

  const onMessage =
    (c: Client, gen = c.gen) =>
    (msg: { type: string; [k: string]: any }) => {
      if (gen !== c.gen) return; // the socket it dropped (anything still buffered there)
      switch (msg.type) {
        case 'changes': {
          const live = msg.queryId === undefined;
          if (live && o.loseEvery && ++liveMessages % o.loseEvery === 0) return;
          const now = performance.now();
          for (const cell of msg.cells as WireCell[]) {
            apply(c, cell);
            if (cell.field !== 'w') continue;
            const id = cell.value as string;
            const w = sent.get(id);
            if (!w) {
              // Sent ids stay until every member has them: an unknown one came twice (or was never sent).
              totals.duplicates++;
              note(`client ${c.i} got ${id} again after every member had it (${live ? 'live' : 'catch-up'})`);
              continue;
            }
            if (Math.floor(w.writer / o.room) !== c.room) {
              totals.stray++;
              note(`client ${c.i} (room ${c.room}) got ${id} of room ${Math.floor(w.writer / o.room)}`);
              continue;
            }
            const bit = 1 << (c.i % o.room);
            if (w.mask & bit) {
              totals.duplicates++;
              note(`client ${c.i} got ${id} twice (${live ? 'live' : 'catch-up'})`);
              continue;
            }
            w.mask |= bit;
            w.got++;
            totals.delivered++;
            period.delivered++;
            if (!live) totals.catchUp++;
            else if (w.writer !== c.i) {
              const ms = now - w.t;
              latencies.push(ms);
              hist[Math.min(hist.length - 1, Math.floor(ms * 10))]!++;
            }
            if (w.got === membersOf(c.room)) sent.delete(id);
          }
          if (msg.cursor > c.cursor) c.cursor = msg.cursor;
          return;
        }
        case 'ack': {
          c.pendingAcks--;
          totals.acks++;
          period.acks++;
          const w = sent.get(msg.requestId);
          if (w) w.cursor = msg.cursor;
          const r = msg.results?.[0];
          if (r?.status !== 'applied') {
            totals.refused++;
            note(`push ${msg.requestId} answered ${JSON.stringify(msg.results)}`);
          }
          return;
        }
        case 'subscribed':
          if (msg.cursor > c.cursor) c.cursor = msg.cursor;
          return;
        case 'welcome':
        case 'pong':
          return;
        default:
          // error (a refused push says its requestId), reset, anything else: not expected here.
          totals.protocolErrors++;
          if (msg.type === 'error' && typeof msg.requestId === 'string') {
            c.pendingAcks--;
            totals.refused++;
          }
          note(`client ${c.i} got ${JSON.stringify(msg).slice(0, 300)}`);
      }
    };

  const attach = (c: Client, ws: WebSocket) => {
    c.ws = ws;
    c.online = true;
    ws.on('error', (e) => {
      totals.protocolErrors++;
      note(`client ${c.i} socket error: ${e.message}`);
    });
    ws.on('close', (code, reason) => {
      if (c.ws !== ws || stopping) return; // dropped on purpose
      c.online = false;
      totals.protocolErrors++;
      note(`client ${c.i} closed by the server: ${code} ${reason.toString()}`);
    });
  };

  const url = o.url;
  const opened = await openMany(o.n, o.concurrency, (i) =>
    connect(url, o.app, roomQuery(clients[i]!.room), onMessage(clients[i]!)),
  );
  const connectMs = opened.ms;
  opened.opened.forEach((ws, i) => ws && attach(clients[i]!, ws));
  const base = {
    connectMs,
    clients: o.n,
    rooms,
    examples,
  };
  if (opened.failed) {
    return {
      ...emptyResult(base),
      error: `${opened.failed} of ${o.n} sockets failed to connect: ${opened.firstError}`,
    };
  }
  send({ type: 'connected', ms: connectMs });

  // ── the writes ─────────────────────────────────────────────────────────
  const write = (c: Client) => {
    const seq = c.seq++;
    const id = `w${c.i}_${seq}`;
    const doc = `d${c.i}_${seq % o.slots}`;
    const hlc = c.hlc.now();
    const cell = (field: string, value: unknown) => ({ collection: 'msgs', id: doc, field, value, hlc });
    const changes = [cell('w', id), cell('n', seq), cell('text', `message ${seq} from client ${c.i}`)];
    if (seq < o.slots) changes.unshift(cell('id', doc), cell('room', `r${c.room}`));
    sent.set(id, { t: performance.now(), writer: c.i, doc, seq, mask: 0, got: 0, cursor: 0 });
    c.pendingAcks++;
    totals.writes++;
    totals.expected += membersOf(c.room);
    period.writes++;
    c.ws!.send(
      JSON.stringify({
        type: 'push',
        requestId: id,
        clientId: `load_${c.i}`,
        mutations: [{ id, changes }],
      }),
    );
  };

  // ── reconnects ─────────────────────────────────────────────────────────
  let nextAway = 0;
  const away = (c: Client) => {
    c.leaving = true;
    const drop = () => {
      if (c.pendingAcks > 0) return void setTimeout(drop, 5);
      const from = c.cursor;
      const ws = c.ws!;
      c.online = false;
      c.ws = undefined;
      c.gen++;
      ws.terminate();
      setTimeout(() => {
        connect(url, o.app, roomQuery(c.room), onMessage(c), from).then(
          (ws2) => {
            c.gaps.push({ from, to: c.cursor });
            attach(c, ws2);
            c.leaving = false;
            totals.reconnects++;
            period.reconnects++;
          },
          (e: Error) => {
            totals.protocolErrors++;
            note(`client ${c.i} could not reconnect: ${e.message}`);
          },
        );
      }, o.gapS * 1000);
    };
    drop();
  };

  const t0 = performance.now();
  let cpu0 = process.cpuUsage();
  let periodStart = t0;
  let periodNo = 0;
  const report = (now: number) => {
    const cpu = process.cpuUsage(cpu0);
    cpu0 = process.cpuUsage();
    const s = summarize(latencies);
    const r: PeriodReport = {
      type: 'period',
      period: ++periodNo,
      atS: (now - t0) / 1000,
      ...period,
      fanout: { ...s, count: latencies.length },
      outstanding: sent.size,
      loadgenCpuPct: (cpu.user + cpu.system) / 10 / (now - periodStart),
    };
    send(r);
    period = { writes: 0, acks: 0, delivered: 0, reconnects: 0 };
    latencies = [];
    periodStart = now;
  };

  const spacing = 1000 / o.n;
  const totalMs = o.seconds * 1000;
  // No one leaves so late that it could not be back (with its catch-up) before the end.
  const lastAwayMs = totalMs - (o.gapS + 5) * 1000;
  let k = 0; // the k-th scheduled write: client k % n, due at t0 + k * spacing
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const now = performance.now();
      if (now - periodStart >= o.periodS * 1000 && now - t0 < totalMs) report(now);
      const at = now - t0;
      if (o.reconnectEveryS > 0 && at >= (nextAway + 1) * o.reconnectEveryS * 1000 && at < lastAwayMs) {
        const c = clients[(nextAway * 7919 + 3) % o.n]!;
        nextAway++;
        if (c.online && !c.leaving) away(c);
      }
      while (t0 + k * spacing <= now) {
        if (k * spacing >= totalMs) {
          clearInterval(tick);
          return resolve();
        }
        const c = clients[k % o.n]!;
        k++;
        if (c.online && !c.leaving) write(c);
      }
    }, 2);
  });

  // ── drain: every ack in, every delivery (or the drain time out) ────────
  const endWrites = performance.now();
  /** Waiting for a delivery that must still come live: not acked, or a member that was not away for it lacks it. */
  const waiting = (w: Write) => {
    if (w.cursor === 0) return true;
    const k = Math.floor(w.writer / o.room);
    for (let b = 0; b < membersOf(k); b++) {
      if (w.mask & (1 << b)) continue;
      if (!clients[k * o.room + b]!.gaps.some((g) => g.from < w.cursor && w.cursor <= g.to)) return true;
    }
    return false;
  };
  const settled = () =>
    clients.every((c) => c.pendingAcks <= 0 && c.online && !c.leaving) &&
    [...sent.values()].every((w) => !waiting(w));
  while (performance.now() - endWrites < o.drainS * 1000 && !settled())
    await new Promise((r) => setTimeout(r, 100));
  const drainMs = performance.now() - endWrites;
  report(performance.now());

  // ── what never arrived: superseded during a gap, or missed ─────────────
  let unacked = 0;
  let superseded = 0;
  let missed = 0;
  for (const [id, w] of sent) {
    if (w.cursor === 0) {
      unacked++;
      note(`push ${id} never acknowledged`);
      continue;
    }
    const k = Math.floor(w.writer / o.room);
    for (let b = 0; b < membersOf(k); b++) {
      if (w.mask & (1 << b)) continue;
      const r = clients[k * o.room + b]!;
      const inGap = r.gaps.some((g) => g.from < w.cursor && w.cursor <= g.to);
      const n = r.state.get(w.doc)?.get('n')?.value;
      if (inGap && typeof n === 'number' && n > w.seq) superseded++;
      else {
        missed++;
        note(
          `client ${r.i} never got ${id} (cursor ${w.cursor}; its gaps ${JSON.stringify(r.gaps)}; it holds n=${String(n)})`,
        );
      }
    }
  }

  // ── each client's copy against the server's snapshot of its room ───────
  let statesDiffering = 0;
  let serverCells = 0;
  for (let k = 0; k < rooms; k++) {
    const res = await fetch(`${url}/v1/apps/${o.app}/snapshot`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ queries: [roomQuery(k)] }),
    });
    if (res.status !== 200)
      throw new Error(`snapshot of room ${k} answered ${res.status}: ${await res.text()}`);
    const snap = (await res.json()) as { cells: WireCell[] };
    serverCells += snap.cells.length;
    for (let b = 0; b < membersOf(k); b++) {
      const c = clients[k * o.room + b]!;
      const diff = stateDiff(c.state, snap.cells);
      if (diff) {
        statesDiffering++;
        note(`client ${c.i} differs from the server: ${diff}`);
      }
    }
  }

  stopping = true;
  for (const c of clients) c.ws?.terminate();
  return {
    ...base,
    ...totals,
    unacked,
    superseded,
    missed,
    statesChecked: o.n,
    statesDiffering,
    serverCells,
    fanout: histSummary(hist),
    drainMs,
    type: 'result',
  };
}

/** The first difference between a client's copy and the server's cells, or undefined. */
function stateDiff(
  state: Map<string, Map<string, CellState>>,
  cells: readonly WireCell[],
): string | undefined {
  let n = 0;
  for (const cell of cells) {
    n++;
    const mine = state.get(cell.id)?.get(cell.field);
    if (!mine) return `lacks ${cell.id}.${cell.field}`;
    if (mine.hlc !== cell.hlc || JSON.stringify(mine.value) !== JSON.stringify(cell.value))
      return `${cell.id}.${cell.field} is ${JSON.stringify(mine.value)}@${mine.hlc}, the server's ${JSON.stringify(cell.value)}@${cell.hlc}`;
  }
  let mineCount = 0;
  for (const doc of state.values()) mineCount += doc.size;
  if (mineCount !== n) return `holds ${mineCount} cells, the server ${n}`;
  return undefined;
}

/** p50/p99/max from the 0.1 ms histogram. */
function histSummary(hist: Uint32Array): { p50: number; p99: number; max: number; count: number } {
  let count = 0;
  for (const x of hist) count += x;
  const at = (p: number) => {
    const rank = Math.max(1, Math.ceil(p * count));
    let seen = 0;
    for (let i = 0; i < hist.length; i++) if ((seen += hist[i]!) >= rank) return (i + 1) / 10;
    return NaN;
  };
  let max = NaN;
  for (let i = hist.length - 1; i >= 0; i--)
    if (hist[i]) {
      max = (i + 1) / 10;
      break;
    }
  return { p50: at(0.5), p99: at(0.99), max, count };
}

function emptyResult(base: {
  connectMs: number;
  clients: number;
  rooms: number;
  examples: string[];
}): RunResult {
  return {
    type: 'result',
    ...base,
    writes: 0,
    acks: 0,
    refused: 0,
    unacked: 0,
    expected: 0,
    delivered: 0,
    catchUp: 0,
    superseded: 0,
    missed: 0,
    duplicates: 0,
    stray: 0,
    reconnects: 0,
    protocolErrors: 0,
    statesChecked: 0,
    statesDiffering: 0,
    serverCells: 0,
    fanout: { p50: NaN, p99: NaN, max: NaN, count: 0 },
    drainMs: 0,
  };
}

for await (const line of createInterface({ input: process.stdin })) {
  const cmd = JSON.parse(line) as { type: string };
  if (cmd.type === 'run') {
    try {
      send(await run(cmd as unknown as RunCommand));
    } catch (e) {
      send({ type: 'result', error: (e as Error).stack ?? String(e) });
    }
  } else if (cmd.type === 'stop') process.exit(0);
}
