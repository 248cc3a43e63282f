/** encodeCell writes exactly the JSON text JSON.stringify would, without calling it for the usual values. */
import { describe, expect, it } from 'vitest';
import { encodeCell } from './cell-upsert.js';

describe('encodeCell', () => {
  it('is JSON.stringify for strings with every UTF-16 code unit, and for every other value', () => {
    for (let c = 0; c < 0x10000; c++) {
      const s = `a${String.fromCharCode(c)}b`;
      if (encodeCell(s) !== JSON.stringify(s)) expect(encodeCell(s)).toBe(JSON.stringify(s));
    }
    const values = [
      '',
      'plain',
      'é😀',
      '\u2028\u2029',
      '\ud83d',
      '\ude00x',
      'q"uote',
      'back\\slash',
      '\u0000',
      0,
      -1.5,
      1e300,
      true,
      false,
      null,
      [1, 'a'],
      { k: ['"'] },
    ];
    for (const v of values) expect(encodeCell(v)).toBe(JSON.stringify(v));
    expect(encodeCell(undefined)).toBeNull();
  });
});
