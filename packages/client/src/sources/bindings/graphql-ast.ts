/**
 * @internal The GraphQL documents of the binding are built as ASTs of the `graphql`
 * package and printed with its printer: names are checked identifiers, values never appear
 * in the text (they travel as variables).
 */
import {
  type ArgumentNode,
  type DocumentNode,
  type FieldNode,
  Kind,
  type NameNode,
  OperationTypeNode,
  parseType,
  type SelectionNode,
  type ValueNode,
  type VariableDefinitionNode,
} from 'graphql';
import { checkIdentifier } from './http-binding.js';

/** @internal A checked name node. */
export const nameNode = (value: string): NameNode => ({
  kind: Kind.NAME,
  value: checkIdentifier(value, 'GraphQL name'),
});

/** @internal `$name` as a value. */
export const variable = (name: string): ValueNode => ({ kind: Kind.VARIABLE, name: nameNode(name) });

/** @internal `{ a: $x, b: $y }` as a value (only variables inside: no literal values). */
export const objectOf = (fields: Record<string, ValueNode>): ValueNode => ({
  kind: Kind.OBJECT,
  fields: Object.entries(fields).map(([k, v]) => ({ kind: Kind.OBJECT_FIELD, name: nameNode(k), value: v })),
});

/** @internal `name: value` arguments. */
export const argsOf = (args: Record<string, ValueNode>): ArgumentNode[] =>
  Object.entries(args).map(([k, v]) => ({ kind: Kind.ARGUMENT, name: nameNode(k), value: v }));

/** @internal A field with optional alias, arguments and sub-selection. */
export function field(
  name: string,
  options: {
    alias?: string;
    args?: Record<string, ValueNode>;
    select?: readonly (string | FieldNode)[];
  } = {},
): FieldNode {
  const out: { -readonly [K in keyof FieldNode]: FieldNode[K] } = { kind: Kind.FIELD, name: nameNode(name) };
  if (options.alias !== undefined) out.alias = nameNode(options.alias);
  if (options.args !== undefined && Object.keys(options.args).length > 0)
    out.arguments = argsOf(options.args);
  if (options.select !== undefined)
    out.selectionSet = {
      kind: Kind.SELECTION_SET,
      selections: options.select.map((s): SelectionNode => (typeof s === 'string' ? field(s) : s)),
    };
  return out;
}

/**
 * @internal Variable declarations from `{ name: 'Type!' }`. The type text is parsed by
 * `graphql`'s type parser after its names are checked, so it can only be a type.
 */
export function variableDefinitions(types: Record<string, string>): VariableDefinitionNode[] {
  return Object.entries(types).map(([name, type]) => {
    for (const part of type.match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? []) checkIdentifier(part, 'GraphQL type');
    return { kind: Kind.VARIABLE_DEFINITION, variable: variable(name) as never, type: parseType(type) };
  });
}

/** @internal One operation document. */
export function operation(
  kind: 'query' | 'mutation' | 'subscription',
  types: Record<string, string>,
  selections: readonly FieldNode[],
): DocumentNode {
  const operationKind =
    kind === 'query'
      ? OperationTypeNode.QUERY
      : kind === 'mutation'
        ? OperationTypeNode.MUTATION
        : OperationTypeNode.SUBSCRIPTION;
  return {
    kind: Kind.DOCUMENT,
    definitions: [
      {
        kind: Kind.OPERATION_DEFINITION,
        operation: operationKind,
        variableDefinitions: variableDefinitions(types),
        selectionSet: { kind: Kind.SELECTION_SET, selections },
      },
    ],
  };
}
