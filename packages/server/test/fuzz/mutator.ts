/**
 * Structure-aware mutator for the fuzz driver: builds a valid message of every kind of the
 * push/pull/snapshot/cursor HTTP protocol and the live WebSocket protocol, then mutates it
 * (field drops, type swaps, huge values, lone surrogates, deep nesting, random bytes,
 * truncation, inexact numbers, wrong content types and encodings, gzip bodies).
 *
 * Trap (a previous fuzzer died at 98k messages from it): nothing here is a shared constant
 * object. Every template and every inserted value is built fresh by a function, so a
 * mutation that puts a value inside itself cannot create a cycle that outlives one message.
 */
import { gzipSync, deflateSync } from 'node:zlib';

/** A seeded PRNG (mulberry32): the same seed gives the same message stream. */
export interface Rng {
  /** In [0, 1). */
  next(): number;
  int(n: number): number;
  pick<T>(xs: readonly T[]): T;
  chance(p: number): boolean;
}

/** mulberry32 seeded with `seed`. */
export function createRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: (xs) => xs[int(xs.length)]!, chance: (p) => next() < p };
}

/** HTTP message kinds (the path's last segment) and live message types. */
export const HTTP_KINDS = ['push', 'pull', 'snapshot', 'cursor'] as const;
export const LIVE_TYPES = [
  'hello',
  'subscribe',
  'unsubscribe',
  'push',
  'ping',
  'join',
  'leave',
  'presence',
  'event',
] as const;

