/**
 * @internal The two GraphQL naming schemes the binding speaks, as document builders:
 *
 * - `hasura`: `todos(where, order_by, limit, offset)`, `todos_by_pk(id)`,
 *   `insert_todos_one(object)`, `update_todos_by_pk(pk_columns, _set)`,
 *   `delete_todos_by_pk(id)`, live queries as `subscription { todos(…) }`;
 * - `postgraphile` (v5, Amber preset + connection filter): `allTodos(filter, orderBy: [N_ASC],
 *   first, offset) { nodes }`, `todoByRowId(rowId)`, `createTodo(input: { todo })`,
 *   `updateTodoByRowId(input: { rowId, todoPatch })`, `deleteTodoByRowId(input: { rowId })`,
 *   and a change feed `subscription { todosChanged { op id todo { … } } }`.
 */
import type { DocumentNode, FieldNode } from 'graphql';
import type { QueryOptions } from './binding.js';
import { field, objectOf, operation, variable } from './graphql-ast.js';
import { checkIdentifier } from './http-binding.js';

/** @internal The names of one collection on the GraphQL server. */
export interface GraphQLNames {
  /** Hasura's root field (the table). */
  readonly table: string;
  /** PostGraphile's type name (`Todo`). */
  readonly typeName: string;
  /** PostGraphile's plural type name (`Todos`). */
  readonly pluralTypeName: string;
  /** The remote name of the primary key field. */
  readonly id: string;
  /** The GraphQL type of the primary key (`String`, `Int`, `UUID`…). */
  readonly idType: string;
  /** The remote names of every selected field (the key first). */
  readonly select: readonly string[];
  /** Local field name → remote field name. */
  readonly remote: (field: string) => string;
  /** PostGraphile's change-feed subscription field (`todosChanged`). */
  readonly changeField: string;
}

/** @internal One write of a mutation document. */
export interface WriteOp {
  readonly kind: 'insert' | 'update' | 'delete';
  readonly id: string | number;
  /** Remote field names → values. */
  readonly fields: Record<string, unknown>;
}

/** @internal A document with its variables and where its answer's rows are. */
export interface BuiltOperation {
  readonly document: DocumentNode;
  readonly variables: Record<string, unknown>;
  /** The root field of the answer. */
  readonly root: string;
  /** Rows are under `root.nodes` (a Relay connection) rather than at `root`. */
  readonly nodes: boolean;
}

/** @internal A live subscription: the query's `rows` each time, or one changed row per event. */
export interface LiveOperation extends BuiltOperation {
  readonly mode: 'rows' | 'changes';
  /** With `changes`: the payload field holding the row (null when it was deleted). */
  readonly rowField?: string;
}

/** @internal A naming scheme. */
export interface GraphQLDialect {
  read(n: GraphQLNames, options: QueryOptions): BuiltOperation;
  /**
   * Runs all mutation fields of one document in one database transaction (Hasura does;
   * PostGraphile 5 runs each field in its own).
   */
  readonly atomic: boolean;
  /** The rows among `ids` that exist on the server, with `select` (default: the key only). */
  existing(n: GraphQLNames, ids: readonly (string | number)[], select?: readonly string[]): BuiltOperation;
  write(n: GraphQLNames, ops: readonly WriteOp[]): BuiltOperation;
  /** A live subscription: `rows` (the query's rows each time) or `changes` (one row per event). */
  live(n: GraphQLNames, options: QueryOptions): LiveOperation;
  /** graphql-ws `connectionParams` carrying the request headers. */
  connectionParams(headers: Record<string, string>): Record<string, unknown>;
}

const lowerFirst = (s: string) => s.charAt(0).toLowerCase() + s.slice(1);
const upperFirst = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
/** `rowId` → `ROW_ID` (PostGraphile's order-by enum values). */
const constantCase = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();

