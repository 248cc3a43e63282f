/**
 * Input that would not be stored exactly is refused up front, on SQLite and on Postgres:
 * a lone UTF-16 surrogate in an id, a collection or field name, a value, a query or a
 * mutator's args (storage would turn it into U+FFFD or refuse it: the document lands
 * under another id, and a retry used to answer 500 forever), and numbers a double cannot
 * hold (`1e-400`, `9007199254740993`, `-0`). Over HTTP and WebSocket, each refusal is a
 * 400 `invalid_input` naming the field or the number, nothing is applied, and a retry
 * answers the same; what is accepted is read back exactly.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineMutators } from '@omnisync/core';
import { createPostgresStorageFactory, type SyncHandlerOptions } from '@omnisync/server';
import { dropSchemas, freshSchema, PG_URL, pgUnreachable } from './helpers/postgres.js';
import { CellWriter, HttpClient, LiveClient, mutation, post } from './helpers/protocol-client.js';
import { startServer, type TestServer } from './helpers/servers.js';

const APP = 'exact';
const mutators = defineMutators({
  async put(tx, args: { id: string; n: unknown }) {
    await tx.set('t', args.id, { n: args.n as number });
  },
  /** Sets 1 at the nested path `keys` (a field path of those keys). */
  async nest(tx, args: { id: string; keys: string[] }) {
    const patch = args.keys.reduceRight<unknown>((inner, k) => ({ [k]: inner }), 1);
    await tx.set('t', args.id, patch as Record<string, number>);
  },
});

const unreachable = await pgUnreachable('exact-input tests on Postgres');
const prefix = freshSchema('exact');
afterAll(async () => {
  if (!unreachable) await dropSchemas(prefix);
});

const storages: [name: string, options: () => SyncHandlerOptions][] = [['SQLite', () => ({})]];
if (!unreachable)
  storages.push([
    'Postgres',
    () => ({
      storage: createPostgresStorageFactory({
        connectionString: PG_URL,
        schemaPrefix: prefix,
        durability: 'off',
      }),
    }),
  ]);

/** A push body as raw text: `cell` is spliced in verbatim (escapes and number literals survive). */
const pushText = (clientId: string, mutationId: string, cell: string) =>
  `{"clientId":"${clientId}","mutations":[{"id":"${mutationId}","changes":[${cell}]}]}`;

