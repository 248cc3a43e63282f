/// <reference types="vite/client" />
/**
 * The client's hand-written answer decoders against the zod schemas the server keeps: on
 * every v1 fixture and on every one-field corruption of it (key removed, set to null, a
 * string, a negative, a fraction, an extra key), both accept or both refuse with the same
 * error code, and what they accept decodes to the same value.
 */
import { describe, expect, it } from 'vitest';
import { OmniSyncError } from '../errors.js';
import {
  decodeCursorResponse,
  decodeLiveServerMessage,
  decodePullResponse,
  decodePushResponse,
  decodeSnapshotResponse,
  readWireError,
} from './answer-decoders.js';
import { decodeMessage } from './codec.js';
import { PROTOCOL_SCHEMAS, type ProtocolSchemaName } from './schemas.js';

const files = import.meta.glob('./fixtures/*.json', { eager: true, import: 'default' }) as Record<
  string,
  { schema: ProtocolSchemaName; examples: unknown[] }
>;

const DECODERS: Partial<Record<ProtocolSchemaName, (v: unknown) => unknown>> = {
  pushResponse: decodePushResponse,
  pullResponse: decodePullResponse,
  snapshotResponse: decodeSnapshotResponse,
  cursorResponse: decodeCursorResponse,
  liveServerMessage: decodeLiveServerMessage,
  error: (v) => {
    const e = readWireError(v);
    if (!e) throw new OmniSyncError('protocol_invalid', 'not a wire error');
    return e;
  },
};

type Outcome = { ok: true; value: unknown } | { ok: false; code: string };
const run = (f: () => unknown): Outcome => {
  try {
    return { ok: true, value: f() };
  } catch (err) {
    expect(err).toBeInstanceOf(OmniSyncError);
    return { ok: false, code: (err as OmniSyncError).code };
  }
};

const BAD_VALUES: unknown[] = [undefined, null, 'x', '', -1, 1.5, true, [], {}];

/** Every value reached by changing one key (up to two levels deep, array items included). */
function* corruptions(value: unknown, depth = 0): Generator<unknown> {
  if (typeof value !== 'object' || value === null || depth > 2) return;
  const keys = Object.keys(value);
  for (const k of keys) {
    for (const bad of BAD_VALUES) {
      const copy = (Array.isArray(value) ? [...value] : { ...value }) as Record<string, unknown>;
      if (bad === undefined && !Array.isArray(value)) delete copy[k];
      else copy[k] = bad;
      yield copy;
    }
    for (const inner of corruptions((value as Record<string, unknown>)[k], depth + 1)) {
      const copy = (Array.isArray(value) ? [...value] : { ...value }) as Record<string, unknown>;
      copy[k] = inner;
      yield copy;
    }
  }
  if (!Array.isArray(value)) yield { ...value, extra: 1 };
}

describe('answer decoders agree with the protocol schemas', () => {
  const fixtures = Object.entries(files).filter(([, f]) => DECODERS[f.schema]);

  it('cover every answer fixture', () => {
    expect(new Set(fixtures.map(([, f]) => f.schema))).toEqual(new Set(Object.keys(DECODERS)));
  });

  for (const [path, file] of fixtures) {
    it(`${path}: fixtures and their corruptions`, () => {
      const decode = DECODERS[file.schema]!;
      const schema = PROTOCOL_SCHEMAS[file.schema];
      let refused = 0;
      for (const example of file.examples) {
        expect(decode(example)).toEqual(decodeMessage(schema, example, file.schema));
        for (const bad of corruptions(example)) {
          const mine = run(() => decode(bad));
          const theirs = run(() => decodeMessage(schema, bad, file.schema));
          expect({ bad, outcome: mine }).toEqual({ bad, outcome: theirs });
          if (!mine.ok) refused++;
        }
      }
      expect(refused).toBeGreaterThan(0);
    });
  }

  it('names the path and what was expected, and keeps a cell error typed', () => {
    expect(() => decodePullResponse({ changes: [], cursor: -1, hasMore: false })).toThrow(
      /Invalid pull response: cursor: expected a non-negative integer, received number/,
    );
    const cell = { collection: 'todos', id: '', field: 'title', value: 1, hlc: 'h' };
    const err = run(() => decodeSnapshotResponse({ cells: [cell], cursor: 1 }));
    expect(err).toEqual({ ok: false, code: 'invalid_cell' });
    expect(() => decodeLiveServerMessage({ type: 'nope' })).toThrow(
      /type: expected a known server message type/,
    );
  });
});
