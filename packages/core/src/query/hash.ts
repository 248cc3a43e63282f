/**
 * Stable query identity (seed 000): a deterministic string per normalised query, the key
 * of the live query registry. A filter of plain equalities hashes in the seed's form,
 * `todos:{"completed":false}`; every other query as `collection:` + the canonical JSON of
 * the rest of its AST, e.g. `todos:{"limit":10,"orderBy":[{"dir":"desc","field":"created_at"}],"where":{…}}`.
 *
 * The two forms cannot collide: the short form is used only when no equality field is an
 * AST key (`where`, `limit`, …), and the full form only ever has AST keys.
 */
import { type Predicate, QUERY_KEYS, type QueryAst } from './ast.js';
import { canonicalJson } from './values.js';

function equalityMap(where: Predicate): Record<string, unknown> | undefined {
  const terms = where.op === 'and' ? where.args : [where];
  if (terms.length === 0) return undefined;
  const map: Record<string, unknown> = {};
  for (const t of terms) {
    if (t.op !== 'eq' || QUERY_KEYS.has(t.field) || Object.hasOwn(map, t.field)) return undefined;
    map[t.field] = t.value;
  }
  return map;
}

/** The stable hash of a normalised query (see {@link validateQuery}). */
export function queryHash(ast: QueryAst): string {
  const { collection, ...rest } = ast;
  const keys = Object.keys(rest);
  if (keys.length === 1 && rest.where !== undefined) {
    const map = equalityMap(rest.where);
    if (map) return `${collection}:${canonicalJson(map)}`;
  }
  return `${collection}:${canonicalJson(rest)}`;
}