/** One message, ready to send. */
export interface FuzzMessage {
  readonly via: 'http' | 'ws';
  /** HTTP: the path kind; WS: the type of the base message. */
  readonly kind: string;
  /** What was done to it (`valid` when nothing). */
  readonly mutation: string;
  readonly body: Buffer;
  /** HTTP request headers (content-type, content-encoding). */
  readonly headers: Record<string, string>;
  /** WS: send as a binary frame. */
  readonly binary?: boolean;
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Hlc = () => string;

const COLLECTIONS = ['todos', 'notes'];
const IDS = ['a', 'b', 'c', 'd'];
const FIELDS = ['title', 'n', 'done', 'meta.x', 'ownerId'];

function cell(r: Rng, hlc: Hlc): Record<string, Json> {
  const collection = r.pick(COLLECTIONS);
  const id = r.pick(IDS);
  const k = r.int(10);
  if (k === 0) return { collection, id, field: 'id', value: id, hlc: hlc() };
  if (k === 1) return { collection, id, field: '_deleted', value: true, hlc: hlc() };
  if (k === 2) return { collection, id, field: 'tags[t1]', value: true, hlc: hlc() };
  const value: Json = r.pick([() => `s${r.int(100)}`, () => r.int(1000), () => r.chance(0.5), () => null])();
  return { collection, id, field: r.pick(FIELDS), value, hlc: hlc() };
}

function mutation(r: Rng, hlc: Hlc, seq: () => number): Record<string, Json> {
  const changes: Json[] = [];
  for (let i = 1 + r.int(3); i > 0; i--) changes.push(cell(r, hlc));
  return { id: `m${seq()}`, changes };
}

function query(r: Rng): Record<string, Json> {
  const collection = r.pick(COLLECTIONS);
  switch (r.int(4)) {
    case 0:
      return { collection };
    case 1:
      return { collection, where: { ownerId: `u${r.int(3)}` } };
    case 2:
      return { collection, where: { op: 'gt', field: 'n', value: r.int(100) }, limit: 1 + r.int(5) };
    default:
      return {
        collection,
        where: {
          op: 'and',
          args: [
            { op: 'exists', field: 'title' },
            { op: 'ne', field: 'done', value: true },
          ],
        },
        orderBy: [{ field: 'n', dir: 'desc' }],
      };
  }
}

/** A valid base message of `kind` (fresh objects every call). */
export function baseMessage(
  via: 'http' | 'ws',
  kind: string,
  r: Rng,
  hlc: Hlc,
  seq: () => number,
): Record<string, Json> {
  const clientId = `fz${r.int(3)}`;
  const mutations = () => {
    const out: Json[] = [];
    for (let i = r.int(3); i >= 0; i--) out.push(mutation(r, hlc, seq));
    return out;
  };
  if (via === 'http')
    switch (kind) {
      case 'push':
        return { clientId, mutations: mutations() };
      case 'pull':
        return { cursor: r.int(50), limit: 1 + r.int(50), queries: [query(r)] };
      case 'snapshot':
        return r.chance(0.5) ? {} : { queries: [query(r)] };
      default:
        return { clientId, cursor: r.int(50) };
    }
  const room = `r${r.int(2)}`;
  switch (kind) {
    case 'hello':
      return { type: 'hello', cursor: r.int(50), mode: r.pick(['changes', 'poke']) };
    case 'subscribe':
      return { type: 'subscribe', queryId: `q${r.int(3)}`, query: query(r), cursor: r.int(50) };
    case 'unsubscribe':
      return { type: 'unsubscribe', queryId: `q${r.int(3)}` };
    case 'push':
      return { type: 'push', requestId: `p${seq()}`, clientId, mutations: mutations() };
    case 'ping':
      return { type: 'ping', id: `x${r.int(9)}` };
    case 'join':
      return { type: 'join', room, presence: { name: `n${r.int(9)}` } };
    case 'leave':
      return { type: 'leave', room };
    case 'presence':
      return { type: 'presence', room, state: { cursor: [r.int(9), r.int(9)] } };
    default:
      return { type: 'event', room, name: 'e', payload: { x: r.int(9) } };
  }
}

type Path = (string | number)[];
function paths(v: Json, prefix: Path = [], out: Path[] = [], depth = 0): Path[] {
  out.push(prefix);
  if (depth > 12) return out;
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...prefix, i], out, depth + 1));
  else if (v && typeof v === 'object')
    for (const k of Object.keys(v)) paths(v[k]!, [...prefix, k], out, depth + 1);
  return out;
}
function parent(root: Json, path: Path): any {
  let p: any = root;
  for (const k of path.slice(0, -1)) p = p?.[k];
  return p;
}
function setAt(root: Json, path: Path, value: Json | undefined): void {
  const p = parent(root, path);
  if (p === null || typeof p !== 'object') return;
  const k = path.at(-1)!;
  if (value === undefined) {
    if (Array.isArray(p)) p.splice(k as number, 1);
    else delete p[k];
  } else p[k] = value;
}

const LONE = ['\ud800', '\udfff', 'a\ud83d', '\udc00b'];
/** JSON text of `depth` nested arrays or objects. */
const nested = (depth: number, arrays: boolean): string =>
  arrays ? `${'['.repeat(depth)}1${']'.repeat(depth)}` : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
/** JSON.stringify, with the deep-nesting markers expanded. */
const render = (obj: Json): string =>
  JSON.stringify(obj).replace(/"@@deep(\d+)([ao])@@"/g, (_, n: string, k: string) =>
    nested(Number(n), k === 'a'),
  );
/** A value of another JSON type than `v` (fresh). */
function swapType(r: Rng, v: unknown): Json {
  const options: (() => Json)[] = [
    () => null,
    () => r.chance(0.5),
    () => r.int(1e6) - 5e5,
    () => r.next() * 1e300,
    () => `s${r.int(9)}`,
    () => [],
    () => [r.int(3), 'x'],
    () => ({}),
    () => ({ k: r.int(9) }),
  ];
  for (;;) {
    const x = r.pick(options)();
    if (typeof x !== typeof v || Array.isArray(x) !== Array.isArray(v)) return x;
  }
}
function hugeValue(r: Rng): Json {
  switch (r.int(5)) {
    case 0:
      return 'x'.repeat(r.pick([70_000, 300_000, 1_100_000, 2_500_000]));
    case 1:
      return Number.MAX_VALUE;
    case 2:
      return Array.from({ length: r.pick([5_000, 12_000]) }, (_, i) => i);
    case 3:
      return Number.MAX_SAFE_INTEGER;
    default:
      return Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`k${i}`, i]));
  }
}
function randomBytes(r: Rng, n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = r.int(256);
  return b;
}

