/**
 * Fuzz at scale: sends mutated messages (see mutator.ts) over HTTP and one WebSocket to a
 * real `omnisync serve` process and checks the oracle:
 *  - no crash: the process stays alive and `/v1/health` answers 200 (checked every batch);
 *  - every refusal is a 4xx whose body is exactly `{error:{code,…}}` with a known code (HTTP),
 *    or a live `error` message with a known code / a close with a 4xxx or 1009 code and a reason (WS);
 *  - a refused input changes nothing: the state digest (sha256 of the sorted snapshot cells,
 *    plus the change-log cursor, read through the public API) is taken before a push
 *    (when refusals came since the last one), after an accepted push and after every batch; two digests with no accepted push between them must
 *    be equal, and the cursor never passes the highest one acknowledged.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createHlc,
  decodeLiveClientMessage,
  ERROR_CODES,
  MESSAGE_MAX_BYTES,
  MESSAGE_MAX_DEPTH,
  parseMessageText,
} from '@omnisync/core';
import WebSocket from 'ws';
import { startServe } from '../helpers/serve-process.js';
import { createRng, type FuzzMessage, nextMessage } from './mutator.js';

const KNOWN = new Set(Object.keys(ERROR_CODES));
/** Live close codes that are a refusal (with a reason), not a fault. */
const REFUSAL_CLOSES = new Set([1007, 1009, 4000, 4001, 4003, 4008, 4029]);

/** Options of {@link runFuzz}. */
export interface FuzzOptions {
  messages: number;
  seed: number;
  /** Concurrent lanes, each with its own app (tenant), socket and state oracle (default 1). */
  lanes?: number;
  /**
   * Skip the first `start` messages of the run (each lane generates and drops its share), so a
   * stopped run continues with the same messages: `--start` = the summary's `resumeFrom`.
   */
  start?: number;
  /** Messages per state-digest check. */
  batch?: number;
  onProgress?: (s: FuzzSummary) => void;
  /** Called with each finding as it happens. */
  onViolation?: (what: string) => void;
  /** Findings that are not violations (e.g. a push the server took that core's decoder refuses). */
  onNote?: (what: string) => void;
  /** Stop early (the summary covers what was sent). */
  signal?: AbortSignal;
  /** Extra `omnisync serve` arguments. */
  serveArgs?: string[];
}

/** What a run saw. */
export interface FuzzSummary {
  seed: number;
  sent: number;
  http: number;
  ws: number;
  accepted: number;
  refused: number;
  byStatus: Record<string, number>;
  byCode: Record<string, number>;
  byMutation: Record<string, number>;
  byKind: Record<string, number>;
  wsCloses: Record<string, number>;
  digestChecks: number;
  /** Refused messages inside a segment whose digests were compared (the 0-state-change oracle covered them). */
  refusedVerified: number;
  violations: string[];
  crashed: boolean;
  ms: number;
  /** Messages of the run sent or skipped, per lane (the stream index each lane reached). */
  laneReached: number[];
  /** `--start` value that continues this run without a gap (lanes stop at slightly different points). */
  resumeFrom: number;
}

interface HttpAnswer {
  status: number;
  text: string;
}

