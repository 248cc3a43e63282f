import { describe, expect, it } from 'vitest';
import { prepareMessage } from './ws-frame.js';

describe('prepareMessage', () => {
  it('frames text payloads with 7-bit, 16-bit and 64-bit lengths (unmasked, FIN, text)', () => {
    for (const [n, header] of [
      [5, [0x81, 5]],
      [125, [0x81, 125]],
      [126, [0x81, 126, 0, 126]],
      [65_535, [0x81, 126, 0xff, 0xff]],
      [65_536, [0x81, 127, 0, 0, 0, 0, 0, 1, 0, 0]],
    ] as const) {
      const payload = Buffer.alloc(n, 0x61);
      const { frame } = prepareMessage(payload);
      expect([...frame.subarray(0, header.length)]).toEqual(header);
      expect(frame.length).toBe(header.length + n);
      expect(frame.subarray(header.length).equals(payload)).toBe(true);
    }
  });
});
