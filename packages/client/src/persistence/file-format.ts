/**
 * The on-disk format of file persistence (Node only).
 *
 *     file    := header record*
 *     header  := "OMNISYNC" (8 bytes ASCII) | version u32 BE (= 3; 1 and 2 are read) | crc32(first 12 bytes) u32 BE
 *     record  := length u32 BE | ~length u32 BE | crc32(payload) u32 BE | payload (length bytes)
 *     payload := kind u8 | UTF-8 JSON   (kind 5: kind u8 | binary, see file-columns.ts)
 *
 * kind 1 = snapshot, only as the first record (written by compaction up to v1; still read):
 *     { "c": [cell…], "t": [transaction…], "m": [[key, value]…] }
 * kind 4 = columnar snapshot, only as the first record (written by compaction in v2; still read):
 *     documents grouped by collection and field list, one column per field, each HLC once,
 *     as JSON (see file-columns.ts)
 * kind 5 = binary columnar snapshot, only as the first record (written by compaction since
 *     v3): the same groups with each column in one binary section (see file-columns.ts)
 * kind 2 = commit, one per `commit()`:
 *     { "f": [[collection, id]…], "c": [cell…], "d": [txId…], "p": [transaction…], "m": [[key, value | null]…] }
 *     ("f": forgotten documents, applied first)
 * kind 3 = group: commits called together, written with one write and one fsync, applied
 *     in order: [commit body…]. One record, so the group is stored whole or not at all (a
 *     crash cannot leave a hole in the middle of a write that was never fsync'd).
 * cell := [collection, id, field, hlc] (value unset) | [collection, id, field, hlc, value]
 * Empty parts are left out. Loading replays the snapshot, then every commit in order; the
 * documents of a columnar snapshot stay in their columns (see loaded-base.ts) unless
 * something needs them as cells.
 *
 * A crash can only damage the end of the file (records are appended and fsync'd before the
 * commit resolves), so a damaged *final* record — a frame cut short, a final record whose
 * checksum fails, or a zero-filled tail — is a commit that was never acknowledged and is
 * dropped. Any other damage is {@link PersistenceCorruptError} naming the file and offset.
 */
import { crc32 } from 'node:zlib';
import { type Cell, type JsonValue, PersistenceCorruptError } from '@omnisync/core';
import type { NormalizedBatch } from './batch.js';
import { decodeBinarySnapshot, decodeJsonColumns, encodeBinarySnapshot } from './file-columns.js';
import {
  asArray,
  asObject,
  buildModel,
  decodeCell,
  decodeCommit,
  decodeMeta,
  decodeTransaction,
  loadedState,
  type Snapshot,
} from './journal-state.js';
import type { ColumnarDocs } from './loaded-base.js';
import type { StateModel } from './state.js';
import type { PersistedState } from './types.js';

export { encodeCommitBody } from './journal-state.js';

/** The 8 ASCII bytes every persistence file starts with. */
export const FILE_MAGIC = 'OMNISYNC';
/** The format version this code writes (v2: columnar snapshots; v3: binary columnar snapshots). */
export const FILE_VERSION = 3;
/** The oldest format version this code reads (v1 and v2 files are read, and rewritten as v3 by compaction). */
export const FILE_VERSION_MIN = 1;
/** Bytes in the file header. */
export const HEADER_SIZE = 16;
/** Bytes before each record's payload. */
export const FRAME_HEADER_SIZE = 12;
/** Record kinds. */
export const RecordKind = { snapshot: 1, commit: 2, group: 3, columns: 4, binaryColumns: 5 } as const;
/** A record kind byte. */
export type RecordKind = (typeof RecordKind)[keyof typeof RecordKind];

/** The 16-byte file header. */
export function encodeHeader(): Buffer {
  const b = Buffer.alloc(HEADER_SIZE);
  b.write(FILE_MAGIC, 0, 'latin1');
  b.writeUInt32BE(FILE_VERSION, 8);
  b.writeUInt32BE(crc32(b.subarray(0, 12)), 12);
  return b;
}