/** Structural mutations (on the object) and textual ones (on the JSON text / bytes / headers). */
const STRUCTURAL = [
  'drop',
  'swap',
  'huge',
  'surrogate',
  'deep',
  'extra',
  'proto',
  'badHlc',
  'retype',
] as const;
const TEXTUAL = [
  'truncate',
  'randomBytes',
  'splice',
  'inexact',
  'dupKey',
  'badUtf8',
  'contentType',
  'gzip',
  'gzipCorrupt',
  'deflate',
  'badEncoding',
  'gzipBomb',
  'empty',
  'binaryFrame',
] as const;

/** Apply one structural mutation to `obj` in place; returns its name. */
function mutateObject(r: Rng, obj: Record<string, Json>, via: 'http' | 'ws'): string {
  const ps = paths(obj).filter((p) => p.length > 0);
  const at = () => r.pick(ps.length > 0 ? ps : [['x']]);
  const name = r.pick(STRUCTURAL);
  switch (name) {
    case 'drop':
      setAt(obj, at(), undefined);
      break;
    case 'swap': {
      const p = at();
      setAt(obj, p, swapType(r, parent(obj, p)?.[p.at(-1)!]));
      break;
    }
    case 'huge':
      setAt(obj, at(), hugeValue(r));
      break;
    case 'surrogate': {
      const strings = ps.filter((p) => typeof parent(obj, p)?.[p.at(-1)!] === 'string');
      const p = strings.length > 0 ? r.pick(strings) : at();
      const old = parent(obj, p)?.[p.at(-1)!];
      setAt(obj, p, `${typeof old === 'string' ? old : ''}${r.pick(LONE)}`);
      break;
    }
    case 'deep':
      // A marker the text step expands: JSON.stringify of 5 000 levels can overflow the stack.
      setAt(obj, at(), `@@deep${r.pick([40, 200, 1_000, 5_000, 50_000])}${r.pick(['a', 'o'])}@@`);
      break;
    case 'extra': {
      const p = at();
      const target = parent(obj, [...p, '_']) as unknown;
      if (target && typeof target === 'object' && !Array.isArray(target))
        (target as Record<string, Json>)[`x${r.int(9)}`] = swapType(r, undefined);
      else obj[`x${r.int(9)}`] = r.int(9);
      break;
    }
    case 'proto':
      // JSON.parse makes own properties of these: the server must not treat them as inherited.
      setAt(obj, at(), { ['__proto__']: { polluted: true }, constructor: { prototype: 1 } } as Json);
      break;
    case 'badHlc': {
      const hlcs = ps.filter((p) => p.at(-1) === 'hlc');
      setAt(
        obj,
        hlcs.length > 0 ? r.pick(hlcs) : at(),
        r.pick(['', 'zzzzzzzzzzz-000000-future', '0000000000-0000-', 'x'.repeat(300), `\ud800`]),
      );
      break;
    }
    default: {
      const kinds = via === 'http' ? LIVE_TYPES : HTTP_KINDS;
      obj['type'] = r.chance(0.3) ? `t${r.int(99)}` : r.pick(kinds);
    }
  }
  return name;
}

const bombs = new Map<number, Buffer>();
/** A small gzip body that inflates to `mb` MB (built once per size: a Buffer, never mutated). */
function gzipBomb(mb: number): Buffer {
  let b = bombs.get(mb);
  if (!b) {
    const head = Buffer.from('{"clientId":"a","mutations":[],"pad":"');
    b = gzipSync(Buffer.concat([head, Buffer.alloc(mb * 1024 * 1024, 0x61), Buffer.from('"}')]));
    bombs.set(mb, b);
  }
  return b;
}

