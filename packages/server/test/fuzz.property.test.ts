/**
 * Fuzz: at least 10 000 mutated protocol messages (OMNISYNC_RUNS runs × 10 messages; seed
 * from OMNISYNC_SEED) sent to the HTTP endpoints and one WebSocket connection of a real
 * server. Every answer is a 2xx that matches its response schema or a 4xx/error message
 * with a known code — never a 5xx, a crash or a dead socket. Afterwards: health check, and
 * the data equals a model (core Replica) fed only with what the server acknowledged,
 * through both snapshot and pull from cursor 0; SQLite integrity_check is ok.
 */
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Cell,
  decodeLiveClientMessage,
  ERROR_CODES,
  type JsonValue,
  pullResponseSchema,
  pushResponseSchema,
  Replica,
  snapshotResponseSchema,
  cursorResponseSchema,
} from '@omnisync/core';
import { CellWriter, HttpClient, LiveClient, post } from './helpers/protocol-client.js';
import { startServer, type TestServer } from './helpers/servers.js';

const RUNS = Number(process.env.OMNISYNC_RUNS ?? 1000);
const SEED = process.env.OMNISYNC_SEED === undefined ? undefined : Number(process.env.OMNISYNC_SEED);
const PER_RUN = 10;
const APP = 'fuzz';
const HTTP_KINDS = ['push', 'pull', 'snapshot', 'cursor'];

