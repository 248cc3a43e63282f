/**
 * The fast push decoder is the general one, only faster: for random push bodies (valid ones,
 * then mutated: values replaced, keys dropped or added, deep values, long strings, bad
 * cells and HLCs, text cut short) under random nesting limits, decodePushText either throws
 * the very error (class, code, message, details) that `decodeMessage(pushRequestSchema,
 * parseMessageText(…))` throws, or returns a request that the schema decodes to the same
 * value. Runs: OMNISYNC_RUNS, seed: OMNISYNC_SEED.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createHlc,
  decodeMessage,
  type JsonValue,
  OmniSyncError,
  parseMessageText,
  pushRequestSchema,
  utf8Length,
} from '@omnisync/core';
import { decodePushText } from './push-decode.js';

const RUNS = Number(process.env.OMNISYNC_RUNS ?? 1000);
const SEED = process.env.OMNISYNC_SEED === undefined ? undefined : Number(process.env.OMNISYNC_SEED);
const hlc = createHlc({ nodeId: 'prop' });

const nested = (levels: number): JsonValue => (levels === 0 ? 1 : [nested(levels - 1)]);
/** Mostly `common`, sometimes one of `rare` (so most bodies are valid but for one thing). */
const mostly = <T>(common: fc.Arbitrary<T>, ...rare: fc.Arbitrary<T>[]): fc.Arbitrary<T> =>
  fc.oneof({ weight: 12, arbitrary: common }, ...rare.map((arbitrary) => ({ weight: 1, arbitrary })));
const arbValue: fc.Arbitrary<unknown> = mostly(
  fc.oneof(
    fc.string({ maxLength: 6 }),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
  ),
  fc.jsonValue({ maxDepth: 3 }),
  // around every nesting limit tried below, and past the 32 levels a cell value may have
  fc.nat(12).map(nested),
  fc.integer({ min: 30, max: 70 }).map(nested),
);
const arbCell = fc.record({
  collection: mostly(fc.constant('todos'), fc.constantFrom('notes', 'bad name', '')),
  id: mostly(fc.constantFrom('a', 'b'), fc.constantFrom('', 'x'.repeat(600))),
  field: mostly(
    fc.constantFrom('id', 'title', 'meta.x'),
    fc.constantFrom('tags[t1]', '_deleted', 'id.x', 'a..b'),
  ),
  value: arbValue,
  hlc: mostly(fc.constant('now'), fc.constantFrom('garbage', 'zzzzzzzzzzz-000000-x')),
});
const arbId = mostly(
  fc.constantFrom('m1', 'm2'),
  fc.constant(''),
  fc.string({ minLength: 120, maxLength: 140 }),
  // surrogate pairs: more UTF-16 units than code points (the schema counts code points)
  fc.integer({ min: 60, max: 70 }).map((n) => '\u{1F600}'.repeat(n)),
);
const arbMutation = fc.record(
  {
    id: arbId,
    name: mostly(fc.constant('bump'), fc.constant(''), fc.string({ minLength: 250, maxLength: 260 })),
    args: arbValue,
    changes: fc.array(arbCell, { maxLength: 3 }),
  },
  { requiredKeys: ['id', 'changes'] },
);
const arbPush = fc.record({ clientId: arbId, mutations: fc.array(arbMutation, { maxLength: 3 }) });
const arbEdit = fc.oneof(
  fc.record({ op: fc.constant('set' as const), path: fc.nat(), value: arbValue }),
  fc.record({ op: fc.constant('delete' as const), path: fc.nat() }),
  fc.record({
    op: fc.constant('add' as const),
    path: fc.nat(),
    key: fc.string({ maxLength: 4 }),
    value: arbValue,
  }),
);

type Path = (string | number)[];
const pathsOf = (v: unknown, prefix: Path = [], out: Path[] = []): Path[] => {
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => pathsOf(x, [...prefix, i], out));
  else if (v && typeof v === 'object')
    for (const k of Object.keys(v)) pathsOf((v as any)[k], [...prefix, k], out);
  return out;
};
const at = (root: any, path: Path) => path.reduce((o, k) => o?.[k], root);

type Edit = { op: 'set' | 'delete' | 'add'; path: number; key?: string; value?: unknown };

