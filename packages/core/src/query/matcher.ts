/**
 * A query's filter as one compiled closure: what `engine.matches` runs, and what a server
 * runs to decide which documents a client's query covers (pull/snapshot filtering and
 * targeted fan-out). One evaluator for client, server and oracle-checked tests.
 */
import type { QueryAst } from './ast.js';
import { compileComparator, type DocPredicate } from './compile.js';
import { listPredicate } from './list-view.js';

/**
 * Compile the filter of a validated query (see {@link validateQuery}): its `where`, its
 * `after` cursor and, for a get, the id. Windows (limit/offset), order, includes and
 * aggregates do not filter documents and are ignored.
 * @example
 * const test = compileQueryFilter(q('todos').where('priority', '>', 3).ast);
 * test({ id: 'a', priority: 5 }); // true
 */
export function compileQueryFilter(ast: QueryAst): DocPredicate {
  const base = listPredicate(ast, compileComparator(ast.orderBy ?? []));
  const id = ast.get;
  return id === undefined ? base : (d) => d.id === id && base(d);
}
