/**
 * A real PostGraphile v5 server for the GraphQL binding tests (test-only: the client never
 * depends on PostGraphile). It serves one Postgres schema of its own over HTTP and
 * graphql-ws on a loopback port, with the connection-filter preset, an Authorization check
 * (an HTTP request without the expected token is refused with 401, a WebSocket operation
 * without it fails) and one subscription field per table,
 * `<table>Changed`, fired by a trigger's `pg_notify` on every insert/update/delete, whose
 * payload carries `query: Query` so a subscriber re-reads its query in the same message.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { postgraphile } from 'postgraphile';
import { makePgService } from 'postgraphile/adaptors/pg';
import { context, listen, rootValue } from 'postgraphile/grafast';
import { defaultMaskError, httpError } from 'postgraphile/grafserv';
import { grafserv } from 'postgraphile/grafserv/node';
import { GraphQLError } from 'postgraphile/graphql';
import { jsonParse } from 'postgraphile/@dataplan/json';
import { PostGraphileAmberPreset } from 'postgraphile/presets/amber';
import { extendSchema, gql } from 'postgraphile/utils';
import { PostGraphileConnectionFilterPreset } from 'postgraphile-plugin-connection-filter';
import { dropSchemas, freshSchema, PG_URL } from '../../../server/test/helpers/pg-url.js';

// PostGraphile 5 targets Node 22; on Node 20 the one ES2024 method it calls is missing.
// This is the standard definition of `Promise.withResolvers` (a no-op where it exists).
if (typeof (Promise as { withResolvers?: unknown }).withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value<T>() {
      let resolve!: (v: T | PromiseLike<T>) => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
      return { promise, resolve, reject };
    },
  });
}

/** A running PostGraphile on its own schema. */
export interface PostGraphileServer {
  /** `http://127.0.0.1:<port>/graphql` */
  readonly url: string;
  /** `ws://127.0.0.1:<port>/graphql` */
  readonly wsUrl: string;
  readonly schema: string;
  /** A direct connection to the database: "another writer". */
  readonly db: pg.Client;
  /** The Authorization values the server saw, in order (`ws ` before those of WebSocket operations). */
  readonly seenAuth: string[];
  /** Drop every open WebSocket connection (the clients reconnect by themselves). */
  dropWebSockets(): number;
  /** Stop the server and drop its schema. */
  close(): Promise<void>;
}

/** The token the server accepts (`Authorization: Bearer <TOKEN>`). */
export const TOKEN_PREFIX = 'Bearer ok-';

/**
 * Errors as a deployment that wants its clients to tell "refused" from "try again" shows
 * them: a Postgres error keeps its SQLSTATE as `extensions.code` (and its message, not its
 * detail); everything else is masked as PostGraphile does by default.
 */
function maskError(error: GraphQLError): GraphQLError {
  const original = error.originalError as { code?: unknown; message?: string } | undefined;
  if (typeof original?.code === 'string' && /^[0-9A-Z]{5}$/.test(original.code))
    return new GraphQLError(original.message ?? 'database error', {
      ...(error.path ? { path: error.path } : {}),
      extensions: { code: original.code },
    });
  return defaultMaskError(error);
}