/** One framed record holding `json` (already JSON text). */
export function encodeRecord(kind: RecordKind, json: string): Buffer {
  const jsonBytes = Buffer.byteLength(json);
  const b = Buffer.allocUnsafe(FRAME_HEADER_SIZE + 1 + jsonBytes);
  b.writeUInt8(kind, FRAME_HEADER_SIZE);
  b.write(json, FRAME_HEADER_SIZE + 1, 'utf8');
  const length = jsonBytes + 1;
  b.writeUInt32BE(length, 0);
  b.writeUInt32BE(~length >>> 0, 4);
  b.writeUInt32BE(crc32(b.subarray(FRAME_HEADER_SIZE)), 8);
  return b;
}

/** The record for commit bodies written together: a commit record for one, a group record for several. */
export function encodeCommits(bodies: readonly string[]): Buffer {
  return bodies.length === 1
    ? encodeRecord(RecordKind.commit, bodies[0]!)
    : encodeRecord(RecordKind.group, `[${bodies.join(',')}]`);
}

/** One framed record around `payload` (kind byte included). */
function frame(payload: Buffer): Buffer {
  const head = Buffer.allocUnsafe(FRAME_HEADER_SIZE);
  head.writeUInt32BE(payload.length, 0);
  head.writeUInt32BE(~payload.length >>> 0, 4);
  head.writeUInt32BE(crc32(payload), 8);
  return Buffer.concat([head, payload]);
}

/** The snapshot record for a whole state (binary columnar, record kind 5). */
export function encodeSnapshot(model: StateModel): Buffer {
  return frame(encodeBinarySnapshot(model, RecordKind.binaryColumns));
}

/** What reading a file found. */
export interface FileScan {
  /** The state after replaying every intact record (built on first use). */
  readonly model: StateModel;
  /**
   * The state as `load` returns it: the model's, with the documents of a columnar snapshot
   * attached in their columns (see loaded-base.ts) and its `cells` made on first read.
   */
  state(): PersistedState;
  /** Offset just past the last intact record: where the next commit goes. */
  readonly end: number;
  /** Offset just past the snapshot (or the header when there is none). */
  readonly baseEnd: number;
  /** Intact records read (snapshot included). */
  readonly records: number;
  /** Bytes of a torn final record dropped (0 when the file ended cleanly). */
  readonly tornBytes: number;
}

/**
 * Read a whole persistence file. Throws {@link PersistenceCorruptError} for anything but a
 * torn final record; never returns an empty state in place of unreadable data.
 */