const JSON_TYPE = { 'content-type': 'application/json' };

/** Build the next fuzz message. */
export function nextMessage(r: Rng, hlc: Hlc, seq: () => number): FuzzMessage {
  const via = r.chance(0.55) ? 'http' : 'ws';
  const kind = via === 'http' ? r.pick(HTTP_KINDS) : r.pick(LIVE_TYPES);
  const obj = structuredClone(baseMessage(via, kind, r, hlc, seq));
  const roll = r.next();
  if (roll < 0.12)
    return { via, kind, mutation: 'valid', body: Buffer.from(render(obj)), headers: { ...JSON_TYPE } };
  const names: string[] = [];
  if (roll < 0.6) {
    for (let n = 1 + r.int(2); n > 0; n--) names.push(mutateObject(r, obj, via));
    return {
      via,
      kind,
      mutation: names.join('+'),
      body: Buffer.from(render(obj)),
      headers: { ...JSON_TYPE },
    };
  }
  const text = render(obj);
  const name = r.pick(TEXTUAL);
  let body: Buffer = Buffer.from(text);
  let headers: Record<string, string> = { ...JSON_TYPE };
  let binary = false;
  switch (name) {
    case 'truncate':
      body = body.subarray(0, r.int(body.length));
      break;
    case 'randomBytes':
      body = randomBytes(r, 1 + r.int(200));
      break;
    case 'splice': {
      const i = r.int(body.length);
      body = Buffer.concat([body.subarray(0, i), randomBytes(r, 1 + r.int(8)), body.subarray(i + r.int(4))]);
      break;
    }
    case 'inexact':
      body = Buffer.from(
        text.replace(/(?<=[:[,])\d+(?=[,\]}])/, () =>
          r.pick(['1e-400', '9007199254740993', '-0', '1e400', '0.1e-999']),
        ),
      );
      break;
    case 'dupKey':
      body = Buffer.from(
        text.replace(/^\{/, `{"${via === 'ws' ? 'type' : (Object.keys(obj)[0] ?? 'a')}":"dup",`),
      );
      break;
    case 'badUtf8': {
      const i = r.int(body.length);
      body = Buffer.concat([
        body.subarray(0, i),
        Buffer.from(r.pick([[0xff], [0xc3], [0xed, 0xa0, 0x80], [0xe2, 0x82]])),
        body.subarray(i),
      ]);
      break;
    }
    case 'contentType':
      headers = {
        'content-type': r.pick([
          'text/plain',
          'application/x-www-form-urlencoded',
          'multipart/form-data; boundary=x',
          'application/json; charset=latin1',
          '',
        ]),
      };
      break;
    case 'gzip':
      body = gzipSync(body);
      headers = { ...JSON_TYPE, 'content-encoding': 'gzip' };
      break;
    case 'gzipCorrupt': {
      const z = gzipSync(body);
      const at = Math.min(z.length - 1, 10 + r.int(Math.max(1, z.length - 10)));
      z[at] = z[at]! ^ 0xff;
      body = r.chance(0.5) ? z : z.subarray(0, r.int(z.length));
      headers = { ...JSON_TYPE, 'content-encoding': r.pick(['gzip', 'x-gzip']) };
      break;
    }
    case 'deflate':
      body = deflateSync(body);
      headers = { ...JSON_TYPE, 'content-encoding': 'deflate' };
      break;
    case 'badEncoding':
      // Plain JSON that says it is compressed, or compression the server does not speak.
      headers = {
        ...JSON_TYPE,
        'content-encoding': r.pick(['gzip', 'br', 'zstd', 'gzip, gzip', 'compress']),
      };
      break;
    case 'gzipBomb':
      body = gzipBomb(r.pick([3, 40]));
      headers = { ...JSON_TYPE, 'content-encoding': 'gzip' };
      break;
    case 'empty':
      body = Buffer.alloc(0);
      break;
    default:
      binary = true;
  }
  return { via, kind, mutation: name, body, headers, binary };
}