function send(
  agent: Agent,
  url: URL,
  method: string,
  path: string,
  body?: Buffer,
  headers: Record<string, string> = {},
) {
  return new Promise<HttpAnswer>((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        agent,
        headers: body ? { ...headers, 'content-length': body.length } : headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** The live socket, reconnected (with hello) whenever the server closes it. */
class Live {
  ws!: WebSocket;
  inbox: any[] = [];
  /** How much of the inbox was already attributed to a sent message. */
  seen = 0;
  closed: { code: number; reason: string } | undefined;
  #waiters: (() => void)[] = [];
  constructor(
    readonly url: string,
    readonly app: string,
  ) {}
  async open(): Promise<void> {
    this.inbox = [];
    this.seen = 0;
    this.closed = undefined;
    this.ws = new WebSocket(`${this.url.replace(/^http/, 'ws')}/v1/apps/${this.app}/live`);
    this.ws.on('message', (d) => {
      let m: unknown;
      try {
        m = JSON.parse(d.toString());
      } catch {
        m = { type: '<not json>', text: d.toString().slice(0, 200) };
      }
      this.inbox.push(m);
      this.#wake();
    });
    this.ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.#wake();
    });
    this.ws.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('close', () => reject(new Error('live socket closed before opening')));
    });
    this.ws.send(JSON.stringify({ type: 'hello', cursor: 0, mode: 'poke' }));
    await this.until((m) => m.type === 'welcome', 10_000);
    this.seen = this.inbox.length;
  }
  #wake() {
    const w = this.#waiters;
    this.#waiters = [];
    for (const f of w) f();
  }
  /** Wait for a message matching `pred` (from `from`), or the close; undefined when closed. */
  async until(pred: (m: any) => boolean, ms: number, from = 0): Promise<any> {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = this.inbox.slice(from).find(pred);
      if (hit) return hit;
      if (this.closed) return undefined;
      if (Date.now() > deadline) throw new Error(`no live answer in ${ms} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 200);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

/**
 * The type and requestId the server reads from a live message, as it reads them (connection.ts):
 * within the size limit, text or a binary frame starting with `{`, JSON within the depth limit,
 * a string requestId of at most 128 characters. Undefined when its answer cannot carry a requestId.
 */
function serverRequestId(m: FuzzMessage): { type: unknown; requestId: string } | undefined {
  if (m.body.length > MESSAGE_MAX_BYTES) return undefined;
  if (m.binary === true && m.body.length > 0 && m.body[0] !== 0x7b) return undefined;
  let value: any;
  try {
    value = parseMessageText(
      m.body.toString('utf8'),
      { maxBytes: MESSAGE_MAX_BYTES, maxDepth: MESSAGE_MAX_DEPTH },
      m.body.length,
    );
  } catch {
    return undefined;
  }
  const rid = (value as { requestId?: unknown } | null)?.requestId;
  if (typeof rid !== 'string' || rid.length > 128) return undefined;
  return { type: (value as { type?: unknown }).type, requestId: rid };
}

/** Run the fuzz against a fresh server process; resolves with the summary (never throws on a finding). */
export async function runFuzz(opts: FuzzOptions): Promise<FuzzSummary> {
  const started = Date.now();
  const batch = opts.batch ?? 20;
  const dir = mkdtempSync(join(tmpdir(), 'omnisync-fuzz-'));
  const server = await startServe([
    '--port',
    '0',
    '--data',
    dir,
    '--rate-limit',
    'off',
    '--durability',
    'off',
    '--log-level',
    'info',
    ...(opts.serveArgs ?? []),
  ]);
  const url = new URL(server.url);
  const s: FuzzSummary = {
    seed: opts.seed,
    sent: 0,
    http: 0,
    ws: 0,
    accepted: 0,
    refused: 0,
    byStatus: {},
    byCode: {},
    byMutation: {},
    byKind: {},
    wsCloses: {},
    digestChecks: 0,
    refusedVerified: 0,
    violations: [],
    crashed: false,
    ms: 0,
    laneReached: [],
    resumeFrom: 0,
  };
  const inc = (o: Record<string, number>, k: string) => (o[k] = (o[k] ?? 0) + 1);
  const violate = (m: FuzzMessage | undefined, what: string) => {
    const text = `#${s.sent} ${m ? `${m.via} ${m.kind} [${m.mutation}] ${m.body.subarray(0, 160).toString('latin1')}: ` : ''}${what}`;
    opts.onViolation?.(text);
    if (s.violations.length < 50) s.violations.push(text);
  };
  let exited = false;
  server.child.once('exit', () => (exited = true));
  /** One lane: its own app, socket, PRNG stream and state oracle. */
  const lanes = opts.lanes ?? 1;
  const share = (n: number, k: number) => Math.floor(n / lanes) + (k < n % lanes ? 1 : 0);
  const lane = async (k: number, count: number, skip: number) => {
    const rng = createRng(opts.seed + k * 7919);
    const hlc = createHlc({ nodeId: `fuzz${opts.seed}_${k}` });
    const APP = `fuzz${k}`;
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    let seq = 0;
    const next = () => ++seq;
    const live = new Live(server.url, APP);
    /** What this segment sent and got back (dumped as a note when its check fails). */
    let trace: string[] = [];

    const post = (kind: string, body: unknown) =>
      send(agent, url, 'POST', `/v1/apps/${APP}/${kind}`, Buffer.from(JSON.stringify(body)), {
        'content-type': 'application/json',
      });
    const digest = async (): Promise<{ hash: string; cursor: number }> => {
      const a = await post('snapshot', {});
      if (a.status !== 200) throw new Error(`snapshot answered ${a.status}: ${a.text.slice(0, 200)}`);
      const snap = JSON.parse(a.text) as {
        cells: { collection: string; id: string; field: string }[];
        cursor: number;
      };
      const key = (c: { collection: string; id: string; field: string }) =>
        `${c.collection}\u0000${c.id}\u0000${c.field}`;
      const cells = snap.cells.sort((x, y) => (key(x) < key(y) ? -1 : 1));
      return { hash: createHash('sha256').update(JSON.stringify(cells)).digest('hex'), cursor: snap.cursor };
    };
    const checkRefusal = (m: FuzzMessage, a: HttpAnswer) => {
      let body: any;
      try {
        body = JSON.parse(a.text);
      } catch {
        return violate(m, `${a.status} body is not JSON: ${a.text.slice(0, 120)}`);
      }
      const keys = body && typeof body === 'object' ? Object.keys(body) : [];
      if (keys.length !== 1 || keys[0] !== 'error' || typeof body.error?.code !== 'string')
        return violate(m, `${a.status} body is not {error:{code}}: ${a.text.slice(0, 120)}`);
      if (!KNOWN.has(body.error.code)) violate(m, `unknown code ${body.error.code}`);
      inc(s.byCode, body.error.code);
    };

    /** Send one message; true when the server accepted it (it may have changed state). */
    const one = async (m: FuzzMessage): Promise<{ accepted: boolean; push?: boolean; cursor?: number }> => {
      if (m.via === 'http') {
        s.http++;
        const a = await send(agent, url, 'POST', `/v1/apps/${APP}/${m.kind}`, m.body, m.headers);
        inc(s.byStatus, String(a.status));
        trace.push(
          `#${s.sent} http ${m.kind} [${m.mutation}] ${m.body.subarray(0, 200).toString('latin1')} → ${a.status} ${a.text.slice(0, 200)}`,
        );
        if (a.status === 200) {
          const body = JSON.parse(a.text) as { cursor?: number };
          if (m.kind !== 'push') return { accepted: true };
          return {
            accepted: true,
            push: true,
            ...(typeof body.cursor === 'number' ? { cursor: body.cursor } : {}),
          };
        }
        if (a.status >= 400 && a.status < 500) checkRefusal(m, a);
        else violate(m, `status ${a.status}: ${a.text.slice(0, 160)}`);
        return { accepted: false };
      }
      s.ws++;
      if (live.closed) await live.open();
      const n = s.sent;
      // Answers are attributed by what the server can know: its refusals of a message it could
      // not read (too large, binary, not JSON, too deep) carry no requestId, and they may come
      // after later answers (a refusal thrown inside an async handler is sent a microtask after
      // a pong written at once), so an unlabelled error says nothing about which message it answers.
      const from = live.seen;
      const labelled = serverRequestId(m);
      let decoded: any;
      try {
        decoded = decodeLiveClientMessage(JSON.parse(m.body.toString()));
      } catch {
        decoded = undefined;
      }
      live.ws.send(m.body, { binary: m.binary === true });
      const pingId = `fz-${n}`;
      if (live.ws.readyState === WebSocket.OPEN) live.ws.send(JSON.stringify({ type: 'ping', id: pingId }));
      let reply = await live.until((x) => x.type === 'pong' && x.id === pingId, 30_000, from);
      // A push the server can read answers with its requestId: an ack, or an error. The ack may
      // come after the pong (a push commits asynchronously, a ping is answered at once).
      let pushReply: any;
      if (reply && labelled?.type === 'push') {
        pushReply = await live.until(
          (x) => (x.type === 'ack' || x.type === 'error') && x.requestId === labelled.requestId,
          30_000,
          from,
        );
        reply = pushReply;
        if (pushReply?.type === 'ack' && decoded === undefined) {
          inc(s.byCode, 'accepted-undecodable-push');
          opts.onNote?.(
            `#${n} the server acked a live push the core decoder refuses: ${m.body.subarray(0, 300).toString('latin1')}`,
          );
        }
      }
      const answers = live.inbox.slice(from);
      live.seen = live.inbox.length;
      trace.push(
        `#${n} ws ${m.kind} [${m.mutation}] ${m.body.subarray(0, 200).toString('latin1')} → ${answers.map((x) => JSON.stringify(x).slice(0, 200)).join(' | ')}${live.closed ? ` closed ${live.closed.code}` : ''}`,
      );
      const errors = answers.filter((x) => x.type === 'error' || x.type === '<not json>');
      for (const e of errors) {
        if (typeof e.error?.code !== 'string' || !KNOWN.has(e.error.code))
          violate(m, `bad live error ${JSON.stringify(e).slice(0, 160)}`);
        else {
          inc(s.byCode, e.error.code);
          if (e.error.code === 'internal' || e.error.code === 'storage_failed')
            violate(m, `live ${e.error.code}: ${e.error.message}`);
        }
      }
      if (!reply && live.closed) {
        const { code, reason } = live.closed;
        inc(s.wsCloses, String(code));
        if (!REFUSAL_CLOSES.has(code) || reason === '') violate(m, `live closed ${code} "${reason}"`);
        return { accepted: false };
      }
      if (pushReply) {
        if (pushReply.type === 'ack') return { accepted: true, push: true, cursor: pushReply.cursor };
        return { accepted: false };
      }
      // Not a push the server can read: an ack here can only be a late one of an earlier message
      // (count it as a change, never hide it).
      const ack = answers.find((x) => x.type === 'ack');
      if (ack) return { accepted: true, push: true, cursor: ack.cursor };
      return { accepted: errors.length === 0 };
    };

    try {
      await live.open();
      // A segment runs between two digests; with no accepted push in it, the digests must be equal.
      let last = await digest();
      let acked = last.cursor;
      let changed = false;
      let segmentRefused = 0;
      const checkpoint = async () => {
        const d = await digest();
        let bad = false;
        if (!changed) {
          s.digestChecks++;
          s.refusedVerified += segmentRefused;
          if (d.hash !== last.hash || d.cursor !== last.cursor) {
            bad = true;
            violate(
              undefined,
              `lane ${k}: state changed without an accepted push, before #${s.sent + 1} (cursor ${last.cursor} → ${d.cursor})`,
            );
          }
        }
        if (d.cursor > acked) {
          bad = true;
          violate(
            undefined,
            `lane ${k}: cursor ${d.cursor} beyond the highest acknowledged ${acked} at #${s.sent}`,
          );
        }
        if (bad) opts.onNote?.(`lane ${k}: the segment sent\n  ${trace.join('\n  ')}`);
        trace = [];
        acked = d.cursor;
        last = d;
        changed = false;
        segmentRefused = 0;
      };
      for (let i = 0; i < skip; i++) nextMessage(rng, () => hlc.now(), next);
      s.laneReached[k] = skip;
      let done = 0;
      while (done < count && !opts.signal?.aborted) {
        for (let i = 0; i < batch && done < count; i++) {
          const m = nextMessage(rng, () => hlc.now(), next);
          // A push may be accepted: close the segment before it, so its refusals are covered.
          if (m.kind === 'push' && segmentRefused > 0) await checkpoint();
          s.sent++;
          done++;
          s.laneReached[k] = skip + done;
          inc(s.byMutation, m.mutation.split('+')[0]!);
          inc(s.byKind, `${m.via}:${m.kind}`);
          let r: { accepted: boolean; push?: boolean; cursor?: number };
          try {
            r = await one(m);
          } catch (err) {
            if (exited) throw err;
            // A body over the server's limit is refused from its Content-Length with a 413 and
            // the connection closed; the write of the rest can fail (EPIPE) before the answer is read.
            const code = (err as { code?: string }).code;
            if (
              m.via === 'http' &&
              m.body.length > 1024 * 1024 &&
              (code === 'EPIPE' || code === 'ECONNRESET')
            ) {
              inc(s.byStatus, `closed:${code}`);
              s.refused++;
              segmentRefused++;
              continue;
            }
            violate(m, `no answer: ${err instanceof Error ? err.message : String(err)}`);
            r = { accepted: true, push: true };
          }
          if (r.accepted) s.accepted++;
          else {
            s.refused++;
            segmentRefused++;
          }
          if (r.cursor !== undefined) acked = Math.max(acked, r.cursor);
          // An accepted push starts a new segment at once, so the refusals after it are covered.
          if (r.push) {
            changed = true;
            await checkpoint();
          }
        }
        if (exited) break;
        const health = await send(agent, url, 'GET', '/v1/health');
        if (health.status !== 200) violate(undefined, `health answered ${health.status}`);
        await checkpoint();
        if (opts.onProgress && k === 0 && done % (batch * 100) === 0)
          opts.onProgress({ ...s, ms: Date.now() - started });
      }
    } catch (err) {
      violate(
        undefined,
        `driver stopped: ${err instanceof Error ? (err.stack ?? err.message).slice(0, 600) : String(err)}`,
      );
    } finally {
      live.ws?.terminate();
      agent.destroy();
    }
  };

  const start = Math.min(opts.start ?? 0, opts.messages);
  try {
    await Promise.all(
      Array.from({ length: lanes }, (_, k) =>
        lane(k, share(opts.messages, k) - share(start, k), share(start, k)),
      ),
    );
  } finally {
    s.crashed = exited;
    if (exited)
      violate(undefined, `server process exited (${server.child.exitCode ?? server.child.signalCode})`);
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  s.ms = Date.now() - started;
  s.resumeFrom = Math.min(opts.messages, Math.min(...s.laneReached) * lanes);
  return s;
}