for (const [storageName, options] of storages) {
  describe(`exact input on ${storageName}`, () => {
    let t: TestServer;
    let http: HttpClient;
    const w = new CellWriter('exact_1');
    const head = () => t.server.engine.head(APP);
    const hlc = () => w.hlc.now();

    beforeAll(async () => {
      t = await startServer({ ...options(), mutators });
      http = new HttpClient(t.url, APP);
      await http.push('seed', [mutation(w.doc('t', 'seed', { n: 1 }))]);
    });
    afterAll(() => t?.close());

    const refusedCells: [what: string, cell: () => string, names: string][] = [
      [
        'a lone surrogate in a document id',
        () => `{"collection":"t","id":"doc-\\ud800","field":"n","value":1,"hlc":"${hlc()}"}`,
        'mutations[0].changes[0].id',
      ],
      [
        'a lone surrogate in a field name',
        () => `{"collection":"t","id":"d1","field":"n\\udfff","value":1,"hlc":"${hlc()}"}`,
        'mutations[0].changes[0].field',
      ],
      [
        'a lone surrogate in a string value',
        () => `{"collection":"t","id":"d1","field":"s","value":"x\\ud83d","hlc":"${hlc()}"}`,
        'mutations[0].changes[0].value',
      ],
      [
        'a lone surrogate in a key of an object value',
        () => `{"collection":"t","id":"d1","field":"o","value":{"\\udc00":1},"hlc":"${hlc()}"}`,
        'the key "\\udc00" in mutations[0].changes[0].value',
      ],
      [
        'an unsafe integer',
        () => `{"collection":"t","id":"d1","field":"n","value":9007199254740993,"hlc":"${hlc()}"}`,
        'The number 9007199254740993',
      ],
      [
        'an underflow to zero',
        () => `{"collection":"t","id":"d1","field":"n","value":1e-400,"hlc":"${hlc()}"}`,
        'The number 1e-400',
      ],
      [
        'negative zero',
        () => `{"collection":"t","id":"d1","field":"n","value":-0,"hlc":"${hlc()}"}`,
        'The number -0',
      ],
    ];

    for (const [what, cell, names] of refusedCells) {
      it(`HTTP push of ${what} → 400 invalid_input naming it, nothing applied, the retry answers the same`, async () => {
        const before = await head();
        const body = pushText('c-http', `m-${what}`, cell());
        for (let attempt = 0; attempt < 2; attempt++) {
          const res = await post(t.url, `/v1/apps/${APP}/push`, body, { raw: true });
          expect(res.status).toBe(400);
          expect(res.body.error.code).toBe('invalid_input');
          expect(res.body.error.message).toContain(names);
        }
        expect(await head()).toBe(before);
      });

      it(`WebSocket push of ${what} → error invalid_input naming it, nothing applied`, async () => {
        const c = await LiveClient.open(t.url, APP);
        try {
          await c.hello();
          const before = await head();
          const body = pushText('c-ws', `w-${what}`, cell());
          c.send(`{"type":"push","requestId":"r1",${body.slice(1)}`);
          const err = await c.next((m) => m.type === 'error');
          expect(err.requestId).toBe('r1');
          expect(err.error.code).toBe('invalid_input');
          expect(err.error.message).toContain(names);
          await c.ping();
          expect(await head()).toBe(before);
        } finally {
          c.close();
        }
      });
    }

    // U+0000 in a key: Postgres text cannot hold it. It used to be stored by SQLite, refused by
    // Postgres for cell ids and fields, and answered 500 storage_failed on Postgres (every retry)
    // for a client or mutation id; now refused up front on every storage.
    const nulKeys: [what: string, body: () => string, names: string][] = [
      [
        'a client id',
        () =>
          pushText(
            'c\\u0000',
            'n-client',
            `{"collection":"t","id":"d1","field":"n","value":1,"hlc":"${hlc()}"}`,
          ),
        'clientId',
      ],
      [
        'a mutation id',
        () =>
          pushText(
            'c-nul',
            'n\\u0000mut',
            `{"collection":"t","id":"d1","field":"n","value":1,"hlc":"${hlc()}"}`,
          ),
        'mutations[0].id',
      ],
      [
        'a document id',
        () =>
          pushText(
            'c-nul',
            'n-doc',
            `{"collection":"t","id":"doc-\\u0000","field":"n","value":1,"hlc":"${hlc()}"}`,
          ),
        'mutations[0].changes[0].id',
      ],
      [
        'a field name',
        () =>
          pushText(
            'c-nul',
            'n-field',
            `{"collection":"t","id":"d1","field":"n\\u0000","value":1,"hlc":"${hlc()}"}`,
          ),
        'mutations[0].changes[0].field',
      ],
    ];
    for (const [what, body, names] of nulKeys) {
      it(`U+0000 in ${what} → 400 invalid_input naming it over HTTP and WebSocket, the retry the same, nothing applied`, async () => {
        const before = await head();
        const text = body();
        for (let attempt = 0; attempt < 2; attempt++) {
          const res = await post(t.url, `/v1/apps/${APP}/push`, text, { raw: true });
          expect(res.status).toBe(400);
          expect(res.body.error.code).toBe('invalid_input');
          expect(res.body.error.message).toContain(`${names} (`);
          expect(res.body.error.message).toContain('U+0000');
        }
        const c = await LiveClient.open(t.url, APP);
        try {
          await c.hello();
          c.send(`{"type":"push","requestId":"r-nul",${text.slice(1)}`);
          const err = await c.next((m) => m.type === 'error' || m.type === 'ack');
          expect(err).toMatchObject({ type: 'error', requestId: 'r-nul', error: { code: 'invalid_input' } });
          expect(err.error.message).toContain(names);
          await c.ping();
        } finally {
          c.close();
        }
        expect(await head()).toBe(before);
      });
    }

    it("U+0000 in a cursor report's client id → 400 invalid_input (it used to be a 500 on Postgres)", async () => {
      const res = await post(t.url, `/v1/apps/${APP}/cursor`, '{"clientId":"c\\u0000","cursor":0}', {
        raw: true,
      });
      expect(res.status).toBe(400);
      expect(res.body.error.code).toBe('invalid_input');
      expect(res.body.error.message).toContain('clientId');
    });

    it('U+0000 inside a value (a string, an object key) is stored and read back exactly', async () => {
      const raw = pushText(
        'c-nulv',
        'nv-1',
        `{"collection":"t","id":"nulv","field":"id","value":"nulv","hlc":"${hlc()}"},{"collection":"t","id":"nulv","field":"s","value":"a\\u0000b","hlc":"${hlc()}"},{"collection":"t","id":"nulv","field":"o","value":{"k\\u0000":1},"hlc":"${hlc()}"}`,
      );
      const res = await post(t.url, `/v1/apps/${APP}/push`, raw, { raw: true });
      expect(res.status).toBe(200);
      expect(res.body.results[0].status).toBe('applied');
      const snap = await http.snapshot([{ collection: 't' }]);
      const byField = Object.fromEntries(
        snap.cells.filter((c) => c.id === 'nulv').map((c) => [c.field, c.value]),
      );
      expect(byField).toEqual({ id: 'nulv', s: 'a\u0000b', o: { 'k\u0000': 1 } });
    });

    it('a server mutator writing an id with U+0000 → that mutation rejected, the others applied, on every storage', async () => {
      const before = await head();
      const res = await post(
        t.url,
        `/v1/apps/${APP}/push`,
        '{"clientId":"c-mnul","mutations":[{"id":"mn-1","name":"put","args":{"id":"m\\u0000n","n":1},"changes":[]},{"id":"mn-2","name":"put","args":{"id":"mn-ok","n":2},"changes":[]}]}',
        { raw: true },
      );
      expect(res.status).toBe(200);
      expect(res.body.results[0]).toMatchObject({ status: 'rejected', error: { code: 'mutation_rejected' } });
      expect(res.body.results[0].error.message).toContain('U+0000');
      expect(res.body.results[1].status).toBe('applied');
      expect(await head()).toBe(before + 1);
    });

    // Postgres refuses an index entry over 2704 bytes: a long id and field path of text that
    // does not compress (CJK here) answered 500 storage_failed on every retry; SQLite stored it.
    const cjk = (n: number, seed: number) =>
      Array.from({ length: n }, (_, i) =>
        String.fromCharCode(0x4e00 + ((i * 7919 + seed * 104729) % 20000)),
      ).join('');
    const longKeyCell = (field: string) =>
      `{"collection":"${'c'.repeat(200)}","id":"${cjk(512, 1)}","field":"${field}","value":1,"hlc":"${hlc()}"}`;

    it('a cell whose collection, id and field are over 2560 bytes of UTF-8 → 400 invalid_input, the retry the same; at the limit it is stored', async () => {
      const before = await head();
      // 200 + 1536 + (600 + 1 + 222 + 2) = 2561 bytes
      const longField = (extra: number) => `${cjk(200, 2)}.${cjk(74, 5)}${'x'.repeat(extra)}`;
      const over = pushText('c-long', 'long-1', longKeyCell(longField(2)));
      for (let attempt = 0; attempt < 2; attempt++) {
        const res = await post(t.url, `/v1/apps/${APP}/push`, over, { raw: true });
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('invalid_input');
        expect(res.body.error.message).toContain(
          'mutations[0].changes[0]: its collection, id and field are 2561 bytes',
        );
      }
      expect(await head()).toBe(before);
      const at = pushText('c-long', 'long-2', longKeyCell(longField(1)));
      const ok = await post(t.url, `/v1/apps/${APP}/push`, at, { raw: true });
      expect(ok.status).toBe(200);
      expect(ok.body.results[0].status).toBe('applied');
      const snap = await http.snapshot([{ collection: 'c'.repeat(200) }]);
      expect(snap.cells.map((c) => [c.id, c.field])).toEqual([[cjk(512, 1), longField(1)]]);
    });

    it('a server mutator writing a key over 2560 bytes → that mutation rejected, the other applied', async () => {
      const before = await head();
      const res = await post(
        t.url,
        `/v1/apps/${APP}/push`,
        `{"clientId":"c-mlong","mutations":[{"id":"ml-1","name":"nest","args":{"id":"${cjk(512, 3)}","keys":["${cjk(250, 4)}","${cjk(100, 6)}"]},"changes":[]},{"id":"ml-2","name":"nest","args":{"id":"ml-ok","keys":["a","b"]},"changes":[]}]}`,
        { raw: true },
      );
      expect(res.status).toBe(200);
      expect(res.body.results[0]).toMatchObject({ status: 'rejected', error: { code: 'mutation_rejected' } });
      expect(res.body.results[0].error.message).toContain('bytes of UTF-8 together');
      expect(res.body.results[1].status).toBe('applied');
      expect(await head()).toBe(before + 1);
    });

    it('a collection name with a lone surrogate, in a push and in a pull query → 400 invalid_input', async () => {
      const before = await head();
      const push = await post(
        t.url,
        `/v1/apps/${APP}/push`,
        pushText('c', 'm-coll', `{"collection":"t\\ud800","id":"d","field":"n","value":1,"hlc":"${hlc()}"}`),
        { raw: true },
      );
      expect(push.status).toBe(400);
      // Collection names are identifiers: the cell check refuses it first.
      expect(push.body.error.code).toMatch(/^invalid_(input|cell)$/);
      expect(push.body.error.message).toContain('mutations[0].changes[0]');
      expect(push.body.error.message).toContain('collection');
      const pull = await post(
        t.url,
        `/v1/apps/${APP}/pull`,
        '{"cursor":0,"queries":[{"collection":"t","where":{"op":"eq","field":"s","value":"\\udbff"}}]}',
        { raw: true },
      );
      expect(pull.status).toBe(400);
      expect(pull.body.error.code).toBe('invalid_input');
      expect(pull.body.error.message).toContain('queries[0].where.value');
      expect(await head()).toBe(before);
    });

    it('named mutator args with an inexact number or a lone surrogate → 400 invalid_input, nothing applied', async () => {
      const before = await head();
      for (const args of ['{"id":"n1","n":9007199254740993}', '{"id":"n\\ud800","n":1}']) {
        const res = await post(
          t.url,
          `/v1/apps/${APP}/push`,
          `{"clientId":"c-named","mutations":[{"id":"named-${args.length}","name":"put","args":${args},"changes":[]}]}`,
          { raw: true },
        );
        expect(res.status).toBe(400);
        expect(res.body.error.code).toBe('invalid_input');
      }
      expect(await head()).toBe(before);
    });

    it('well-formed text and exact numbers are stored and read back exactly; a retried push answers its stored result, never a 5xx', async () => {
      const values = [
        'doc-\u{1F600}',
        0.1,
        5e-324,
        Number.MAX_SAFE_INTEGER,
        -Number.MAX_SAFE_INTEGER,
        1e21,
        0,
      ];
      const cells = w.doc('t', 'pair-\u{1F600}', Object.fromEntries(values.map((v, i) => [`f${i}`, v])));
      // `1.0` and `1e2` are other spellings of exact numbers: accepted as 1 and 100.
      const raw = `{"clientId":"c-ok","mutations":[{"id":"ok-1","changes":${JSON.stringify(cells).replace(/\]$/, '')},{"collection":"t","id":"pair-\\ud83d\\ude00","field":"g","value":[1.0,1e2],"hlc":"${hlc()}"}]}]}`;
      const first = await post(t.url, `/v1/apps/${APP}/push`, raw, { raw: true });
      expect(first.status).toBe(200);
      expect(first.body.results[0].status).toBe('applied');
      const headAfter = await head();
      const again = await post(t.url, `/v1/apps/${APP}/push`, raw, { raw: true });
      expect(again.status).toBe(200);
      expect(again.body.results[0].status).toBe('applied'); // its stored result
      expect(await head()).toBe(headAfter); // applied once
      const snap = await http.snapshot([{ collection: 't' }]);
      const doc = snap.cells.filter((c) => c.id === 'pair-\u{1F600}');
      const byField = Object.fromEntries(doc.map((c) => [c.field, c.value]));
      values.forEach((v, i) => expect(Object.is(byField[`f${i}`], v)).toBe(true));
      expect(byField['g']).toEqual([1, 100]);
    });
  });
}
