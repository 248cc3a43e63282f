import { mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { createFilePersistence } from './file.js';
import {
  encodeHeader,
  FILE_VERSION,
  FRAME_HEADER_SIZE,
  HEADER_SIZE,
  RecordKind,
  scanFile,
} from './file-format.js';
import { cell } from './suite-support.js';
import type { PersistenceBatch } from './types.js';

const dir = mkdtempSync(join(tmpdir(), 'omnisync-file-corrupt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const freshPath = () => join(dir, `store-${++n}.omnisync`);

const batches: PersistenceBatch[] = [
  { cells: [cell('todos', 'a', 'title', 'one', 1)], putTransactions: [{ id: 't1' }], meta: { n: 1 } },
  { cells: [cell('todos', 'b', 'title', 'two', 2)], putTransactions: [{ id: 't2' }], meta: { n: 2 } },
  { cells: [cell('todos', 'c', 'title', 'three', 3)], putTransactions: [{ id: 't3' }], meta: { n: 3 } },
];

/** Write the batches to a new file; return its path and each record's [start, end) offsets. */
async function fileWith(list: PersistenceBatch[]): Promise<{ path: string; records: [number, number][] }> {
  const path = freshPath();
  const p = createFilePersistence({ path });
  await p.load();
  const records: [number, number][] = [];
  for (const b of list) {
    const start = readFileSync(path).length;
    await p.commit(b);
    records.push([start, readFileSync(path).length]);
  }
  await p.close();
  return { path, records };
}

async function loadState(path: string) {
  const p = createFilePersistence({ path });
  try {
    return await p.load();
  } finally {
    await p.close();
  }
}

const titles = (s: { cells: { value: unknown }[] }) => s.cells.map((c) => c.value);

/** A framed record holding arbitrary payload bytes, with a valid checksum. */
function rawRecord(payload: Buffer): Buffer {
  const head = Buffer.alloc(FRAME_HEADER_SIZE);
  head.writeUInt32BE(payload.length, 0);
  head.writeUInt32BE(~payload.length >>> 0, 4);
  head.writeUInt32BE(crc32(payload), 8);
  return Buffer.concat([head, payload]);
}
const kindAndJson = (kind: number, json: string) => Buffer.concat([Buffer.from([kind]), Buffer.from(json)]);

/** Load must refuse with PersistenceCorruptError naming file and offset, and leave the file byte for byte as it was. */
async function expectCorrupt(path: string, offset: number, pattern: RegExp) {
  const before = readFileSync(path);
  const p = createFilePersistence({ path });
  const err = await p.load().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toMatchObject({
    name: 'PersistenceCorruptError',
    code: 'persistence_corrupt',
    details: { file: path, offset },
  });
  expect((err as Error).message).toContain(path);
  expect((err as Error).message).toContain(`offset ${offset}`);
  expect((err as Error).message).toMatch(pattern);
  // A commit must not append to a file it cannot read.
  await expect(p.commit({ meta: { x: 1 } })).rejects.toMatchObject({ name: 'PersistenceCorruptError' });
  await p.close();
  expect(readFileSync(path).equals(before)).toBe(true);
  expect(existsSync(`${path}.lock`)).toBe(false);
}

describe('file persistence: damage in the middle is reported, never dropped', () => {
  it('a flipped byte in a middle record is PersistenceCorruptError at that record, file untouched', async () => {
    const { path, records } = await fileWith(batches);
    const buf = readFileSync(path);
    const [start, end] = records[1]!;
    buf[start + FRAME_HEADER_SIZE + Math.floor((end - start - FRAME_HEADER_SIZE) / 2)]! ^= 0x01;
    writeFileSync(path, buf);
    await expectCorrupt(path, start, /checksum/);
  });

  it('a damaged length in a middle record is PersistenceCorruptError, not a torn tail', async () => {
    const { path, records } = await fileWith(batches);
    const buf = readFileSync(path);
    buf[records[1]![0] + 3]! ^= 0x40; // length now runs past the end of the file
    writeFileSync(path, buf);
    await expectCorrupt(path, records[1]![0], /header is damaged/);
  });

  it('a record with a valid checksum but undecodable JSON is PersistenceCorruptError', async () => {
    const { path, records } = await fileWith(batches.slice(0, 1));
    appendFileSync(path, rawRecord(kindAndJson(RecordKind.commit, '{"c": [')));
    await expectCorrupt(path, records[0]![1], /valid JSON/);
  });

  it('a record of the wrong shape, or of an unknown kind, or a late snapshot is PersistenceCorruptError', async () => {
    for (const [payload, pattern] of [
      [kindAndJson(RecordKind.commit, '{"c": "not cells"}'), /not an array/],
      [kindAndJson(RecordKind.commit, '{"c": [["todos", "a", "title"]]}'), /a cell is not/],
      [kindAndJson(RecordKind.commit, '{"p": [{"state": 1}]}'), /no string id/],
      [kindAndJson(RecordKind.commit, '[]'), /not an object/],
      [kindAndJson(9, '{}'), /unknown record kind 9/],
      [kindAndJson(RecordKind.group, '{}'), /group record is not an array/],
      [kindAndJson(RecordKind.group, '[{}, {"d": [1]}]'), /deleted transaction id is not a string/],
      [kindAndJson(RecordKind.snapshot, '{}'), /snapshot record appears after/],
    ] as const) {
      const { path, records } = await fileWith(batches.slice(0, 1));
      appendFileSync(path, rawRecord(payload));
      appendFileSync(path, rawRecord(kindAndJson(RecordKind.commit, '{}'))); // not the last record either
      await expectCorrupt(path, records[0]![1], pattern);
    }
  });

  it('a garbage file is PersistenceCorruptError at offset 0, file untouched', async () => {
    const path = freshPath();
    writeFileSync(path, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251)));
    await expectCorrupt(path, 0, /not an OmniSync persistence file/);
    writeFileSync(path, 'hello, I am a text file\n');
    await expectCorrupt(path, 0, /not an OmniSync persistence file/);
    writeFileSync(path, 'OMNI');
    await expectCorrupt(path, 0, /shorter than the 16-byte header/);
  });

  it('a file from a newer format version, or with a damaged header, is PersistenceCorruptError', async () => {
    const { path } = await fileWith(batches);
    const buf = readFileSync(path);
    buf.writeUInt32BE(FILE_VERSION + 1, 8);
    buf.writeUInt32BE(crc32(buf.subarray(0, 12)), 12);
    writeFileSync(path, buf);
    await expectCorrupt(path, 8, /newer OmniSync/);
    buf[9]! ^= 0xff;
    writeFileSync(path, buf);
    await expectCorrupt(path, 8, /header checksum/);
  });

  it('clear() still works on a corrupt file: the way out is explicit, never automatic', async () => {
    const { path, records } = await fileWith(batches);
    const buf = readFileSync(path);
    buf[records[0]![0] + FRAME_HEADER_SIZE + 2]! ^= 0x01;
    writeFileSync(path, buf);
    const p = createFilePersistence({ path });
    await expect(p.load()).rejects.toMatchObject({ name: 'PersistenceCorruptError' });
    await p.clear();
    expect(await p.load()).toEqual({ cells: [], transactions: [], meta: {} });
    await p.commit(batches[0]!);
    await p.close();
    expect(titles(await loadState(path))).toEqual(['one']);
  });
});

describe('file persistence: a torn final record (a commit never acknowledged) is dropped', () => {
  it('cutting the last record at any point keeps the earlier commits, and the next commit follows them cleanly', async () => {
    const { path, records } = await fileWith(batches);
    const [start, end] = records[2]!;
    const original = readFileSync(path);
    for (const cut of [
      end - 1,
      start + FRAME_HEADER_SIZE + 3,
      start + FRAME_HEADER_SIZE,
      start + 5,
      start + 1,
    ]) {
      writeFileSync(path, original.subarray(0, cut));
      expect(scanFile(readFileSync(path), path).tornBytes).toBe(cut - start);
      const p = createFilePersistence({ path });
      const s = await p.load();
      expect(titles(s)).toEqual(['one', 'two']);
      expect(s.transactions.map((t) => t.id)).toEqual(['t1', 't2']);
      expect(s.meta).toEqual({ n: 2 });
      expect(readFileSync(path).length).toBe(start); // the torn bytes are cut off at once
      await p.commit({ cells: [cell('todos', 'd', 'title', 'four', 4)], meta: { n: 4 } });
      await p.close();
      const after = await loadState(path);
      expect(titles(after)).toEqual(['one', 'two', 'four']);
      expect(after.meta).toEqual({ n: 4 });
    }
  });

  it('commits called together are one group record: a torn group drops all of its commits, none half', async () => {
    const { path } = await fileWith(batches.slice(0, 1));
    const p = createFilePersistence({ path });
    await p.load();
    const before = readFileSync(path).length;
    await Promise.all([
      p.commit(batches[1]!),
      p.commit(batches[2]!),
      p.commit({ deleteTransactions: ['t1'] }),
    ]);
    await p.close();
    const whole = readFileSync(path);
    const scan = scanFile(whole, path);
    expect(scan.records).toBe(2); // the first commit, then one group of three
    expect(whole[before + FRAME_HEADER_SIZE]).toBe(RecordKind.group);
    const s = await loadState(path);
    expect(titles(s)).toEqual(['one', 'two', 'three']);
    expect(s.transactions.map((t) => t.id)).toEqual(['t2', 't3']);
    writeFileSync(path, whole.subarray(0, whole.length - 10));
    const torn = await loadState(path);
    expect(titles(torn)).toEqual(['one']);
    expect(torn.transactions.map((t) => t.id)).toEqual(['t1']);
  });

  it('a final record whose checksum fails (its data never reached the disk) is dropped', async () => {
    const { path, records } = await fileWith(batches);
    const buf = readFileSync(path);
    buf[records[2]![1] - 2]! ^= 0x20;
    writeFileSync(path, buf);
    expect(titles(await loadState(path))).toEqual(['one', 'two']);
  });

  it('a zero-filled tail (the file grew but its data was lost) is dropped', async () => {
    const { path } = await fileWith(batches.slice(0, 2));
    appendFileSync(path, Buffer.alloc(300));
    expect(titles(await loadState(path))).toEqual(['one', 'two']);
    appendFileSync(path, Buffer.alloc(7));
    expect(titles(await loadState(path))).toEqual(['one', 'two']);
  });

  it('non-zero garbage after the last record is corruption, not a torn tail', async () => {
    const { path, records } = await fileWith(batches.slice(0, 2));
    appendFileSync(path, Buffer.from('garbage that is long enough to hold a frame header'));
    await expectCorrupt(path, records[1]![1], /header is damaged/);
  });

  it('a file of only a header, or an empty file, is an empty store', async () => {
    const path = freshPath();
    writeFileSync(path, encodeHeader());
    expect(await loadState(path)).toEqual({ cells: [], transactions: [], meta: {} });
    writeFileSync(path, '');
    expect(await loadState(path)).toEqual({ cells: [], transactions: [], meta: {} });
    expect(readFileSync(path).length).toBe(HEADER_SIZE);
  });
});

describe('file persistence: the columnar snapshot (format v2) and v1 files', () => {
  /** A file of the header and the given raw records. */
  const fileOf = (version: number, ...records: Buffer[]) => {
    const path = freshPath();
    const header = encodeHeader();
    header.writeUInt32BE(version, 8);
    header.writeUInt32BE(crc32(header.subarray(0, 12)), 12);
    writeFileSync(path, Buffer.concat([header, ...records]));
    return path;
  };
  const commit = rawRecord(kindAndJson(RecordKind.commit, '{"m": [["after", 1]]}'));

  it('a malformed columnar snapshot is PersistenceCorruptError at offset 16, naming what is wrong', async () => {
    const good = { h: ['h1'], g: [['todos', ['title'], ['a'], [[0]], [['x']]]] };
    for (const [body, pattern] of [
      [{ ...good, h: 'h1' }, /HLC table is not an array/],
      [{ ...good, g: {} }, /groups are not an array/],
      [
        { ...good, g: [['todos', ['title'], ['a'], [[0]]]] },
        /not \[collection, fields, ids, stamps, values\]/,
      ],
      [{ ...good, g: [['todos', [], ['a'], [], []]] }, /bad collection, field list or id list/],
      [{ ...good, g: [['todos', ['t', 't'], ['a'], [[0], [0]], [['x'], ['y']]]] }, /names a field twice/],
      [{ ...good, g: [['todos', ['title'], ['a'], [], []]] }, /no column per field/],
      [{ ...good, g: [['todos', ['title'], ['a', 'b'], [[0]], [['x']]]] }, /one cell per document/],
      [{ ...good, g: [['todos', ['title'], ['a'], [[5]], [['x']]]] }, /not in the HLC table/],
      [{ ...good, g: [['todos', ['title'], ['a'], [[0.5]], [['x']]]] }, /not in the HLC table/],
    ] as const) {
      const path = fileOf(
        FILE_VERSION,
        rawRecord(kindAndJson(RecordKind.columns, JSON.stringify(body))),
        commit,
      );
      await expectCorrupt(path, HEADER_SIZE, pattern);
    }
  });

  it('a columnar snapshot holds values, unset fields and tombstones exactly, and commits after it apply on top', async () => {
    const body = {
      h: ['h1', 'h2'],
      g: [
        [
          'todos',
          ['title', 'done'],
          ['a', 'b'],
          [
            [0, 1],
            [-1, 0],
          ],
          [
            ['one', 'two'],
            [0, true],
          ],
        ],
        ['todos', ['_deleted'], ['c'], [[1]], [[true]]],
      ],
      m: [['n', 7]],
    };
    const path = fileOf(
      FILE_VERSION,
      rawRecord(kindAndJson(RecordKind.columns, JSON.stringify(body))),
      rawRecord(kindAndJson(RecordKind.commit, '{"c": [["todos", "a", "title", "h3", "uno"]]}')),
    );
    const s = await loadState(path);
    const cells = s.cells
      .map((c) => [c.id, c.field, c.hlc, c.value])
      .sort((x, y) => `${x[0]}${x[1]}`.localeCompare(`${y[0]}${y[1]}`));
    expect(cells).toEqual([
      ['a', 'done', 'h1', undefined],
      ['a', 'title', 'h3', 'uno'],
      ['b', 'done', 'h1', true],
      ['b', 'title', 'h2', 'two'],
      ['c', '_deleted', 'h2', true],
    ]);
    expect(s.cells.find((c) => c.id === 'a' && c.field === 'done')).toHaveProperty('value', undefined);
    expect(s.meta).toEqual({ n: 7 });
  });

  it('a v1 file (tuple snapshot) still loads, and compaction rewrites it as v3 with a binary columnar snapshot', async () => {
    const v1 = {
      c: [
        ['todos', 'a', 'title', 'h1', 'one'],
        ['todos', 'b', 'title', 'h2'],
      ],
      t: [{ id: 't1', state: 'pending' }],
      m: [['n', 1]],
    };
    const path = fileOf(1, rawRecord(kindAndJson(RecordKind.snapshot, JSON.stringify(v1))), commit);
    const before = await loadState(path);
    expect(before.cells.map((c) => [c.id, c.value])).toEqual([
      ['a', 'one'],
      ['b', undefined],
    ]);
    expect(before.meta).toEqual({ n: 1, after: 1 });
    const p = createFilePersistence({ path });
    await p.compact();
    await p.close();
    const buf = readFileSync(path);
    expect(buf.readUInt32BE(8)).toBe(FILE_VERSION);
    expect(buf[HEADER_SIZE + FRAME_HEADER_SIZE]).toBe(RecordKind.binaryColumns);
    expect(scanFile(buf, path).records).toBe(1);
    const after = await loadState(path);
    expect(after).toEqual(before);
  });

  /** Documents whose values exercise every column kind, unset fields, tombstones and odd strings. */
  const mixedBatch = (): PersistenceBatch => {
    const cells = [];
    for (let i = 0; i < 40; i++) {
      const id = i % 7 === 0 ? `dé-${i}-\u{1F600}` : `d${i}`;
      cells.push(
        cell('todos', id, 'title', i % 5 === 0 ? `π ${i} \u{1F680}` : `Todo ${i}`, i + 1),
        cell('todos', id, 'n', i % 3 === 0 ? i * 1.5 : i, i + 1),
        cell('todos', id, 'big', 1_700_000_000_000 + i, i + 1),
        cell('todos', id, 'done', i % 2 === 0, i + 1),
        // few distinct strings: a dictionary column (one of them not UTF-8-safe)
        cell('todos', id, 'owner', ['ann', '€uro', 'lone \ud801'][i % 3]!, i + 1),
        cell('todos', id, 'kind', ['a', 'b'][i % 2]!, i + 1),
        cell(
          'todos',
          id,
          'meta',
          i % 4 === 0 ? { tags: ['a', i], nested: { x: null } } : i % 4 === 1 ? null : `s${i}`,
          i + 2,
        ),
      );
      if (i % 6 === 0) cells.push({ ...cell('todos', id, 'gone', 'x', i + 3), value: undefined });
    }
    cells.push(cell('todos', 'lone', 'title', 'bad \ud800 surrogate', 9));
    cells.push(cell('todos', 'dead', '_deleted', true, 50));
    cells.push(cell('notes', 'n1', 'body', 'x'.repeat(70_000), 3));
    cells.push(cell('notes', 'n2', 'body', '', 4));
    return { cells, putTransactions: [{ id: 'tx1', state: 'pending' }], meta: { cursor: 'c1', n: 2 } };
  };

  it('a v3 binary snapshot reads back every value, unset field, tombstone and string exactly, and commits apply on top', async () => {
    const path = freshPath();
    const p = createFilePersistence({ path });
    await p.commit(mixedBatch());
    const before = await p.load();
    await p.compact();
    const buf = readFileSync(path);
    expect(buf.readUInt32BE(8)).toBe(3);
    expect(buf[HEADER_SIZE + FRAME_HEADER_SIZE]).toBe(RecordKind.binaryColumns);
    await p.commit({
      cells: [
        cell('todos', 'd1', 'title', 'changed', 99),
        cell('todos', 'd2', '_deleted', true, 99),
        cell('todos', 'new', 'title', 'N', 99),
      ],
      meta: { n: null },
    });
    await p.close();
    const after = await loadState(path);
    const key = (c: { id: string; field: string }) => `${c.id}/${c.field}`;
    const expected = new Map(before.cells.map((c) => [key(c), c]));
    expected.set('d1/title', cell('todos', 'd1', 'title', 'changed', 99));
    for (const k of [...expected.keys()]) if (k.startsWith('d2/')) expected.delete(k);
    expected.set('d2/_deleted', cell('todos', 'd2', '_deleted', true, 99));
    expected.set('new/title', cell('todos', 'new', 'title', 'N', 99));
    expect(new Map(after.cells.map((c) => [key(c), c]))).toEqual(expected);
    expect(after.cells.find((c) => c.id === 'd6' && c.field === 'gone')).toHaveProperty('value', undefined);
    expect(after.cells.find((c) => c.id === 'lone')?.value).toBe('bad \ud800 surrogate');
    expect(after.cells.filter((c) => c.field === 'owner' && c.value === 'lone \ud801')).toHaveLength(12); // 13, one of them deleted (d2)
    const snapshot = readFileSync(path).subarray(HEADER_SIZE + FRAME_HEADER_SIZE);
    const head = snapshot.toString('utf8', 5, 5 + snapshot.readUInt32LE(1));
    expect(head).toContain('["d",1,'); // the owner and kind columns are dictionaries
    expect(after.transactions).toEqual([{ id: 'tx1', state: 'pending' }]);
    expect(after.meta).toEqual({ cursor: 'c1' });
  });

  it('a v2 file (JSON columnar snapshot) written by an older OmniSync still loads the same state', async () => {
    const v3 = freshPath();
    const p = createFilePersistence({ path: v3 });
    await p.commit(mixedBatch());
    const state = await p.load();
    await p.close();
    const groups = new Map<
      string,
      { fields: string[]; ids: string[]; stamps: number[][]; values: unknown[][] }
    >();
    const hlcs: string[] = [];
    const byDoc = new Map<string, typeof state.cells>();
    for (const c of state.cells)
      byDoc.set(`${c.collection}\u0000${c.id}`, [...(byDoc.get(`${c.collection}\u0000${c.id}`) ?? []), c]);
    for (const cells of byDoc.values()) {
      const k = [cells[0]!.collection, ...cells.map((c) => c.field)].join('|');
      let g = groups.get(k);
      if (!g)
        groups.set(
          k,
          (g = {
            fields: cells.map((c) => c.field),
            ids: [],
            stamps: cells.map(() => []),
            values: cells.map(() => []),
          }),
        );
      g.ids.push(cells[0]!.id);
      cells.forEach((c, f) => {
        let h = hlcs.indexOf(c.hlc);
        if (h < 0) h = hlcs.push(c.hlc) - 1;
        g.stamps[f]!.push(c.value === undefined ? -h - 1 : h);
        g.values[f]!.push(c.value === undefined ? 0 : c.value);
      });
    }
    const body = {
      h: hlcs,
      g: [...groups].map(([k, g]) => [k.split('|')[0], g.fields, g.ids, g.stamps, g.values]),
      t: state.transactions,
      m: Object.entries(state.meta),
    };
    const v2 = fileOf(2, rawRecord(kindAndJson(RecordKind.columns, JSON.stringify(body))));
    // Documents come back grouped by shape (the snapshot's order): compare them by key.
    const plain = (st: typeof state) => ({
      ...st,
      cells: st.cells
        .map((c) => ({ ...c }))
        .sort((a, b) =>
          `${a.collection}/${a.id}/${a.field}` < `${b.collection}/${b.id}/${b.field}` ? -1 : 1,
        ),
    });
    expect(plain(await loadState(v2))).toEqual(plain(state));
  });

  it('a damaged v3 binary snapshot is PersistenceCorruptError at offset 16', async () => {
    const path = freshPath();
    const p = createFilePersistence({ path });
    await p.commit(mixedBatch());
    await p.compact();
    await p.close();
    const good = readFileSync(path).subarray(HEADER_SIZE + FRAME_HEADER_SIZE);
    const headerLength = good.readUInt32LE(1);
    const header = JSON.parse(good.toString('utf8', 5, 5 + headerLength)) as { g: unknown[][] };
    const sections = good.subarray(5 + headerLength + ((8 - ((5 + headerLength) % 8)) % 8));
    const rebuild = (h: unknown) => {
      const text = Buffer.from(JSON.stringify(h));
      const lead = Buffer.alloc(5);
      lead.writeUInt8(RecordKind.binaryColumns, 0);
      lead.writeUInt32LE(text.length, 1);
      const pad = Buffer.alloc((8 - ((5 + text.length) % 8)) % 8);
      return fileOf(3, rawRecord(Buffer.concat([lead, text, pad, sections])));
    };
    const withGroup = (f: (g: unknown[]) => unknown[]) => ({
      ...header,
      g: [f(header.g[0]!), ...header.g.slice(1)],
    });
    await expectCorrupt(rebuild({ ...header, h: 'x' }), HEADER_SIZE, /HLC table is not an array/);
    await expectCorrupt(
      rebuild(withGroup((g) => g.slice(0, 5))),
      HEADER_SIZE,
      /not \[collection, fields, count/,
    );
    await expectCorrupt(
      rebuild(withGroup((g) => [g[0], g[1], 1e9, ...g.slice(3)])),
      HEADER_SIZE,
      /past the end/,
    );
    await expectCorrupt(
      rebuild(withGroup((g) => [...g.slice(0, 3), ['q', 0], ...g.slice(4)])),
      HEADER_SIZE,
      /unknown kind/,
    );
    await expectCorrupt(
      rebuild(withGroup((g) => [...g.slice(0, 4), (g[4] as unknown[]).map(() => 1e6), g[5]])),
      HEADER_SIZE,
      /not in the HLC table/,
    );
    const cut = Buffer.from(good.subarray(0, 5));
    await expectCorrupt(fileOf(3, rawRecord(cut)), HEADER_SIZE, /runs past the end/);
  });
});
