/**
 * What a received JSON message may hold so that everything in it is stored exactly as sent:
 *
 * - **Strings** (keys and values) must be well-formed UTF-16: a lone surrogate (`"\ud800"`,
 *   reachable only through a `\u` escape) cannot be encoded as UTF-8, so a database would
 *   store it as U+FFFD (a different id) or refuse it.
 * - **Numbers** must be held exactly by a JavaScript number: the literal must equal the
 *   shortest decimal of the double it parses to (what `JSON.stringify` writes). Refused are
 *   integers beyond ±2^53−1 that lose digits (`9007199254740993`), literals that underflow
 *   to zero or overflow (`1e-400`, `1e400`), digits past double precision
 *   (`0.10000000000000001`) and negative zero (`-0`, which every store reads back as `0`).
 *   Spellings of the same value (`1.0`, `1e2`, `1E+2`) are accepted.
 *
 * JSON written by `JSON.stringify` from JavaScript values always passes, apart from strings
 * holding lone surrogates.
 *
 * Keys that storage keeps as text (client ids, mutation ids, document ids, field names) may in
 * addition not hold U+0000: Postgres text cannot, and answering SQLite's acceptance with a
 * Postgres refusal (or a 500 on a retry) would make the same push mean different things on
 * different storages ({@link checkPushKeys}). U+0000 in a value is fine: values are stored as
 * JSON text, where it is the escape `\u0000`.
 */
import { inexactKeyReason, isExactKey, LONE_SURROGATE } from '../cells.js';
import { ValidationError } from '../errors.js';
import { utf8Length } from './json-text.js';

/** Throw when a parsed message holds a string or number that would not be stored exactly (see the module doc). */
export function checkExactJson(text: string, value: unknown): void {
  checkNumbers(text);
  // A lone surrogate in text decoded from UTF-8 can only come from a `\uD8xx`-`\uDFxx` escape.
  if (/\\u[dD][89a-fA-F]/.test(text)) checkStrings(value, '');
}

/** Throw on the first lone surrogate in a key or string of `value`, naming where it is. */
function checkStrings(value: unknown, path: string): void {
  if (typeof value === 'string') {
    if (LONE_SURROGATE.test(value)) throw loneSurrogate(path, value);
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) checkStrings(value[i], `${path}[${i}]`);
  } else if (typeof value === 'object' && value !== null) {
    for (const k in value) {
      const at = path === '' ? k : `${path}.${k}`;
      if (LONE_SURROGATE.test(k))
        throw loneSurrogate(`the key ${JSON.stringify(k)} in ${path || 'the message'}`, k);
      checkStrings((value as Record<string, unknown>)[k], at);
    }
  }
}

const loneSurrogate = (where: string, s: string) =>
  new ValidationError(
    `${where || 'The message'} holds a lone UTF-16 surrogate (${JSON.stringify(s.slice(0, 64))}); it cannot be stored exactly. Send well-formed Unicode text (pair every surrogate, or use String.prototype.toWellFormed()).`,
    { details: { field: where } },
  );

const isDigit = (c: number) => c >= 48 && c <= 57;

/** Scan the number tokens of JSON text (already parsed successfully) and check each one. */
function checkNumbers(text: string): void {
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 34 /* " */) {
      // Jump to the closing quote, skipping escaped ones (as jsonTextDepth does).
      for (;;) {
        const q = text.indexOf('"', i + 1);
        if (q < 0) return;
        let backslashes = 0;
        for (let j = q - 1; text.charCodeAt(j) === 92 /* \ */; j--) backslashes++;
        i = q;
        if (backslashes % 2 === 0) break;
      }
    } else if (c === 45 /* - */ || isDigit(c)) {
      let j = i + 1;
      let plain = true; // an integer: only digits after the sign
      for (; j < n; j++) {
        const d = text.charCodeAt(j);
        if (isDigit(d)) continue;
        if (d === 46 /* . */ || d === 101 /* e */ || d === 69 /* E */ || d === 43 /* + */ || d === 45)
          plain = false;
        else break;
      }
      const negative = c === 45;
      // Integers of up to 15 digits are always exact (the common case), except -0.
      const fast = plain && j - i - (negative ? 1 : 0) <= 15 && !(negative && text.charCodeAt(i + 1) === 48);
      if (!fast) checkNumber(text.slice(i, j));
      i = j - 1;
    }
  }
}

/** A decimal as sign, significant digits and the power of ten of the point after them. */
interface Decimal {
  readonly negative: boolean;
  readonly digits: string;
  readonly exponent: number;
}

