/**
 * One chaos client process (forked by run.ts): the real @omnisync/client with a file
 * persistence, talking to a server through the runner's proxy, writing about `rate`
 * transactions a second until told to stop, and logging its history as JSON lines
 * (appended synchronously: a kill -9 loses no logged line).
 *
 * Every write is one transaction: the shared field `docs/<doc>.<field>` set to
 * `<incarnation>:<seq>`, plus a new row `log/<incarnation>-<seq>`. Some ticks delete one of
 * this incarnation's acked rows instead. An incarnation is one process's life: a restarted
 * client (same name, same persistence file, same replica id) is a new incarnation, since what
 * a killed process had not yet stored is legitimately gone (its writes were never acked).
 * Restored transactions of earlier incarnations are awaited and their acks logged.
 *
 * Environment (set by the runner): CHAOS_NAME, CHAOS_INC, CHAOS_URL, CHAOS_DIR, CHAOS_SEED,
 * CHAOS_RATE, CHAOS_DOCS, CHAOS_FIELDS.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { createClient, type Transaction, type WebSocketConstructor } from '@omnisync/client';
import { createFilePersistence } from '@omnisync/client/node';
import { seededRandom } from '@omnisync/core';

const env = process.env;
const NAME = env.CHAOS_NAME!;
const INC = `${NAME}.${env.CHAOS_INC}`;
const DIR = env.CHAOS_DIR!;
const RATE = Number(env.CHAOS_RATE ?? 20);
const DOCS = Number(env.CHAOS_DOCS ?? 4);
const FIELDS = Number(env.CHAOS_FIELDS ?? 3);
const random = seededRandom(Number(env.CHAOS_SEED ?? 1));
/**
 * `ordered` (the default: a write waits for the one before it on the same document) or
 * `parallel` (every write is pushed at once): the runner gives half the clients each.
 */
const STRATEGY = env.CHAOS_STRATEGY === 'parallel' ? 'parallel' : 'ordered';
const historyPath = join(DIR, `history-${INC}.jsonl`);

const log = (e: Record<string, unknown>) =>
  appendFileSync(historyPath, JSON.stringify({ ...e, t: Date.now() }) + '\n');

const client = createClient({
  app: 'chaos',
  server: env.CHAOS_URL!,
  persistence: createFilePersistence({ path: join(DIR, `${NAME}.omnisync`), fsync: true }),
  serverOptions: {
    WebSocket: WebSocket as unknown as WebSocketConstructor,
    // Generous: on a loaded 2-core machine a healthy request can take seconds.
    requestTimeoutMs: 8000,
    pollIntervalMs: 1000,
    backoff: { baseDelayMs: 50, maxDelayMs: 500 },
  },
  onError: () => {},
});
const docs = client.collection<{ id: string } & Record<string, string | undefined>>({
  id: 'docs',
  strategy: STRATEGY,
});
const rows = client.collection<{ id: string; by: string; seq: number }>({ id: 'log', strategy: STRATEGY });
const fieldNames = Array.from({ length: FIELDS }, (_, i) => `f${i}`);
const docIds = Array.from({ length: DOCS }, (_, i) => `d${i}`);

// ── reads: what the live collection shows, logged on every change of a shared field ──────
const seen = new Map<string, string | null>();
const cursor = () => client.server?.status.get().cursor;
const readDoc = (id: string) => {
  const doc = docs.get(id);
  for (const f of fieldNames) {
    const value = (doc?.[f] as string | undefined) ?? null;
    const k = `${id}.${f}`;
    if (seen.get(k) === value) continue;
    seen.set(k, value);
    log({ type: 'read', client: INC, doc: id, field: f, value, cursor: cursor() });
  }
};
docs.subscribe((changes) => {
  for (const c of changes) if (docIds.includes(c.id)) readDoc(c.id);
});

// ── acks ────────────────────────────────────────────────────────────────────────────────
const unfinished = new Set<Transaction>();
const ackedRows: string[] = [];
let acks = 0;
let fails = 0;
function track(tx: Transaction, id: string, row?: string) {
  unfinished.add(tx);
  tx.promise.then(
    () => {
      unfinished.delete(tx);
      acks++;
      log({ type: 'ack', client: INC, id, hlc: tx.mutations[0]?.hlc });
      if (row && row.startsWith(`${INC}-`)) ackedRows.push(row);
    },
    (err: unknown) => {
      unfinished.delete(tx);
      fails++;
      log({
        type: 'fail',
        client: INC,
        id,
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      });
    },
  );
}