// ── valid base messages ────────────────────────────────────────────────────
const arbCell = fc.record({
  collection: fc.constantFrom('todos', 'notes'),
  id: fc.constantFrom('a', 'b', 'c', 'd'),
  field: fc.constantFrom('id', 'title', 'n', 'ownerId', 'meta.x', 'tags[t1]', '_deleted'),
  value: fc.oneof(
    fc.string({ maxLength: 8 }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
  ),
});
const arbMutation = fc.record(
  {
    id: fc.constantFrom('m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8'),
    name: fc.constantFrom('bump', 'x'),
    args: fc.jsonValue({ maxDepth: 2 }),
    changes: fc.array(arbCell, { maxLength: 4 }),
  },
  { requiredKeys: ['id', 'changes'] },
);
const arbLegacyQuery = fc.record(
  {
    collection: fc.constantFrom('todos', 'notes', 'other'),
    where: fc.dictionary(fc.constantFrom('ownerId', 'n', 'meta.x'), fc.jsonValue({ maxDepth: 1 }), {
      maxKeys: 2,
    }),
  },
  { requiredKeys: ['collection'] },
);
// Query ASTs (protocol v2): mostly valid, some not (null ranges, non-scalar operands, unknown ops).
const arbOperand = fc.oneof(fc.string({ maxLength: 4 }), fc.integer(), fc.boolean(), fc.constant(null));
const arbPredicate = fc.letrec<{ p: unknown }>((tie) => ({
  p: fc.oneof(
    { maxDepth: 2, depthIdentifier: 'p' },
    fc.record({
      op: fc.constantFrom('eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'contains', 'regex'),
      field: fc.constantFrom('ownerId', 'n', 'meta.x', 'tags[t1]'),
      value: arbOperand,
    }),
    fc.record({
      op: fc.constantFrom('in', 'nin'),
      field: fc.constantFrom('ownerId', 'n'),
      values: fc.array(fc.oneof(arbOperand, fc.jsonValue({ maxDepth: 1 })), { maxLength: 3 }),
    }),
    fc.record({
      op: fc.constantFrom('like', 'ilike'),
      field: fc.constant('title'),
      pattern: fc.string({ maxLength: 4 }),
    }),
    fc.record({ op: fc.constant('exists'), field: fc.constantFrom('ownerId', 'meta.x') }),
    fc.record({ op: fc.constantFrom('and', 'or'), args: fc.array(tie('p'), { maxLength: 3 }) }),
    fc.record({ op: fc.constant('not'), arg: tie('p') }),
  ),
})).p;
const arbAstQuery = fc.record(
  {
    collection: fc.constantFrom('todos', 'notes', 'other'),
    where: arbPredicate,
    get: fc.constantFrom('a', 'b'),
    orderBy: fc.constant([{ field: 'n', dir: 'desc' }]),
    limit: fc.nat(5),
  },
  { requiredKeys: ['collection'] },
);
const arbQuery = fc.oneof(arbLegacyQuery, arbAstQuery);
const arbClientId = fc.constantFrom('c1', 'c2', 'c3');
const arbBase = fc.oneof(
  fc.record({
    kind: fc.constant('push'),
    clientId: arbClientId,
    mutations: fc.array(arbMutation, { maxLength: 3 }),
  }),
  fc.record(
    {
      kind: fc.constant('pull'),
      cursor: fc.nat(60),
      limit: fc.integer({ min: 1, max: 20 }),
      queries: fc.array(arbQuery, { maxLength: 2 }),
    },
    { requiredKeys: ['kind', 'cursor'] },
  ),
  fc.record(
    { kind: fc.constant('snapshot'), queries: fc.array(arbQuery, { maxLength: 2 }) },
    { requiredKeys: ['kind'] },
  ),
  fc.record({ kind: fc.constant('cursor'), clientId: arbClientId, cursor: fc.nat(60) }),
  fc.record({
    type: fc.constant('push'),
    requestId: fc.string({ minLength: 1, maxLength: 6 }),
    clientId: arbClientId,
    mutations: fc.array(arbMutation, { maxLength: 3 }),
  }),
  fc.record(
    {
      type: fc.constant('subscribe'),
      queryId: fc.constantFrom('q1', 'q2'),
      query: arbQuery,
      cursor: fc.nat(60),
    },
    { requiredKeys: ['type', 'queryId', 'query'] },
  ),
  fc.record({ type: fc.constant('unsubscribe'), queryId: fc.constantFrom('q1', 'q2') }),
  fc.record({ type: fc.constant('ping'), id: fc.string({ maxLength: 5 }) }, { requiredKeys: ['type'] }),
  fc.record(
    { type: fc.constant('hello'), cursor: fc.nat(60), mode: fc.constantFrom('changes', 'poke') },
    { requiredKeys: ['type'] },
  ),
  fc.record(
    {
      type: fc.constantFrom('join', 'leave'),
      room: fc.constantFrom('r1', 'r2'),
      presence: fc.jsonValue({ maxDepth: 2 }),
    },
    { requiredKeys: ['type', 'room'] },
  ),
  fc.record({
    type: fc.constant('presence'),
    room: fc.constantFrom('r1', 'r2'),
    state: fc.jsonValue({ maxDepth: 2 }),
  }),
  fc.record(
    {
      type: fc.constant('event'),
      room: fc.constantFrom('r1', 'r2'),
      name: fc.string({ minLength: 1, maxLength: 5 }),
      payload: fc.jsonValue({ maxDepth: 2 }),
    },
    { requiredKeys: ['type', 'room', 'name'] },
  ),
);

// ── mutations of a message ─────────────────────────────────────────────────
const arbOp = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constant('set'),
      path: fc.nat(),
      value: fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant(undefined)),
    }),
  },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('delete'), path: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('add'),
      path: fc.nat(),
      key: fc.string({ maxLength: 6 }),
      value: fc.jsonValue({ maxDepth: 2 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('retype'),
      to: fc.oneof(
        fc.constantFrom(...HTTP_KINDS, 'hello', 'subscribe', 'push', 'event', 'frob', ''),
        fc.string({ maxLength: 6 }),
      ),
    }),
  },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate'), at: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant('garbage'), text: fc.string({ maxLength: 40, unit: 'binary' }) }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('deep'), depth: fc.integer({ min: 30, max: 400 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('huge') }) },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('badHlc'),
      path: fc.nat(),
      hlc: fc.oneof(fc.string({ maxLength: 30 }), fc.constant('zzzzzzzzzzz-000000-future')),
    }),
  },
);
/** `flip` (1 in 8): send an HTTP-shaped message over the socket or a socket message over HTTP. */
const arbMessage = fc.record({
  base: arbBase,
  ops: fc.array(arbOp, { maxLength: 3 }),
  flip: fc.nat(7).map((n) => n === 0),
});
type FuzzMessage = { base: Record<string, unknown>; ops: { op: string; [k: string]: any }[]; flip: boolean };