/** Equality and `_in` predicates of a where, as `{ remoteField: [operator, value] }`. */
function predicates(
  n: GraphQLNames,
  where: Record<string, unknown> | undefined,
): [string, 'eq' | 'in', unknown][] {
  const out: [string, 'eq' | 'in', unknown][] = [];
  for (const [f, v] of Object.entries(where ?? {})) {
    if (f.startsWith('_')) continue; // predicates the binding does not translate are filtered locally
    const remote = n.remote(checkIdentifier(f, 'GraphQL field'));
    if (v !== null && typeof v === 'object' && '_in' in v)
      out.push([remote, 'in', (v as { _in: unknown })._in]);
    else out.push([remote, 'eq', v]);
  }
  return out;
}

function windowArgs(
  options: QueryOptions,
  limitName: string,
  types: Record<string, string>,
  args: Record<string, ReturnType<typeof variable>>,
  variables: Record<string, unknown>,
): void {
  if (options.limit !== undefined) {
    types[limitName] = 'Int';
    args[limitName] = variable(limitName);
    variables[limitName] = options.limit;
  }
  if (options.offset !== undefined) {
    types.offset = 'Int';
    args.offset = variable('offset');
    variables.offset = options.offset;
  }
}

/** @internal Hasura's naming (the binding's default). */
export const hasuraDialect: GraphQLDialect = {
  atomic: true,
  read(n, options) {
    if (options.pk !== undefined) {
      const root = `${n.table}_by_pk`;
      const sel = field(root, { args: { [n.id]: variable('id') }, select: n.select });
      return {
        document: operation('query', { id: `${n.idType}!` }, [sel]),
        variables: { id: options.pk },
        root,
        nodes: false,
      };
    }
    return { ...hasuraList(n, options, 'query'), nodes: false };
  },
  existing(n, ids, select = [n.id]) {
    const sel = field(n.table, { args: { where: variable('where') }, select });
    return {
      document: operation('query', { where: `${n.table}_bool_exp` }, [sel]),
      variables: { where: { [n.id]: { _in: ids } } },
      root: n.table,
      nodes: false,
    };
  },
  write(n, ops) {
    const types: Record<string, string> = {};
    const variables: Record<string, unknown> = {};
    const fields: FieldNode[] = ops.map((op, i) => {
      const k = i + 1;
      const alias = `m${k}`;
      if (op.kind === 'delete') {
        types[`id${k}`] = `${n.idType}!`;
        variables[`id${k}`] = op.id;
        return field(`delete_${n.table}_by_pk`, {
          alias,
          args: { [n.id]: variable(`id${k}`) },
          select: [n.id],
        });
      }
      if (op.kind === 'insert') {
        types[`o${k}`] = `${n.table}_insert_input!`;
        variables[`o${k}`] = { ...op.fields, [n.id]: op.id };
        return field(`insert_${n.table}_one`, { alias, args: { object: variable(`o${k}`) }, select: [n.id] });
      }
      types[`id${k}`] = `${n.idType}!`;
      types[`s${k}`] = `${n.table}_set_input!`;
      variables[`id${k}`] = op.id;
      variables[`s${k}`] = op.fields;
      return field(`update_${n.table}_by_pk`, {
        alias,
        args: { pk_columns: objectOf({ [n.id]: variable(`id${k}`) }), _set: variable(`s${k}`) },
        select: [n.id],
      });
    });
    return { document: operation('mutation', types, fields), variables, root: 'm1', nodes: false };
  },
  live(n, options) {
    return { ...hasuraList(n, options, 'subscription'), nodes: false, mode: 'rows' };
  },
  connectionParams: (headers) => ({ headers }),
};

function hasuraList(n: GraphQLNames, options: QueryOptions, kind: 'query' | 'subscription') {
  const types: Record<string, string> = {};
  const args: Record<string, ReturnType<typeof variable>> = {};
  const variables: Record<string, unknown> = {};
  const preds = predicates(n, options.where);
  if (options.where !== undefined) {
    types.where = `${n.table}_bool_exp`;
    args.where = variable('where');
    variables.where = Object.fromEntries(
      preds.map(([f, op, v]) => [f, op === 'in' ? { _in: v } : { _eq: v }]),
    );
  }
  if (options.orderBy !== undefined) {
    types.order_by = `[${n.table}_order_by!]`;
    args.order_by = variable('order_by');
    variables.order_by = Object.entries(options.orderBy).map(([f, d]) => ({
      [n.remote(checkIdentifier(f, 'GraphQL field'))]: d,
    }));
  }
  windowArgs(options, 'limit', types, args, variables);
  const sel = field(n.table, { args, select: n.select });
  return { document: operation(kind, types, [sel]), variables, root: n.table };
}

