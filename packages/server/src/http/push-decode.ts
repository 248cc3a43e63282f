/**
 * A push body → PushRequest, fast. A push carries thousands of cells, and the general decoder
 * costs three passes over them: a scan of the text for its nesting depth, JSON.parse, then
 * the zod schema (whose per-element machinery costs several times the cell checks it runs).
 *
 * Here: JSON.parse first (V8's parser is iterative: deep text cannot overflow it), then one
 * pass over the parsed value that accepts only what `pushRequestSchema` accepts — every
 * cell through core `validateCell`, the same check the schema runs — and measures the
 * nesting depth on the value as it goes. Whatever it does not accept (bad input, unusual
 * shapes, a nesting limit too small for the common shape) is decoded again by the general
 * path, so every refusal is exactly the error it was (same code, same message).
 *
 * One difference is by design: a duplicate key's value, which JSON.parse drops, no longer
 * counts towards the nesting limit (the limit protects what walks the parsed value).
 */
import {
  decodeMessage,
  parseMessageText,
  PUSH_MUTATIONS_MAX,
  type PushRequest,
  pushRequestSchema,
  validateCell,
} from '@omnisync/core';

/** What `clientIdSchema` and `mutationIdSchema` allow (1-128). */
const ID_MAX = 128;
/** What the mutation schema allows for `name` (1-256). */
const NAME_MAX = 256;
/** Levels of the common shape: request, mutations, mutation, changes, cell. */
const SHAPE_DEPTH = 5;
/** Deeper limits go the general way: the depth walk below recurses up to the limit. */
const FAST_MAX_DEPTH = 256;

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Strings checked against a zod `min(1).max(max)`: that schema counts code points, at
 * most the UTF-16 length, so a length in 1..max passes it (longer ones are left to zod).
 */
const isShortString = (v: unknown, max: number): v is string =>
  typeof v === 'string' && v.length > 0 && v.length <= max;

/** Is `v` nested at most `levels` deep (arrays and objects; a scalar is 0)? Recurses at most `levels` + 1. */
function fits(v: unknown, levels: number): boolean {
  if (typeof v !== 'object' || v === null) return true;
  if (levels <= 0) return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) if (!fits(v[i], levels - 1)) return false;
    return true;
  }
  for (const k in v) if (!fits((v as Obj)[k], levels - 1)) return false;
  return true;
}

/** Does a cell pass `cellSchema` with everything in it within `levels` (the cell's own level excluded)? */
function isFastCell(cell: unknown, levels: number): boolean {
  if (!isObject(cell)) return false;
  for (const k in cell) {
    const v = cell[k];
    if (typeof v === 'object' && v !== null && !fits(v, levels)) return false;
  }
  try {
    validateCell(cell);
    return true;
  } catch {
    return false;
  }
}

/** Does a mutation pass `mutationSchema`, nested at most `levels` below itself? */
function isFastMutation(m: unknown, levels: number): boolean {
  if (!isObject(m)) return false;
  if (!isShortString(m.id, ID_MAX)) return false;
  if (m.name !== undefined && !isShortString(m.name, NAME_MAX)) return false;
  const changes = m.changes;
  if (!Array.isArray(changes)) return false;
  for (const k in m) {
    if (k === 'changes') continue;
    const v = m[k];
    // `args` may be any JSON value; other keys are stripped by the schema but count for depth.
    if (typeof v === 'object' && v !== null && !fits(v, levels)) return false;
  }
  const cellLevels = levels - 2; // below the changes array and the cell
  for (let i = 0; i < changes.length; i++) if (!isFastCell(changes[i], cellLevels)) return false;
  return true;
}

/** Is `v` a push request the schema accepts, nested at most `maxDepth` levels? */
function isFastPush(v: unknown, maxDepth: number): v is PushRequest {
  if (maxDepth < SHAPE_DEPTH || maxDepth > FAST_MAX_DEPTH || !isObject(v)) return false;
  if (!isShortString(v.clientId, ID_MAX)) return false;
  const mutations = v.mutations;
  if (!Array.isArray(mutations) || mutations.length > PUSH_MUTATIONS_MAX) return false;
  // A schema version the schema would refuse goes the general way (for its exact error).
  const sv = v.schemaVersion;
  if (
    sv !== undefined &&
    !(Number.isSafeInteger(sv) && (sv as number) >= 1 && (sv as number) <= 2_147_483_647)
  )
    return false;
  for (const k in v) {
    if (k === 'mutations') continue;
    const x = v[k];
    if (typeof x === 'object' && x !== null && !fits(x, maxDepth - 1)) return false;
  }
  const mutationLevels = maxDepth - 3; // below the request, the mutations array and the mutation
  for (let i = 0; i < mutations.length; i++) if (!isFastMutation(mutations[i], mutationLevels)) return false;
  return true;
}

/**
 * Decode a push request body (`bytes` = its UTF-8 size, already within `limits.maxBytes`).
 * Throws exactly what `decodeMessage(pushRequestSchema, parseMessageText(text, limits, bytes))`
 * throws, and returns a request that schema accepts (unknown keys are kept, not stripped;
 * nothing reads them).
 */
export function decodePushText(
  text: string,
  limits: { readonly maxBytes: number; readonly maxDepth: number },
  bytes: number,
): PushRequest {
  if (bytes <= limits.maxBytes) {
    let value: unknown;
    let parsed = true;
    try {
      value = JSON.parse(text);
    } catch {
      parsed = false;
    }
    if (parsed && isFastPush(value, limits.maxDepth)) return value;
  }
  return decodeMessage(pushRequestSchema, parseMessageText(text, limits, bytes), 'push request');
}
