/**
 * Bad input over HTTP and WebSocket: every case gets a 4xx (or an error message) with a
 * stable code, changes nothing, and the server keeps serving everyone else.
 */
import { connect } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CellWriter, HttpClient, LiveClient, mutation, post } from './helpers/protocol-client.js';
import { startServer, type TestServer } from './helpers/servers.js';

let t: TestServer;
let http: HttpClient;
const w = new CellWriter('bad_1');
const APP = 'bad';
const head = () => t.server.engine.head(APP);

beforeAll(async () => {
  t = await startServer();
  http = new HttpClient(t.url, APP);
  await http.push('seed', [mutation(w.doc('t', 'seed', { v: 1 }))]);
});
afterAll(() => t.close());

const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
const nestedValue = (n: number): unknown => (n === 0 ? 1 : { a: nestedValue(n - 1) });
const goodCell = () => w.doc('t', 'x', { v: 2 });

const httpCases: [name: string, kind: string, body: string | Uint8Array, status: number, code: RegExp][] = [
  ['malformed JSON', 'push', '{"clientId": "c", "mutations": [', 400, /^protocol_invalid$/],
  ['an empty body', 'push', '', 400, /^protocol_invalid$/],
  ['JSON that is not an object', 'pull', '[1,2,3]', 400, /^protocol_invalid$/],
  ['wrong types', 'push', JSON.stringify({ clientId: 5, mutations: 'all' }), 400, /^protocol_invalid$/],
  ['a negative cursor', 'pull', JSON.stringify({ cursor: -1 }), 400, /^protocol_invalid$/],
  ['a fractional limit', 'pull', JSON.stringify({ cursor: 0, limit: 1.5 }), 400, /^protocol_invalid$/],
  ['a limit over the maximum', 'pull', JSON.stringify({ cursor: 0, limit: 1e9 }), 400, /^protocol_invalid$/],
  [
    'a query without collection',
    'snapshot',
    JSON.stringify({ queries: [{ where: {} }] }),
    400,
    /^protocol_invalid$/,
  ],
  ['an unknown message kind', 'frobnicate', '{}', 400, /^unknown_message$/],
  [
    'a range query without a value',
    'pull',
    JSON.stringify({ cursor: 0, queries: [{ collection: 't', where: { op: 'gt', field: 'v' } }] }),
    400,
    /^query_invalid$/,
  ],
  [
    'a query with an unknown operator',
    'snapshot',
    JSON.stringify({ queries: [{ collection: 't', where: { op: 'regex', field: 'v', value: '.*' } }] }),
    400,
    /^query_invalid$/,
  ],
  [
    'a query with an unknown key',
    'pull',
    JSON.stringify({ cursor: 0, queries: [{ collection: 't', select: ['v'] }] }),
    400,
    /^query_invalid$/,
  ],
  [
    'an in-list of objects',
    'snapshot',
    JSON.stringify({ queries: [{ collection: 't', where: { op: 'in', field: 'v', values: [{ a: 1 }] } }] }),
    400,
    /^query_invalid$/,
  ],
  [
    'a v1 equality on an object value',
    'snapshot',
    JSON.stringify({ queries: [{ collection: 't', where: { meta: { level: 1 } } }] }),
    400,
    /^query_invalid$/,
  ],
  [
    'a bad collection name in a query',
    'pull',
    JSON.stringify({ cursor: 0, queries: [{ collection: '9 lives' }] }),
    400,
    /^query_invalid$/,
  ],
  [
    'a cell with a bad HLC',
    'push',
    JSON.stringify({
      clientId: 'c',
      mutations: [{ id: 'm', changes: [{ collection: 't', id: 'x', field: 'v', value: 1, hlc: 'now' }] }],
    }),
    400,
    /^invalid_(cell|hlc)$/,
  ],
  [
    'a cell with an empty id',
    'push',
    JSON.stringify({ clientId: 'c', mutations: [{ id: 'm', changes: [{ ...goodCell()[0], id: '' }] }] }),
    400,
    /^invalid_cell$/,
  ],
  [
    'a value nested deeper than 32 levels',
    'push',
    JSON.stringify({
      clientId: 'c',
      mutations: [{ id: 'm', changes: [{ ...goodCell()[1], value: nestedValue(40) }] }],
    }),
    400,
    /^invalid_value$/,
  ],
  [
    'a deeply nested message',
    'push',
    `{"clientId":"c","mutations":${deep(100_000)}}`,
    400,
    /^protocol_invalid$/,
  ],
  ['invalid UTF-8', 'push', new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x7d]), 400, /^protocol_invalid$/],
  [
    'an oversized body',
    'push',
    JSON.stringify({ clientId: 'c', mutations: [], pad: 'x'.repeat(2 * 1024 * 1024) }),
    413,
    /^payload_too_large$/,
  ],
];

