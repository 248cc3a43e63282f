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

  it('a v1 file (tuple snapshot) still loads, and compaction rewrites it as v2 with a columnar snapshot', async () => {
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
    expect(buf[HEADER_SIZE + FRAME_HEADER_SIZE]).toBe(RecordKind.columns);
    expect(scanFile(buf, path).records).toBe(1);
    const after = await loadState(path);
    expect(after).toEqual(before);
  });
});