type Json = JsonValue | undefined;
const pathsOf = (v: Json, prefix: (string | number)[] = [], out: (string | number)[][] = []) => {
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => pathsOf(x, [...prefix, i], out));
  else if (v && typeof v === 'object') for (const k of Object.keys(v)) pathsOf(v[k], [...prefix, k], out);
  return out;
};
const parentOf = (root: any, path: (string | number)[]) => {
  let p = root;
  for (const k of path.slice(0, -1)) p = p?.[k];
  return p;
};

/** Build the message text: stamp cells with fresh HLCs, apply the ops. */
function render(m: FuzzMessage, writer: CellWriter): { text: string; ws: boolean; kind: string } {
  const obj = structuredClone(m.base) as any;
  for (const mut of obj.mutations ?? [])
    for (const c of mut.changes) {
      c.hlc = writer.hlc.now();
      if (c.field === 'id') c.value = c.id;
      if (c.field === '_deleted') c.value = true;
      if (c.field.endsWith(']')) c.value = c.value === false ? false : true;
      if (c.value === undefined) delete c.value;
    }
  let kind: string = obj.kind ?? 'push';
  delete obj.kind;
  const ws = (obj.type !== undefined) !== m.flip;
  let text: string | undefined;
  for (const op of m.ops) {
    const paths = pathsOf(obj);
    const path = paths[(op.path ?? 0) % paths.length]!;
    switch (op.op) {
      case 'set':
        if (path.length === 0) break;
        parentOf(obj, path)[path.at(-1)!] = op.value;
        break;
      case 'delete':
        if (path.length === 0) break;
        {
          const parent = parentOf(obj, path);
          if (Array.isArray(parent)) parent.splice(path.at(-1) as number, 1);
          else if (parent && typeof parent === 'object') delete parent[path.at(-1)!];
        }
        break;
      case 'add': {
        const target = path.length === 0 ? obj : parentOf(obj, path)?.[path.at(-1)!];
        if (target && typeof target === 'object' && !Array.isArray(target)) target[op.key] = op.value;
        break;
      }
      case 'retype':
        if (ws) obj.type = op.to;
        else kind = op.to;
        break;
      case 'badHlc': {
        const hlcPaths = paths.filter((p) => p.at(-1) === 'hlc');
        const p = hlcPaths[(op.path ?? 0) % Math.max(1, hlcPaths.length)];
        if (p) parentOf(obj, p).hlc = op.hlc;
        break;
      }
      case 'truncate': {
        const s = text ?? JSON.stringify(obj);
        text = s.slice(0, op.at % Math.max(1, s.length));
        break;
      }
      case 'garbage':
        text = op.text;
        break;
      case 'deep':
        text = `{"type":"ping","kind":${'['.repeat(op.depth)}${']'.repeat(op.depth)}}`;
        break;
      case 'huge':
        obj.pad = 'x'.repeat(1024 * 1024 + 16);
        break;
    }
  }
  return { text: text ?? JSON.stringify(obj) ?? 'null', ws, kind };
}

let t: TestServer;
let live: LiveClient;
const model = new Replica();
const applied = new Set<string>();
const knownCodes = new Set(Object.keys(ERROR_CODES));
const responseSchemas: Record<string, { safeParse(v: unknown): { success: boolean } }> = {
  push: pushResponseSchema,
  pull: pullResponseSchema,
  snapshot: snapshotResponseSchema,
  cursor: cursorResponseSchema,
};

/** Feed the model with an acknowledged push, first occurrence of each (clientId, id) only. */
function acknowledge(request: any, results: { id: string; status: string }[]) {
  results.forEach((r, i) => {
    const key = `${request.clientId}\u0000${r.id}`;
    if (applied.has(key)) return;
    applied.add(key);
    if (r.status === 'applied')
      model.apply(request.mutations[i].changes.map((c: Cell) => ({ ...c, value: c.value })));
  });
}

