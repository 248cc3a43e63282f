/**
 * Best-effort discovery of `Date` fields in foreign (zod 4, valibot, arktype) object
 * schemas. Why: a date is stored as an ISO string, so when it is read back it must become
 * a `Date` again or the app's own schema (`z.date()`) would refuse the next update of that
 * document. Declaring `fields: { due: t.date() }` always works; this spares users the
 * declaration in the common cases. Anything not recognised is simply not inferred.
 */

type Any = any;

/** Dotted paths of the fields in `schema` (an object schema) whose values are Dates. */
export function inferDateFields(schema: unknown): string[] {
  const out: string[] = [];
  try {
    const vendor = (schema as Any)?.['~standard']?.vendor;
    if (vendor === 'zod') walkZod(schema, '', out, 0);
    else if (vendor === 'valibot') walkValibot(schema, '', out, 0);
    else if (vendor === 'arktype') walkArk((schema as Any).json, '', out, 0);
  } catch {
    // Internals we did not expect: infer nothing rather than guess.
    return [];
  }
  return out;
}

const MAX_DEPTH = 8;
const join = (prefix: string, key: string) => (prefix ? `${prefix}.${key}` : key);

// zod 4: `_zod.def.type` with `innerType` for optional/nullable/default/…; objects have `shape`.
const ZOD_WRAPPERS = new Set([
  'optional',
  'nullable',
  'default',
  'prefault',
  'catch',
  'readonly',
  'nonoptional',
]);
function unwrapZod(s: Any): Any {
  let def = s?._zod?.def;
  for (let i = 0; def && ZOD_WRAPPERS.has(def.type) && i < 10; i++) def = def.innerType?._zod?.def;
  return def;
}
function walkZod(s: Any, prefix: string, out: string[], depth: number) {
  const def = unwrapZod(s);
  if (def?.type !== 'object' || depth > MAX_DEPTH) return;
  for (const [k, f] of Object.entries<Any>(def.shape ?? {})) {
    const d = unwrapZod(f);
    if (d?.type === 'date') out.push(join(prefix, k));
    else if (d?.type === 'object') walkZod(f, join(prefix, k), out, depth + 1);
  }
}

// valibot: `type` with `wrapped` for optional/nullable/nullish; objects have `entries`.
const VALIBOT_WRAPPERS = new Set([
  'optional',
  'exact_optional',
  'nullable',
  'nullish',
  'non_optional',
  'non_nullable',
  'non_nullish',
  'undefinedable',
]);
const VALIBOT_OBJECTS = new Set(['object', 'loose_object', 'strict_object', 'object_with_rest']);
function unwrapValibot(s: Any): Any {
  for (let i = 0; s && VALIBOT_WRAPPERS.has(s.type) && i < 10; i++) s = s.wrapped;
  return s;
}
function walkValibot(s: Any, prefix: string, out: string[], depth: number) {
  s = unwrapValibot(s);
  if (!VALIBOT_OBJECTS.has(s?.type) || depth > MAX_DEPTH) return;
  for (const [k, f] of Object.entries<Any>(s.entries ?? {})) {
    const u = unwrapValibot(f);
    if (u?.type === 'date') out.push(join(prefix, k));
    else if (VALIBOT_OBJECTS.has(u?.type)) walkValibot(u, join(prefix, k), out, depth + 1);
  }
}

// arktype: the `json` form; a Date is "Date" or { proto: "Date" }, a union is an array
// (only Date-or-null unions count: Date | string is not a date field).
function arkIsDate(v: Any): boolean {
  if (v === 'Date' || v?.proto === 'Date') return true;
  if (Array.isArray(v))
    return (
      v.some(arkIsDate) &&
      v.every(
        (b: Any) => arkIsDate(b) || (b !== null && typeof b === 'object' && 'unit' in b && b.unit === null),
      )
    );
  return false;
}
function walkArk(j: Any, prefix: string, out: string[], depth: number) {
  if (j?.domain !== 'object' || depth > MAX_DEPTH) return;
  for (const p of [...(j.required ?? []), ...(j.optional ?? [])]) {
    if (typeof p?.key !== 'string') continue;
    if (arkIsDate(p.value)) out.push(join(prefix, p.key));
    else if (p.value?.domain === 'object') walkArk(p.value, join(prefix, p.key), out, depth + 1);
  }
}