/** Start PostGraphile on a fresh schema holding `todos (id, title, completed, n)`. */
export async function startPostGraphile(
  options: {
    /** Largest request body in bytes (grafserv's default is 100 kB). */ maxRequestLength?: number;
  } = {},
): Promise<PostGraphileServer> {
  const schema = freshSchema('gql');
  const topic = `${schema}:todos`;
  const db = new pg.Client({ connectionString: PG_URL });
  await db.connect();
  await db.query(`
    CREATE SCHEMA ${schema};
    CREATE TABLE ${schema}.todos (
      id text PRIMARY KEY,
      title text NOT NULL CHECK (title <> 'forbidden'),
      completed boolean NOT NULL DEFAULT false,
      n integer NOT NULL DEFAULT 0
    );
    CREATE FUNCTION ${schema}.todos_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('${topic}', json_build_object('op', TG_OP, 'id', COALESCE(NEW.id, OLD.id))::text);
      RETURN NULL;
    END $$;
    CREATE TRIGGER todos_notify AFTER INSERT OR UPDATE OR DELETE ON ${schema}.todos
      FOR EACH ROW EXECUTE FUNCTION ${schema}.todos_notify();
    -- PostGraphile 5 offers filtering and ordering on indexed columns only.
    CREATE INDEX ON ${schema}.todos (title);
    CREATE INDEX ON ${schema}.todos (completed);
    CREATE INDEX ON ${schema}.todos (n);
  `);

  const seenAuth: string[] = [];
  const sockets = new Set<{ terminate(): void; readyState: number }>();
  const TodosChangedPlugin = extendSchema((build) => {
    const todos = build.input.pgRegistry.pgResources.todos!;
    return {
      typeDefs: gql`
        type TodosChangedPayload {
          op: String
          id: String
          todo: Todo
          query: Query
        }
        extend type Subscription {
          todosChanged: TodosChangedPayload
        }
      `,
      objects: {
        Subscription: {
          plans: {
            todosChanged: {
              subscribePlan() {
                return listen(context().get('pgSubscriber'), topic, jsonParse);
              },
              plan($e: any) {
                return $e;
              },
            },
          },
        },
        TodosChangedPayload: {
          plans: {
            op: ($e: any) => $e.get('op'),
            id: ($e: any) => $e.get('id'),
            // Read through PostGraphile (permissions apply); null once the row is gone.
            todo: ($e: any) => todos.get({ id: $e.get('id') }),
            query: () => rootValue(),
          },
        },
      },
    };
  });

  // HTTP requests without the token are refused with 401 before GraphQL runs.
  const AuthPlugin: GraphileConfig.Plugin = {
    name: 'TestAuthPlugin',
    version: '0.0.0',
    grafserv: {
      middleware: {
        processRequest(next, event) {
          const h = event.requestDigest.headers;
          const auth = Object.entries(h).find(([k]) => k.toLowerCase() === 'authorization')?.[1];
          if (auth?.startsWith(TOKEN_PREFIX)) return next();
          return {
            type: 'json',
            statusCode: 401,
            headers: { 'content-type': 'application/json' },
            json: { errors: [{ message: 'Unauthorized: send Authorization: Bearer ok-…' }] },
          };
        },
      },
    },
  };

  const preset: GraphileConfig.Preset = {
    extends: [PostGraphileAmberPreset, PostGraphileConnectionFilterPreset],
    plugins: [TodosChangedPlugin, AuthPlugin],
    pgServices: [makePgService({ connectionString: PG_URL, schemas: [schema], pubsub: true })],
    grafserv: {
      websockets: true,
      graphqlPath: '/graphql',
      maskError,
      ...(options.maxRequestLength ? { maxRequestLength: options.maxRequestLength } : {}),
    },
    grafast: {
      context(ctx: any) {
        const auth: string | undefined =
          ctx.http?.getHeader('authorization') ?? ctx.ws?.normalizedConnectionParams?.authorization;
        seenAuth.push(`${ctx.ws ? 'ws ' : ''}${auth ?? ''}`);
        if (ctx.ws?.socket) sockets.add(ctx.ws.socket);
        if (!auth?.startsWith(TOKEN_PREFIX))
          throw httpError(401, 'Unauthorized: send Authorization: Bearer ok-…');
        return {};
      },
    },
  };
  const pgl = postgraphile(preset);
  const serv = pgl.createServ(grafserv);
  const server: Server = createServer();
  await serv.addTo(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    schema,
    db,
    seenAuth,
    dropWebSockets() {
      let n = 0;
      for (const s of sockets)
        if (s.readyState === 1) {
          s.terminate();
          n++;
        }
      sockets.clear();
      return n;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await pgl.release();
      await db.end();
      await dropSchemas(schema);
    },
  };
}
