/**
 * `@omnisync/client/graphql`: the GraphQL binding (Hasura and PostGraphile dialects, live
 * queries over graphql-ws). A subpath of its own so that `graphql` and `graphql-ws` are
 * optional peer dependencies: an app that does not talk GraphQL never installs them.
 * @example
 * import { GraphQLBinding } from '@omnisync/client/graphql';
 * const todos = new GraphQLBinding<Todo>({ dialect: 'postgraphile', endpoint: '/graphql' });
 */
export { GraphQLBinding } from './sources/bindings/graphql-binding.js';
export type { GraphQLBindingOptions } from './sources/bindings/graphql-binding.js';