function render(push: unknown, edits: readonly Edit[], cut: number | null): string {
  const obj = structuredClone(push) as any;
  for (const m of obj.mutations ?? [])
    for (const c of m.changes) {
      if (c.hlc === 'now') c.hlc = hlc.now();
      if (c.field === 'id' && typeof c.value !== 'object') c.value = c.id;
      if (c.field === '_deleted' && typeof c.value !== 'object') c.value = true;
      if (c.value === undefined) delete c.value;
    }
  for (const e of edits) {
    const paths = pathsOf(obj);
    const path = paths[e.path % paths.length]!;
    if (e.op === 'add') {
      const target = at(obj, path);
      if (target && typeof target === 'object' && !Array.isArray(target)) target[e.key!] = e.value;
      continue;
    }
    if (path.length === 0) continue;
    const parent = at(obj, path.slice(0, -1));
    const key = path.at(-1)!;
    if (e.op === 'set') parent[key] = e.value;
    else if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
  }
  const text = JSON.stringify(obj) ?? 'null';
  return cut === null ? text : text.slice(0, cut % (text.length + 1));
}

const outcome = (fn: () => unknown): { ok: unknown } | { error: unknown } => {
  try {
    return { ok: fn() };
  } catch (err) {
    if (!(err instanceof OmniSyncError)) throw err;
    return {
      error: { cls: err.constructor.name, code: err.code, message: err.message, details: err.details },
    };
  }
};

describe('decodePushText', () => {
  it('accepts and refuses exactly what the general decoder does, with the same errors', () => {
    fc.assert(
      fc.property(
        arbPush,
        fc.array(arbEdit, { maxLength: 2 }),
        mostly<number | null>(fc.constant(null), fc.nat()),
        fc.constantFrom(5, 6, 7, 9, 12, 40, 64),
        (push, edits, cut, maxDepth) => {
          const text = render(push, edits, cut);
          const limits = { maxBytes: 1024 * 1024, maxDepth };
          const bytes = utf8Length(text);
          const general = outcome(() =>
            decodeMessage(pushRequestSchema, parseMessageText(text, limits, bytes), 'push request'),
          );
          const fast = outcome(() => decodePushText(text, limits, bytes));
          if ('error' in general) expect(fast).toEqual(general);
          else {
            expect('ok' in fast).toBe(true);
            // The fast result keeps unknown keys; what the schema makes of it is the same request.
            expect(pushRequestSchema.parse((fast as { ok: unknown }).ok)).toEqual(general.ok);
          }
        },
      ),
      { numRuns: RUNS, ...(SEED !== undefined ? { seed: SEED } : {}) },
    );
  });

  it('takes the common push as it is, and refuses a deep one as before', () => {
    const stamp = hlc.now();
    const req = {
      clientId: 'c1',
      mutations: [
        {
          id: stamp,
          changes: [
            { collection: 'todos', id: 'a', field: 'id', value: 'a', hlc: stamp },
            { collection: 'todos', id: 'a', field: 'title', value: 'x', hlc: stamp },
          ],
        },
      ],
    };
    const text = JSON.stringify(req);
    expect(decodePushText(text, { maxBytes: 1 << 20, maxDepth: 64 }, text.length)).toEqual(req);
    // One level too few for the shape: the general decoder's depth error.
    expect(() => decodePushText(text, { maxBytes: 1 << 20, maxDepth: 4 }, text.length)).toThrow(
      /nested deeper than 4 levels/,
    );
    // At and past the most mutations a push may carry.
    for (const n of [10_000, 10_001]) {
      const many = JSON.stringify({
        clientId: 'c',
        mutations: Array.from({ length: n }, () => ({ id: 'm', changes: [] })),
      });
      const limits = { maxBytes: 1 << 20, maxDepth: 64 };
      const general = outcome(() =>
        decodeMessage(pushRequestSchema, parseMessageText(many, limits, many.length), 'push request'),
      );
      expect(outcome(() => decodePushText(many, limits, many.length))).toEqual(general);
      expect('ok' in general).toBe(n === 10_000);
    }
    const deep = `{"clientId":"c","mutations":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    expect(() => decodePushText(deep, { maxBytes: 1 << 20, maxDepth: 64 }, deep.length)).toThrow(
      expect.objectContaining({ code: 'protocol_invalid' }),
    );
  });
});