beforeAll(async () => {
  t = await startServer({ live: { maxSubscriptions: 20 } });
  live = await LiveClient.open(t.url, APP);
  await live.hello();
});
afterAll(async () => {
  live.close();
  await t.close();
});

describe('fuzz', () => {
  it(
    `survives ${RUNS * PER_RUN} mutated messages over HTTP and WebSocket with data intact`,
    { timeout: 240_000 },
    async () => {
      const writer = new CellWriter('fuzzer_1');
      let sent = 0;
      let accepted = 0;
      const stats: Record<string, number> = {};
      await fc.assert(
        fc.asyncProperty(
          fc.array(arbMessage, { minLength: PER_RUN, maxLength: PER_RUN }),
          async (messages) => {
            for (const m of messages) {
              const { text, ws, kind } = render(m, writer);
              sent++;
              if (!ws) {
                stats[kind] = (stats[kind] ?? 0) + 1;
                const res = await post(t.url, `/v1/apps/${APP}/${encodeURIComponent(kind)}`, text, {
                  raw: true,
                });
                expect([200, 400, 404, 413]).toContain(res.status);
                stats[res.status] = (stats[res.status] ?? 0) + 1;
                if (res.status === 200) {
                  accepted++;
                  expect(responseSchemas[kind]!.safeParse(res.body).success).toBe(true);
                  if (kind === 'push') acknowledge(JSON.parse(text), res.body.results);
                } else {
                  expect(Object.keys(res.body)).toEqual(['error']);
                  expect(knownCodes.has(res.body.error.code)).toBe(true);
                }
                continue;
              }
              const from = live.messages.length;
              let decoded: any;
              try {
                decoded = decodeLiveClientMessage(JSON.parse(text));
              } catch {
                decoded = undefined;
              }
              live.send(text);
              if (decoded?.type === 'push' && Buffer.byteLength(text) <= 1024 * 1024) {
                const reply = await live.next(
                  (x) => (x.type === 'ack' || x.type === 'error') && x.requestId === decoded.requestId,
                  10_000,
                  from,
                );
                if (reply.type === 'ack') {
                  accepted++;
                  acknowledge(decoded, reply.results);
                }
              } else await live.ping();
            }
            const bad = live.messages.filter((x) => x.type === 'error' && !knownCodes.has(x.error.code));
            expect(bad).toEqual([]);
            expect(
              live.messages.filter(
                (x) => x.type === 'error' && ['internal', 'storage_failed'].includes(x.error.code),
              ),
            ).toEqual([]);
          },
        ),
        { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) },
      );
      expect(sent).toBeGreaterThanOrEqual(RUNS * PER_RUN);
      expect(accepted).toBeGreaterThan(0);
      if (process.env.OMNISYNC_FUZZ_STATS)
        console.log({ sent, accepted, stats, model: model.collections().map((c) => [c, model.count(c)]) });

      // still serving, socket alive
      expect((await fetch(`${t.url}/v1/health`)).status).toBe(200);
      await live.ping();

      // data integrity: the server holds exactly what it acknowledged
      const http = new HttpClient(t.url, APP);
      const fromSnapshot = new Replica();
      fromSnapshot.apply((await http.snapshot()).cells.map((c) => ({ ...c, value: c.value }) as Cell));
      const fromPull = new Replica();
      fromPull.apply((await http.pullAll(0)).changes.map((c) => ({ ...c, value: c.value }) as Cell));
      for (const collection of new Set([
        ...model.collections(),
        ...fromSnapshot.collections(),
        ...fromPull.collections(),
      ])) {
        const docs = (r: Replica) => [...r.ids(collection)].sort().map((id) => r.get(collection, id));
        expect(docs(fromSnapshot)).toEqual(docs(model));
        expect(docs(fromPull)).toEqual(docs(model));
      }
      const db = new Database(`${t.dataDir}/${APP}.sqlite`, { readonly: true });
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      db.close();
    },
  );
});
