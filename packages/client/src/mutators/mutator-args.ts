/**
 * The args of a named mutation travel to the server as JSON and are kept in the outbox as
 * JSON, and the server re-runs the mutator with what arrives. So the client runs it with the
 * same JSON too: a copy checked here, never the caller's object (a Date or a Map would be a
 * different value on the other side; a caller changing its object later must not change a
 * queued mutation).
 */
import { InvalidValueError, type JsonValue, VALUE_MAX_DEPTH } from '@omnisync/core';

/**
 * A JSON copy of `args` (undefined stays undefined: no args). Object keys whose value is
 * `undefined` are left out, as JSON does. Throws {@link InvalidValueError} naming the path of
 * the first value JSON cannot carry as it is.
 */
export function toJsonArgs(mutator: string, args: unknown): JsonValue | undefined {
  if (args === undefined) return undefined;
  const seen = new Set<object>();
  const bad = (path: string, what: string): never => {
    throw new InvalidValueError(
      `mutate(${JSON.stringify(mutator)}): ${path} is ${what}. The args of a named mutation go to the server as JSON: pass plain objects, arrays, strings, finite numbers, booleans and null (a date as date.toISOString()).`,
      { details: { mutator, path } },
    );
  };
  const copy = (v: unknown, path: string, depth: number): JsonValue => {
    switch (typeof v) {
      case 'string':
      case 'boolean':
        return v;
      case 'number':
        return Number.isFinite(v) ? v : bad(path, String(v));
      case 'object':
        break;
      default:
        return bad(path, `a ${typeof v}`);
    }
    if (v === null) return null;
    if (depth >= VALUE_MAX_DEPTH) return bad(path, `nested deeper than ${VALUE_MAX_DEPTH} levels`);
    if (seen.has(v)) return bad(path, 'a circular reference');
    seen.add(v);
    try {
      if (Array.isArray(v)) {
        const out: JsonValue[] = new Array(v.length);
        for (let i = 0; i < v.length; i++) {
          const item: unknown = v[i];
          out[i] =
            item === undefined
              ? bad(`${path}[${i}]`, 'undefined (a JSON array has no undefined; use null)')
              : copy(item, `${path}[${i}]`, depth + 1);
        }
        return out;
      }
      const proto: unknown = Object.getPrototypeOf(v);
      if (proto !== Object.prototype && proto !== null)
        return bad(path, `a ${(v as object).constructor?.name ?? 'non-plain object'}, not a plain object`);
      const entries: [string, JsonValue][] = [];
      for (const k of Object.keys(v)) {
        const item = (v as Record<string, unknown>)[k];
        if (item !== undefined) entries.push([k, copy(item, `${path}.${k}`, depth + 1)]);
      }
      // fromEntries defines own properties: a "__proto__" key stays a key, as in JSON.parse.
      return Object.fromEntries(entries);
    } finally {
      seen.delete(v);
    }
  };
  return copy(args, 'args', 0);
}