function decimal(literal: string): Decimal {
  const negative = literal.charCodeAt(0) === 45;
  const body = negative ? literal.slice(1) : literal;
  const e = body.search(/[eE]/);
  const mantissa = e < 0 ? body : body.slice(0, e);
  const exp = e < 0 ? 0 : Number(body.slice(e + 1));
  const dot = mantissa.indexOf('.');
  const int = dot < 0 ? mantissa : mantissa.slice(0, dot);
  const frac = dot < 0 ? '' : mantissa.slice(dot + 1);
  let digits = int + frac;
  let exponent = exp - frac.length;
  const lead = digits.search(/[^0]/);
  if (lead < 0) return { negative, digits: '', exponent: 0 };
  digits = digits.slice(lead);
  const trail = digits.length - digits.replace(/0+$/, '').length;
  digits = digits.slice(0, digits.length - trail);
  exponent += trail;
  return { negative, digits, exponent };
}

function checkNumber(literal: string): void {
  const parsed = Number(literal);
  const want = decimal(literal);
  let exact: boolean;
  if (want.digits === '')
    exact = !want.negative; // zero; -0 is read back as 0 everywhere
  else if (!Number.isFinite(parsed) || parsed === 0) exact = false;
  else {
    const got = decimal(String(parsed));
    exact = got.negative === want.negative && got.digits === want.digits && got.exponent === want.exponent;
  }
  if (exact) return;
  const shown = literal.length > 40 ? `${literal.slice(0, 40)}…` : literal;
  throw new ValidationError(
    `The number ${shown} cannot be stored exactly (it would be read as ${Object.is(parsed, -0) ? '0' : String(parsed)}). Send numbers as JSON.stringify writes them (integers within ±2^53−1, decimals of at most double precision, no -0), or send the value as a string.`,
    { details: { number: shown } },
  );
}

/** The keys of a push that become stored text: client id, mutation ids, cell ids and fields. */
interface PushKeys {
  readonly clientId: string;
  readonly mutations: readonly {
    readonly id: string;
    readonly changes: readonly { readonly collection: string; readonly id: string; readonly field: string }[];
  }[];
}

/**
 * Throw a {@link ValidationError} (`invalid_input`, `details.field` = the path) when a key of a
 * push would not be stored exactly on every storage: U+0000 or a lone UTF-16 surrogate in the
 * client id, a mutation id, a document id or a field name, or a cell whose collection, id and
 * field together are over {@link CELL_KEY_MAX_BYTES}. Run before anything applies, so a
 * refused push changes nothing and its retry gets the same answer (never a storage error).
 */
export function checkPushKeys(req: PushKeys): void {
  checkKey(req.clientId, 'clientId');
  const ms = req.mutations;
  for (let i = 0; i < ms.length; i++) {
    const m = ms[i]!;
    checkKey(m.id, `mutations[${i}].id`);
    const cs = m.changes;
    let lastId: string | undefined;
    let lastField: string | undefined;
    for (let j = 0; j < cs.length; j++) {
      const c = cs[j]!;
      // Cells of one document repeat its id, and fields repeat across documents.
      if (c.id !== lastId) checkKey((lastId = c.id), `mutations[${i}].changes[${j}].id`);
      if (c.field !== lastField) checkKey((lastField = c.field), `mutations[${i}].changes[${j}].field`);
      checkCellKeySize(c, `mutations[${i}].changes[${j}]`);
    }
  }
}

/**
 * Most UTF-8 bytes of a cell's collection, id and field together. Postgres refuses an index
 * entry over 2704 bytes (its primary key on them), which used to answer a push 500
 * storage_failed on every retry while SQLite stored it; the same limit applies on every storage.
 */
export const CELL_KEY_MAX_BYTES = 2560;

/** Throw a {@link ValidationError} when a cell's collection, id and field are over {@link CELL_KEY_MAX_BYTES}. */
export function checkCellKeySize(
  c: { readonly collection: string; readonly id: string; readonly field: string },
  path: string,
): void {
  // At most 3 bytes per UTF-16 unit: short keys (nearly all) need no count.
  if ((c.collection.length + c.id.length + c.field.length) * 3 <= CELL_KEY_MAX_BYTES) return;
  const bytes = utf8Length(c.collection) + utf8Length(c.id) + utf8Length(c.field);
  if (bytes <= CELL_KEY_MAX_BYTES) return;
  throw new ValidationError(
    `${path}: its collection, id and field are ${bytes} bytes of UTF-8 together, over the limit of ${CELL_KEY_MAX_BYTES}; use a shorter id or field path (or fewer levels of nesting). Nothing was applied.`,
    { details: { field: path, bytes, maxBytes: CELL_KEY_MAX_BYTES } },
  );
}

/** Throw unless `key` (at `path`) is stored exactly by every storage (see {@link checkPushKeys}). */
export function checkKey(key: string, path: string): void {
  if (isExactKey(key)) return;
  throw new ValidationError(
    `${path} (${JSON.stringify(key.slice(0, 64))}) ${inexactKeyReason(key)}; nothing was applied.`,
    { details: { field: path } },
  );
}
