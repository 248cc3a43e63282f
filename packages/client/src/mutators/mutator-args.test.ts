import { InvalidValueError } from '@omnisync/core';
import { describe, expect, it } from 'vitest';
import { toJsonArgs } from './mutator-args.js';

describe('toJsonArgs', () => {
  it('copies JSON as JSON would: undefined keys dropped, "__proto__" kept as a key', () => {
    const input = JSON.parse('{"a":[1,"x",null,true,{"b":{}}],"__proto__":{"p":1}}') as Record<
      string,
      unknown
    >;
    input.gone = undefined;
    const out = toJsonArgs('m', input) as Record<string, unknown>;
    expect(out).toEqual(JSON.parse(JSON.stringify(input)));
    expect(out).not.toBe(input);
    expect(Object.keys(out)).toEqual(['a', '__proto__']);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(toJsonArgs('m', undefined)).toBeUndefined();
    expect(toJsonArgs('m', 'plain')).toBe('plain');
    expect(toJsonArgs('m', Object.create(null) as object)).toEqual({});
  });

  it('refuses what JSON cannot carry as it is, naming the path', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = [deep];
    const shared = { x: 1 };
    expect(toJsonArgs('m', { a: shared, b: shared })).toEqual({ a: { x: 1 }, b: { x: 1 } });
    for (const [bad, path] of [
      [Infinity, 'args'],
      [{ s: Symbol('s') }, 'args.s'],
      [{ d: [new Date(0)] }, 'args.d[0]'],
      [{ u: new Uint8Array(1) }, 'args.u'],
      [deep, 'args' + '[0]'.repeat(32)],
    ] as const)
      expect(() => toJsonArgs('m', bad)).toThrow(
        expect.objectContaining({ code: 'invalid_value', details: { mutator: 'm', path } }),
      );
    expect(() => toJsonArgs('m', { d: new Date(0) })).toThrow(InvalidValueError);
    expect(() => toJsonArgs('m', { d: new Date(0) })).toThrow('toISOString');
  });
});