export function scanFile(buf: Buffer, file: string): FileScan {
  const corrupt = (offset: number, what: string, cause?: unknown) =>
    new PersistenceCorruptError(
      `${file} is corrupt at byte offset ${offset}: ${what}. Nothing was changed and nothing was dropped; restore the file from a backup, or move it away to start with an empty store.`,
      { details: { file, offset }, ...(cause === undefined ? {} : { cause }) },
    );
  if (buf.length < HEADER_SIZE)
    throw corrupt(
      0,
      `the file is ${buf.length} bytes, shorter than the ${HEADER_SIZE}-byte header; it is not an OmniSync persistence file`,
    );
  if (buf.toString('latin1', 0, 8) !== FILE_MAGIC)
    throw corrupt(
      0,
      `it does not start with ${JSON.stringify(FILE_MAGIC)}; it is not an OmniSync persistence file`,
    );
  if (buf.readUInt32BE(12) !== crc32(buf.subarray(0, 12)))
    throw corrupt(8, 'the header checksum does not match');
  const version = buf.readUInt32BE(8);
  if (version < FILE_VERSION_MIN || version > FILE_VERSION)
    throw corrupt(
      8,
      `format version ${version} is not one this OmniSync reads (${FILE_VERSION_MIN} to ${FILE_VERSION})${version > FILE_VERSION ? '; it was written by a newer OmniSync, so upgrade to read it' : ''}`,
    );

  let pos = HEADER_SIZE;
  let baseEnd = HEADER_SIZE;
  let records = 0;
  let snapshot: Snapshot | undefined;
  const journal: NormalizedBatch[] = [];
  while (pos < buf.length) {
    const remaining = buf.length - pos;
    if (remaining < FRAME_HEADER_SIZE) break; // torn: the frame header itself was cut short
    const length = buf.readUInt32BE(pos);
    if ((length ^ buf.readUInt32BE(pos + 4)) >>> 0 !== 0xffffffff) {
      if (isZero(buf, pos)) break; // torn: the file grew but the data never reached the disk
      throw corrupt(pos, 'a record header is damaged');
    }
    const payloadEnd = pos + FRAME_HEADER_SIZE + length;
    if (payloadEnd > buf.length) break; // torn: the record was cut short
    const payload = buf.subarray(pos + FRAME_HEADER_SIZE, payloadEnd);
    if (crc32(payload) !== buf.readUInt32BE(pos + 8)) {
      if (payloadEnd === buf.length) break; // torn: the final record, never acknowledged
      throw corrupt(pos, 'a record checksum does not match (the data was altered after it was written)');
    }
    if (length < 1) throw corrupt(pos, 'a record is empty');
    const kind = payload[0];
    let body: unknown;
    if (kind !== RecordKind.binaryColumns) {
      try {
        body = JSON.parse(payload.toString('utf8', 1));
      } catch (err) {
        throw corrupt(pos, 'a record does not hold valid JSON', err);
      }
    }
    try {
      if (kind === RecordKind.snapshot || kind === RecordKind.columns || kind === RecordKind.binaryColumns) {
        if (records !== 0) throw new Error('a snapshot record appears after the first record');
        snapshot = decodeSnapshot(kind, body, payload);
        baseEnd = payloadEnd;
      } else if (kind === RecordKind.commit) {
        journal.push(decodeCommit(body));
      } else if (kind === RecordKind.group) {
        if (!Array.isArray(body)) throw new Error('a group record is not an array of commits');
        for (const commit of body) journal.push(decodeCommit(commit));
      } else {
        throw new Error(`unknown record kind ${String(kind)}`);
      }
    } catch (err) {
      throw corrupt(pos, err instanceof Error ? err.message : String(err), err);
    }
    records++;
    pos = payloadEnd;
  }
  let model: StateModel | undefined;
  const modelOf = (): StateModel => (model ??= buildModel(snapshot, journal));
  return {
    get model() {
      return modelOf();
    },
    state: () => loadedState(snapshot, journal, modelOf),
    end: pos,
    baseEnd,
    records,
    tornBytes: buf.length - pos,
  };
}

function decodeSnapshot(kind: number, body: unknown, payload: Buffer): Snapshot {
  let docs: ColumnarDocs | undefined;
  let cells: Cell[] | undefined;
  let t: unknown;
  let m: unknown;
  if (kind === RecordKind.binaryColumns) {
    const s = decodeBinarySnapshot(payload);
    docs = s.docs;
    t = s.transactions;
    m = s.meta;
  } else {
    const o = asObject(body, 'the snapshot record');
    if (kind === RecordKind.columns) docs = decodeJsonColumns(o);
    else cells = asArray(o.c, 'the cells').map(decodeCell);
    t = o.t;
    m = o.m;
  }
  return {
    docs,
    cells,
    transactions: asArray(t, 'the transactions').map(decodeTransaction),
    meta: asArray(m, 'the meta entries').map((e) => decodeMeta(e, false) as [string, JsonValue]),
  };
}

function isZero(buf: Buffer, from: number): boolean {
  for (let i = from; i < buf.length; i++) if (buf[i] !== 0) return false;
  return true;
}
