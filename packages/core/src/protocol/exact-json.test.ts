import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isExactKey, LONE_SURROGATE } from '../cells.js';
import { ValidationError } from '../errors.js';
import { CELL_KEY_MAX_BYTES, checkExactJson, checkPushKeys } from './exact-json.js';

const check = (text: string) => checkExactJson(text, JSON.parse(text));
const refusal = (text: string): ValidationError => {
  try {
    check(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return err as ValidationError;
  }
  throw new Error(`${text} was accepted`);
};

describe('checkExactJson', () => {
  it.each([
    '{"a":1,"b":-2,"c":0,"d":123456789012345}',
    '[0.1,1.5,-3.25,1e21,1.7976931348623157e308,5e-324,9007199254740991,-9007199254740991]',
    '[1.0,1e2,1E+2,100.00,0.0,1.50e-3,0e5]',
    '{"s":"x-1e-400 and -0 in a string","t":"a\\\\"}',
    '{"pair":"\\ud83d\\ude00","raw":"😀","ctl":"\\u0001"}',
  ])('accepts %s', (text) => {
    expect(() => check(text)).not.toThrow();
  });

  it('accepts whatever JSON.stringify writes of numbers', () => {
    const values = [
      0,
      1,
      -1,
      0.1,
      0.30000000000000004,
      1e-7,
      123.456,
      Number.MAX_SAFE_INTEGER,
      2 ** 60,
      1e300,
      5e-324,
      Math.PI,
    ];
    expect(() => check(JSON.stringify(values))).not.toThrow();
  });

  it.each([
    ['9007199254740993', '9007199254740992'],
    ['-9007199254740993', '-9007199254740992'],
    ['1e-400', '0'],
    ['-1e-400', '0'],
    ['1e400', 'Infinity'],
    ['0.10000000000000001', '0.1'],
    ['-0', '0'],
    ['-0.0', '0'],
  ])('refuses %s (read as %s) with invalid_input', (literal, readAs) => {
    const err = refusal(`{"cells":[{"value":${literal}}]}`);
    expect(err.code).toBe('invalid_input');
    expect(err.message).toContain(
      `The number ${literal} cannot be stored exactly (it would be read as ${readAs})`,
    );
  });

  it('refuses a lone surrogate in a value or a key, naming where', () => {
    expect(refusal('{"mutations":[{"changes":[{"id":"doc-\\ud800"}]}]}').message).toContain(
      'mutations[0].changes[0].id holds a lone UTF-16 surrogate',
    );
    expect(refusal('{"q":{"where":{"\\udc00x":1}}}').message).toContain('the key "\\udc00x" in q.where');
    expect(refusal('["\\ud83d"]').code).toBe('invalid_input');
    expect(refusal('["x\\ude00"]').code).toBe('invalid_input');
  });
});

describe('isExactKey and checkPushKeys', () => {
  it('isExactKey is "no U+0000 and no lone surrogate" (the regex definition), on strings of edge code units', () => {
    const units = fc.constantFrom(
      0,
      0x41,
      0xe9,
      0xd7ff,
      0xd800,
      0xd83d,
      0xdbff,
      0xdc00,
      0xde00,
      0xdfff,
      0xe000,
    );
    fc.assert(
      fc.property(fc.array(units, { maxLength: 8 }), (codes) => {
        const s = String.fromCharCode(...codes);
        expect(isExactKey(s)).toBe(!s.includes('\u0000') && !LONE_SURROGATE.test(s));
      }),
      { numRuns: 5000 },
    );
  });

  it('checkPushKeys names the first key that is not exact, and the size of a cell key over the limit', () => {
    const cell = (id: string, field = 'n') => ({ collection: 't', id, field });
    const push = (clientId: string, mutationId: string, ...changes: ReturnType<typeof cell>[]) => ({
      clientId,
      mutations: [
        { id: 'ok', changes: [cell('a')] },
        { id: mutationId, changes },
      ],
    });
    expect(() => checkPushKeys(push('c', 'm', cell('a'), cell('b', 'x.y')))).not.toThrow();
    expect(() => checkPushKeys(push('c\u0000', 'm'))).toThrow(/^clientId \("c\\u0000"\) holds U\+0000/);
    expect(() => checkPushKeys(push('c', 'm\ud800'))).toThrow(/^mutations\[1\]\.id .* lone UTF-16 surrogate/);
    expect(() => checkPushKeys(push('c', 'm', cell('a'), cell('a', 'f\udc00')))).toThrow(
      /^mutations\[1\]\.changes\[1\]\.field /,
    );
    const long = cell('\u4e00'.repeat(512), 'x'.repeat(CELL_KEY_MAX_BYTES - 1536 - 1));
    expect(() => checkPushKeys(push('c', 'm', long))).not.toThrow();
    expect(() => checkPushKeys(push('c', 'm', { ...long, field: `${long.field}x` }))).toThrow(
      /^mutations\[1\]\.changes\[0\]: its collection, id and field are 2561 bytes/,
    );
  });
});