/** @internal PostGraphile v5's naming (Amber preset, connection-filter preset). */
export const postgraphileDialect: GraphQLDialect = {
  atomic: false,
  read(n, options) {
    if (options.pk !== undefined) {
      const root = `${lowerFirst(n.typeName)}By${upperFirst(n.id)}`;
      const sel = field(root, { args: { [n.id]: variable('id') }, select: n.select });
      return {
        document: operation('query', { id: `${n.idType}!` }, [sel]),
        variables: { id: options.pk },
        root,
        nodes: false,
      };
    }
    const types: Record<string, string> = {};
    const args: Record<string, ReturnType<typeof variable>> = {};
    const variables: Record<string, unknown> = {};
    if (options.where !== undefined) {
      types.filter = `${n.typeName}Filter`;
      args.filter = variable('filter');
      variables.filter = Object.fromEntries(
        predicates(n, options.where).map(([f, op, v]) => [f, op === 'in' ? { in: v } : { equalTo: v }]),
      );
    }
    if (options.orderBy !== undefined) {
      types.orderBy = `[${n.typeName}OrderBy!]`;
      args.orderBy = variable('orderBy');
      variables.orderBy = Object.entries(options.orderBy).map(
        ([f, d]) =>
          `${constantCase(n.remote(checkIdentifier(f, 'GraphQL field')))}_${d === 'desc' ? 'DESC' : 'ASC'}`,
      );
    }
    windowArgs(options, 'first', types, args, variables);
    return pgList(n, types, args, variables, n.select);
  },
  existing(n, ids, select = [n.id]) {
    return pgList(
      n,
      { filter: `${n.typeName}Filter` },
      { filter: variable('filter') },
      { filter: { [n.id]: { in: ids } } },
      select,
    );
  },
  write(n, ops) {
    const types: Record<string, string> = {};
    const variables: Record<string, unknown> = {};
    const t = n.typeName;
    const row = lowerFirst(t);
    const by = `By${upperFirst(n.id)}`;
    const fields: FieldNode[] = ops.map((op, i) => {
      const k = `i${i + 1}`;
      const [name, inputType, input] =
        op.kind === 'delete'
          ? [`delete${t}${by}`, `Delete${t}${by}Input!`, { [n.id]: op.id }]
          : op.kind === 'insert'
            ? [`create${t}`, `Create${t}Input!`, { [row]: { ...op.fields, [n.id]: op.id } }]
            : [`update${t}${by}`, `Update${t}${by}Input!`, { [n.id]: op.id, [`${row}Patch`]: op.fields }];
      types[k] = inputType;
      variables[k] = input;
      return field(name, { alias: `m${i + 1}`, args: { input: variable(k) }, select: ['clientMutationId'] });
    });
    return { document: operation('mutation', types, fields), variables, root: 'm1', nodes: false };
  },
  live(n) {
    const sel = field(n.changeField, {
      select: ['op', 'id', field(lowerFirst(n.typeName), { select: n.select })],
    });
    return {
      document: operation('subscription', {}, [sel]),
      variables: {},
      root: n.changeField,
      nodes: false,
      mode: 'changes',
      rowField: lowerFirst(n.typeName),
    };
  },
  connectionParams: (headers) => ({ ...headers }),
};

function pgList(
  n: GraphQLNames,
  types: Record<string, string>,
  args: Record<string, ReturnType<typeof variable>>,
  variables: Record<string, unknown>,
  select: readonly string[],
): BuiltOperation {
  const root = `all${n.pluralTypeName}`;
  const sel = field(root, { args, select: [field('nodes', { select })] });
  return { document: operation('query', types, [sel]), variables, root, nodes: true };
}
