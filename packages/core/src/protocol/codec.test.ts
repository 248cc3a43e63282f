import { describe, expect, it } from 'vitest';
import { validateCell } from '../cells.js';
import { OmniSyncError } from '../errors.js';
import { decodeLiveClientMessage, decodeMessage, decodeMessageText } from './codec.js';
import { pullRequestSchema, pushRequestSchema } from './http-messages.js';
import { jsonTextDepth, parseMessageText, utf8Length } from './json-text.js';

const hlc = '000m5d4ruo0-000000-client_A1';
const cell = (over: Record<string, unknown> = {}) => ({
  collection: 'todos',
  id: 't1',
  field: 'title',
  value: 'x',
  hlc,
  ...over,
});

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OmniSyncError);
    return (err as OmniSyncError).code;
  }
  throw new Error('expected a throw');
};

describe('decodeMessage', () => {
  it('accepts a valid push and keeps a missing value missing (unset)', () => {
    const msg = { clientId: 'c', mutations: [{ id: 'm', changes: [cell({ value: undefined })] }] };
    const out = decodeMessage(pushRequestSchema, JSON.parse(JSON.stringify(msg)), 'push request');
    expect(out.mutations[0]!.changes[0]).not.toHaveProperty('value');
  });

  it('reports a bad cell with the cell error code and its path', () => {
    const msg = { clientId: 'c', mutations: [{ id: 'm', changes: [cell(), cell({ id: '' })] }] };
    try {
      decodeMessage(pushRequestSchema, msg, 'push request');
      expect.unreachable();
    } catch (err) {
      expect((err as OmniSyncError).code).toBe('invalid_cell');
      expect((err as Error).message).toContain('mutations[0].changes[1]');
    }
  });

  it("reports a bad hlc, a tombstone with value false and a NaN value with validateCell's own code", () => {
    const push = (c: unknown) => ({ clientId: 'c', mutations: [{ id: 'm', changes: [c] }] });
    for (const bad of [
      cell({ hlc: 'yesterday' }),
      cell({ field: '_deleted', value: false }),
      cell({ value: Number.NaN }),
    ]) {
      const expected = codeOf(() => validateCell(bad));
      expect(expected).toMatch(/^invalid_/);
      expect(codeOf(() => decodeMessage(pushRequestSchema, push(bad), 'push'))).toBe(expected);
    }
  });

  it('reports wrong types as protocol_invalid naming the path', () => {
    try {
      decodeMessage(pullRequestSchema, { cursor: -1, limit: 'ten' }, 'pull request');
      expect.unreachable();
    } catch (err) {
      expect((err as OmniSyncError).code).toBe('protocol_invalid');
      expect((err as Error).message).toMatch(/cursor/);
      expect((err as Error).message).toMatch(/limit/);
    }
  });
});

describe('decodeLiveClientMessage', () => {
  it('decodes a known message', () => {
    expect(decodeLiveClientMessage({ type: 'ping', id: '1' })).toEqual({ type: 'ping', id: '1' });
  });
  it('refuses an unknown type with unknown_message', () => {
    expect(codeOf(() => decodeLiveClientMessage({ type: 'frobnicate' }))).toBe('unknown_message');
    expect(codeOf(() => decodeLiveClientMessage({ type: 7 }))).toBe('unknown_message');
    expect(codeOf(() => decodeLiveClientMessage({}))).toBe('unknown_message');
  });
  it('refuses a non-object with protocol_invalid', () => {
    for (const v of [null, [], 'hello', 3])
      expect(codeOf(() => decodeLiveClientMessage(v))).toBe('protocol_invalid');
  });
  it('refuses a malformed known message with protocol_invalid', () => {
    expect(codeOf(() => decodeLiveClientMessage({ type: 'subscribe', queryId: 'q' }))).toBe(
      'protocol_invalid',
    );
  });
});

describe('parseMessageText', () => {
  it('refuses malformed JSON', () => {
    expect(codeOf(() => parseMessageText('{"a":'))).toBe('protocol_invalid');
  });
  it('refuses text over the byte limit with payload_too_large', () => {
    expect(codeOf(() => parseMessageText(JSON.stringify({ s: 'x'.repeat(200) }), { maxBytes: 100 }))).toBe(
      'payload_too_large',
    );
    // multi-byte characters count in bytes, not UTF-16 units
    expect(codeOf(() => parseMessageText(JSON.stringify({ s: 'é'.repeat(60) }), { maxBytes: 100 }))).toBe(
      'payload_too_large',
    );
  });
  it('refuses nesting past the depth limit without recursing', () => {
    const deep = '['.repeat(200_000) + ']'.repeat(200_000);
    expect(codeOf(() => parseMessageText(deep))).toBe('protocol_invalid');
    expect(parseMessageText('[[["]]]]]]"]]]', { maxDepth: 3 })).toEqual([[[']]]]]]']]]);
  });
  it('decodeMessageText combines parse and validation', () => {
    expect(decodeMessageText(pullRequestSchema, '{"cursor":3}', 'pull')).toEqual({ cursor: 3 });
  });
});

describe('json text helpers', () => {
  it('measure depth ignoring brackets in strings and escapes', () => {
    expect(jsonTextDepth('{"a":[1,{"b":"[[[\\"]]"}]}')).toBe(3);
    expect(jsonTextDepth('1')).toBe(0);
    expect(jsonTextDepth(String.raw`["\\",[[]]]`)).toBe(3); // an escaped backslash ends the string
    expect(jsonTextDepth(String.raw`["\\\"[[[[",[]]`)).toBe(2); // escaped quote inside
    expect(jsonTextDepth('["unterminated [[[')).toBe(1);
  });
  it('count UTF-8 bytes', () => {
    expect(utf8Length('aé€😀')).toBe(1 + 2 + 3 + 4);
  });
});