let seq = 0;
let writing = false;
/** Set by `stop`: a `write` still waiting for the shared documents must not start afterwards. */
let stopped = false;
let deletes = 0;
function tick() {
  if (!writing) return;
  if (ackedRows.length > 0 && random() < 0.1) {
    const row = ackedRows.splice(Math.floor(random() * ackedRows.length), 1)[0]!;
    if (!rows.has(row)) return;
    const id = `del:${row}`;
    log({ type: 'delete', client: INC, id, row });
    deletes++;
    track(rows.delete(row), id);
    return;
  }
  seq++;
  const doc = docIds[Math.floor(random() * docIds.length)]!;
  const field = fieldNames[Math.floor(random() * fieldNames.length)]!;
  const id = `${INC}-${seq}`;
  const value = `${INC}:${seq}`;
  log({ type: 'write', client: INC, id, doc, field, seq });
  const tx = client.transaction(
    () => {
      docs.update(doc, { [field]: value });
      rows.insert({ id, by: INC, seq });
    },
    { strategy: STRATEGY },
  );
  track(tx, id, id);
}

async function main() {
  await client.ready;
  log({ type: 'start', client: INC, pid: process.pid, restored: client.transactions.get().length });
  // Transactions restored from the outbox of an earlier incarnation: their acks count too.
  for (const tx of client.transactions.get()) {
    if (tx.state === 'completed' || tx.state === 'failed') continue;
    const m = tx.mutations.find((x) => x.collection === 'log');
    if (!m) continue;
    track(tx, m.type === 'delete' ? `del:${m.key}` : m.key);
  }
  for (const id of docIds) readDoc(id);
  // The sync status now and then (for people reading a stalled run's history).
  setInterval(() => {
    const open = client.transactions.get().filter((t) => t.state !== 'completed' && t.state !== 'failed');
    log({ type: 'status', client: INC, open: open.length, source: client.server?.status.get() });
  }, 2000).unref();
  process.send?.({ type: 'started' });
}

let timer: NodeJS.Timeout | undefined;
process.on('message', (msg: { cmd: string }) => {
  void (async () => {
    if (msg.cmd === 'write') {
      // The shared documents exist before anyone writes (the runner made them): wait for them.
      await client.ready;
      while (!stopped && !docIds.every((d) => docs.has(d))) {
        await client.sync().catch(() => {});
        await new Promise((r) => setTimeout(r, 100));
      }
      if (stopped) return;
      writing = true;
      timer ??= setInterval(tick, 1000 / RATE);
      process.send?.({ type: 'writing' });
    } else if (msg.cmd === 'stop') {
      writing = false;
      stopped = true;
      clearInterval(timer);
      process.send?.({ type: 'stopped' });
    } else if (msg.cmd === 'status') {
      const status = client.server?.status.get();
      process.send?.({
        type: 'status',
        unfinished: client.transactions.get().filter((t) => t.state !== 'completed' && t.state !== 'failed')
          .length,
        tracked: unfinished.size,
        pending: status?.pending ?? 0,
        source: status,
        cursor: status?.cursor,
        writes: seq,
        acks,
        fails,
        deletes,
      });
    } else if (msg.cmd === 'final') {
      await client.sync().catch(() => {});
      await client.sync().catch(() => {});
      for (const id of docIds) readDoc(id);
      const fields: Record<string, string | null> = {};
      for (const d of docIds) {
        const doc = docs.get(d);
        for (const f of fieldNames) fields[`${d}.${f}`] = (doc?.[f] as string | undefined) ?? null;
      }
      process.send?.({
        type: 'final',
        node: `client-${NAME}`,
        fields,
        rows: rows.all().map((r) => r.id),
        cursor: cursor(),
      });
    } else if (msg.cmd === 'exit') {
      await client.close().catch(() => {});
      process.exit(0);
    }
  })().catch((err: unknown) => {
    process.send?.({ type: 'error', error: String(err) });
  });
});

main().catch((err: unknown) => {
  console.error(err);
  process.send?.({ type: 'error', error: String(err) });
  process.exit(1);
});