describe('bad HTTP input', () => {
  for (const [name, kind, body, status, code] of httpCases) {
    it(`${name} → ${status} with a code, nothing changed, still serving`, async () => {
      const before = await head();
      const res = await post(t.url, `/v1/apps/${APP}/${kind}`, body, { raw: true });
      expect(res.status).toBe(status);
      expect(Object.keys(res.body)).toEqual(['error']);
      expect(res.body.error.code).toMatch(code);
      expect(typeof res.body.error.message).toBe('string');
      expect(await head()).toBe(before);
      const ok = await new HttpClient(t.url, APP).push('other', [
        mutation(w.doc('t', `ok-${name}`, { v: 1 })),
      ]);
      expect(ok.results[0].status).toBe('applied');
    });
  }

  it('the 413 of each endpoint says what to shrink there', async () => {
    const pad = 'x'.repeat(2 * 1024 * 1024);
    const advice: Record<string, RegExp> = {
      push: /Push fewer mutations per request, or fewer changes per mutation/,
      pull: /Send fewer or smaller queries per pull/,
      snapshot: /Send fewer or smaller queries per snapshot/,
      cursor: /Send a smaller cursor request/,
    };
    for (const [kind, says] of Object.entries(advice)) {
      const res = await post(t.url, `/v1/apps/${APP}/${kind}`, JSON.stringify({ cursor: 0, pad }), {
        raw: true,
      });
      expect(res.status).toBe(413);
      expect(res.body.error.code).toBe('payload_too_large');
      expect(res.body.error.message).toMatch(says);
      if (kind !== 'push') expect(res.body.error.message).not.toMatch(/[Pp]ush/);
    }
  });

  it('an oversized body streamed without Content-Length → 413', async () => {
    const before = await head();
    const { request } = await import('node:http');
    const url = new URL(`${t.url}/v1/apps/${APP}/push`);
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: url.hostname, port: url.port, path: url.pathname, method: 'POST' }, (r) => {
        let body = '';
        r.on('data', (d) => (body += d));
        r.on('end', () => resolve({ status: r.statusCode!, body }));
      });
      req.on('error', reject);
      const chunk = 'x'.repeat(64 * 1024);
      let sent = 0;
      const pump = () => {
        while (sent < 40 && !req.destroyed) {
          sent++;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    expect(res.status).toBe(413);
    expect(JSON.parse(res.body).error.code).toBe('payload_too_large');
    expect(await head()).toBe(before);
  });

  it('a token over the header limit → 431 with {error:{code,message}} naming the limit', async () => {
    const res = await fetch(`${t.url}/v1/apps/${APP}/pull`, {
      method: 'POST',
      headers: { authorization: `Bearer ${'x'.repeat(20_000)}`, 'content-type': 'application/json' },
      body: '{"cursor":0}',
    });
    expect(res.status).toBe(431);
    expect(res.headers.get('content-type')).toContain('application/json');
    const body = await res.json();
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error.code).toBe('payload_too_large');
    expect(body.error.message).toMatch(/headers are over the limit of \d+ bytes; send a shorter token/);
  });

  it('a body cut off mid-upload is logged at info as a client abort, not as an error; nothing applied', async () => {
    const lines: { level: number; msg: string; details?: Record<string, unknown> }[] = [];
    const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const own = await startServer({ logger });
    try {
      const before = await own.server.engine.head(APP);
      const { port } = new URL(own.url);
      const sock = connect(Number(port), '127.0.0.1');
      await new Promise<void>((resolve) => sock.once('connect', () => resolve()));
      const start = '{"clientId":"c","mutations":[{"id":"m","changes":[';
      sock.write(
        `POST /v1/apps/${APP}/push HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n${start}`,
      );
      await new Promise((r) => setTimeout(r, 100)); // the server is reading the body now
      sock.destroy();
      for (let i = 0; i < 200 && !lines.some((l) => l.msg === 'client aborted the request'); i++)
        await new Promise((r) => setTimeout(r, 25));
      const abort = lines.find((l) => l.msg === 'client aborted the request');
      expect(abort?.level).toBe(30); // info
      expect(abort?.details?.['receivedBytes']).toBe(start.length);
      expect(lines.filter((l) => l.level >= 50)).toEqual([]);
      expect(await own.server.engine.head(APP)).toBe(before);
      const ok = await new HttpClient(own.url, APP).push('after', [
        mutation(w.doc('t', 'after-abort', { v: 1 })),
      ]);
      expect(ok.results[0].status).toBe('applied');
    } finally {
      await own.close();
    }
  });

  it('a batch with one bad mutation applies none of it', async () => {
    const before = await head();
    const res = await http.call('push', {
      clientId: 'c',
      mutations: [mutation(w.doc('t', 'first', { v: 1 })), mutation([{ ...goodCell()[1]!, field: 'a..b' }])],
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_cell');
    expect(res.body.error.message).toContain('mutations[1].changes[0]');
    expect(await head()).toBe(before);
    expect(
      (await http.snapshot([{ collection: 't', where: { v: 1 } }])).cells.some((c) => c.id === 'first'),
    ).toBe(false);
  });

  it('an HLC far in the future → 400 clock_drift', async () => {
    const before = await head();
    const future = `${(Date.now() + 24 * 3600_000).toString(36).padStart(11, '0')}-000000-liar`;
    const res = await http.call('push', {
      clientId: 'c',
      mutations: [mutation([{ collection: 't', id: 'f', field: 'id', value: 'f', hlc: future }])],
    });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('clock_drift');
    expect(await head()).toBe(before);
  });

  it('a bad app name → 400, an unknown path → 404, a GET of the live endpoint → 400', async () => {
    expect((await post(t.url, '/v1/apps/bad.name!/pull', { cursor: 0 })).body.error.code).toBe(
      'invalid_input',
    );
    const nf = await fetch(`${t.url}/v2/nothing`);
    expect(nf.status).toBe(404);
    expect((await nf.json()).error.code).toBe('not_found');
    const liveGet = await fetch(`${t.url}/v1/apps/${APP}/live`);
    expect(liveGet.status).toBe(400);
    expect((await liveGet.json()).error.code).toBe('protocol_invalid');
  });
});

describe('bad WebSocket input', () => {
  const wsCases: [name: string, send: string | Buffer, code: RegExp][] = [
    ['malformed JSON', '{"type":"ping"', /^protocol_invalid$/],
    ['not an object', '"hello"', /^protocol_invalid$/],
    ['an unknown type', JSON.stringify({ type: 'frobnicate' }), /^unknown_message$/],
    ['a missing type', JSON.stringify({ queryId: 'q' }), /^unknown_message$/],
    ['wrong types', JSON.stringify({ type: 'subscribe', queryId: 5, query: 'todos' }), /^protocol_invalid$/],
    [
      'a bad cell in a push',
      JSON.stringify({
        type: 'push',
        requestId: 'r',
        clientId: 'c',
        mutations: [{ id: 'm', changes: [{ collection: '1x', id: 'a', field: 'f', hlc: 'x' }] }],
      }),
      /^invalid_/,
    ],
    ['deep nesting', `{"type":"ping","id":${deep(50_000)}}`, /^protocol_invalid$/],
    [
      'a subscribe with a bad query',
      JSON.stringify({
        type: 'subscribe',
        queryId: 'q',
        query: { collection: 't', where: { op: 'and', args: [{ op: 'lt', field: 'v', value: [1] }] } },
      }),
      /^query_invalid$/,
    ],
    [
      'an oversized message',
      JSON.stringify({ type: 'ping', pad: 'x'.repeat(1024 * 1024 + 10) }),
      /^payload_too_large$/,
    ],
    ['binary garbage', Buffer.from([0xde, 0xad, 0xbe, 0xef]), /^invalid_input$/],
    [
      'an event to a room not joined',
      JSON.stringify({ type: 'event', room: 'r', name: 'x' }),
      /^invalid_state$/,
    ],
    ['a leave of a room never joined', JSON.stringify({ type: 'leave', room: 'never' }), /^invalid_state$/],
    [
      'an unsubscribe of an unknown query',
      JSON.stringify({ type: 'unsubscribe', queryId: 'nope' }),
      /^not_found$/,
    ],
  ];
  for (const [name, send, code] of wsCases) {
    it(`${name} → error message with a code; connection and data unchanged`, async () => {
      const c = await LiveClient.open(t.url, APP);
      try {
        await c.hello();
        const before = await head();
        const from = c.messages.length;
        c.send(send);
        const err = await c.next((m) => m.type === 'error', 10_000, from);
        expect(err.error.code).toMatch(code);
        await c.ping();
        expect(await head()).toBe(before);
      } finally {
        c.close();
      }
    });
  }

  it('a 2 MB token in the hello → an error naming the limit, then close 1009 with a reason', async () => {
    const c = await LiveClient.open(t.url, APP);
    c.send({ type: 'hello', token: 'x'.repeat(2 * 1024 * 1024 + 4096) });
    const closed = await c.closed;
    expect(closed.code).toBe(1009);
    expect(closed.reason).toMatch(/^payload_too_large: message over \d+ bytes$/);
    const err = c.messages.find((m) => m.type === 'error');
    expect(err.error.code).toBe('payload_too_large');
    expect(err.error.message).toMatch(/over the limit of \d+ bytes/);
  });

  it('a text frame that is not UTF-8 → protocol_invalid, then close 1007 with a reason (found by the fuzz driver)', async () => {
    const c = await LiveClient.open(t.url, APP);
    await c.hello();
    c.ws.send(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x7d]), { binary: false });
    const closed = await c.closed;
    expect(closed.code).toBe(1007);
    expect(closed.reason).toMatch(/^protocol_invalid: .*UTF-8/);
    const err = c.messages.find((m) => m.type === 'error');
    expect(err.error.code).toBe('protocol_invalid');
    expect(err.error.message).toMatch(/not valid UTF-8/);
  });

  it('a leave or unsubscribe answers an error only when there is nothing to leave or unsubscribe', async () => {
    const c = await LiveClient.open(t.url, APP);
    try {
      await c.hello();
      expect((await c.subscribe('q1', { collection: 't' })).type).toBe('subscribed');
      // pipelined: the leave arrives while the join is being authorized, and cancels it
      c.send({ type: 'join', room: 'r0' });
      c.send({ type: 'leave', room: 'r0' });
      c.send({ type: 'join', room: 'r1' });
      await c.next((m) => m.type === 'room' && m.room === 'r1');
      c.send({ type: 'leave', room: 'r1' });
      c.send({ type: 'unsubscribe', queryId: 'q1' });
      await c.ping();
      expect(c.messages.filter((m) => m.type === 'error')).toEqual([]);
      const other = await LiveClient.open(t.url, APP);
      try {
        await other.hello();
        for (const room of ['r0', 'r1']) {
          other.send({ type: 'join', room });
          const joined = await other.next((m) => m.type === 'room' && m.room === room);
          expect(joined.members).toHaveLength(1); // only `other`: c is in neither room
        }
      } finally {
        other.close();
      }
      const from = c.messages.length;
      c.send({ type: 'leave', room: 'r1' });
      c.send({ type: 'unsubscribe', queryId: 'q1' });
      await c.ping();
      const errors = c.messages.slice(from).filter((m) => m.type === 'error');
      expect(errors.map((m) => [m.error.code, m.error.details])).toEqual([
        ['invalid_state', { room: 'r1' }],
        ['not_found', { queryId: 'q1' }],
      ]);
    } finally {
      c.close();
    }
  });

  it('a push error carries the requestId', async () => {
    const c = await LiveClient.open(t.url, APP);
    try {
      await c.hello();
      c.send({
        type: 'push',
        requestId: 'req-7',
        clientId: 'c',
        mutations: [{ id: 'm', changes: [{ collection: 't', id: '', field: 'f', hlc: 'x' }] }],
      });
      const err = await c.next((m) => m.type === 'error');
      expect(err.requestId).toBe('req-7');
    } finally {
      c.close();
    }
  });

  it('a connection sending faster than its rate gets rate_limited (429 code) and keeps working', async () => {
    const own = await startServer({ live: { maxMessagesPerSecond: 20 } });
    try {
      const c = await LiveClient.open(own.url, APP);
      await c.hello();
      for (let i = 0; i < 400; i++) c.send({ type: 'ping', id: `p${i}` });
      const err = await c.next((m) => m.type === 'error');
      expect(err.error.code).toBe('rate_limited');
      expect(c.messages.filter((m) => m.type === 'error')).toHaveLength(1); // one notice, not one per message
      await new Promise((r) => setTimeout(r, 300));
      await c.ping(); // tokens refill: served again
      c.close();
    } finally {
      await own.close();
    }
  });
});
