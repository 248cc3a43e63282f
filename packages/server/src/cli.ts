#!/usr/bin/env node
/**
 * `omnisync serve --port 8787 --data ./data [--host 127.0.0.1] [--auth-secret …] [--jwks-url …]
 *  [--durability full|normal|off] [--log-level info] [--mutators ./mutators.js] [--schema ./schema.js]
 *  [--rules ./rules.js]
 *  [--rate-limit push=200/2000,pull=200/2000,snapshot=50/500,ws=1000/5000 | off]
 *  [--compact-keep <n> [--compact-every-ms <ms>]] [--postgres <url> [--pg-schema-prefix omnisync_]]`
 *
 * Starts the sync server on SQLite files in the data directory (one per app). Settings may
 * also come from the environment: OMNISYNC_PORT, OMNISYNC_HOST, OMNISYNC_DATA,
 * OMNISYNC_AUTH_SECRET, OMNISYNC_JWKS_URL, OMNISYNC_LOG_LEVEL, OMNISYNC_RATE_LIMIT,
 * OMNISYNC_ADMIN_TOKEN. SIGTERM/SIGINT shut down
 * gracefully (stop accepting, close sockets, finish commits, close databases); a second
 * signal exits at once.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { isRules, type Mutators, type Rules, type SchemaVersions } from '@omnisync/core';
import type { ServerSchema } from './engine/schema.js';
import { createLogger, type LogLevel } from './util/logger.js';
import { createServer } from './node/create-server.js';
import { createPostgresStorageFactory } from './storage/postgres-storage.js';
import { type CompactionOptions, resolveCompaction } from './engine/compaction.js';
import type { BucketLimit, RateLimitOptions } from './engine/rate-limit.js';
import type { Durability } from './storage/sqlite-storage.js';

const USAGE = `Usage: omnisync serve [options]

  --port <n>            port to listen on (default 8787; 0 = any free port)
  --host <addr>         address to bind (default 127.0.0.1; 0.0.0.0 for all interfaces)
  --data <dir>          directory of the per-app SQLite files (default ./data)
  --postgres <url>      store apps in this Postgres database instead (one schema per app),
                        e.g. postgres://user@127.0.0.1:5432/db (env OMNISYNC_PG_URL)
  --pg-schema-prefix <p>  schema of an app = prefix + app name (default omnisync_)
  --auth-secret <s>     accept HS256 JWTs signed with this secret
  --jwks-url <url>      accept JWTs signed by a key of this JWKS
  --durability <d>      full (default: fsync every commit) | normal | off
  --log-level <l>       fatal|error|warn|info|debug|trace|silent (default info)
  --mutators <module>   module exporting named mutators (default export or "mutators")
  --schema <module>     module exporting the app schema: defineSchema({...}) or a
                        defineSchemaVersions([...]) chain (default export, "versions" or "schema");
                        every pushed cell is validated with it, older clients' writes upcast
  --rules <module>      module exporting permission rules: defineRules({...}) (default export or
                        "rules"); every push, mutator and room join/event is checked with them,
                        a collection without rules is denied
  --unknown-collections reject|allow  with --schema: a push to a collection the schema does not
                        define is refused (default) or stored unvalidated
  --rate-limit <spec>   token buckets, rate per second / burst, e.g. push=200/2000,pull=200/2000,
                        snapshot=50/500,ws=1000/5000 (ws = messages per WebSocket connection);
                        name=off turns one off, "off" all; unnamed ones keep their defaults
  --compact-keep <n>    compact each app's change log on a timer, keeping its newest n entries
                        (clients further behind snapshot; tombstones stay); default: never
  --compact-every-ms <ms>  how often (default 60000)
  --metrics-token <t>   bearer token GET /metrics requires (env OMNISYNC_METRICS_TOKEN); with auth
                        on, /metrics is refused without one
  --admin-token <t>     bearer token of POST /v1/apps/:app/explain (why a document is or is not
                        visible/writable under --rules; env OMNISYNC_ADMIN_TOKEN); off without one
  -h, --help            this help

Without --auth-secret or --jwks-url the server is open to anyone (development mode).`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      data: { type: 'string' },
      'auth-secret': { type: 'string' },
      'jwks-url': { type: 'string' },
      durability: { type: 'string' },
      'log-level': { type: 'string' },
      mutators: { type: 'string' },
      schema: { type: 'string' },
      rules: { type: 'string' },
      'unknown-collections': { type: 'string' },
      'rate-limit': { type: 'string' },
      'compact-keep': { type: 'string' },
      postgres: { type: 'string' },
      'pg-schema-prefix': { type: 'string' },
      'compact-every-ms': { type: 'string' },
      'metrics-token': { type: 'string' },
      'admin-token': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help || positionals[0] !== 'serve') {
    (values.help ? console.log : console.error)(USAGE);
    return values.help ? 0 : 2;
  }
  const env = process.env;
  const port = Number(values.port ?? env.OMNISYNC_PORT ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    console.error(`--port must be an integer 0-65535, got ${values.port}`);
    return 2;
  }
  const durability = (values.durability ?? 'full') as Durability;
  if (!['full', 'normal', 'off'].includes(durability)) {
    console.error(`--durability must be full, normal or off, got ${durability}`);
    return 2;
  }
  const rateLimitSpec = values['rate-limit'] ?? env.OMNISYNC_RATE_LIMIT;
  let rateLimit: RateLimitOptions | false | undefined;
  if (rateLimitSpec !== undefined) {
    try {
      rateLimit = parseRateLimit(rateLimitSpec);
    } catch (err) {
      console.error(err instanceof Error ? err.message : String(err));
      return 2;
    }
  }
  const keep = values['compact-keep'] ?? env.OMNISYNC_COMPACT_KEEP;
  const every = values['compact-every-ms'] ?? env.OMNISYNC_COMPACT_EVERY_MS;
  if (every !== undefined && keep === undefined) {
    console.error(
      '--compact-every-ms needs --compact-keep <n> (how many change-log entries each app keeps).',
    );
    return 2;
  }
  let compaction: CompactionOptions | undefined;
  if (keep !== undefined) {
    try {
      compaction = resolveCompaction({
        keepChanges: Number(keep),
        ...(every !== undefined ? { everyMs: Number(every) } : {}),
      });
    } catch (err) {
      console.error(`--compact-keep/--compact-every-ms: ${err instanceof Error ? err.message : String(err)}`);
      return 2;
    }
  }
  const logger = createLogger((values['log-level'] ?? env.OMNISYNC_LOG_LEVEL) as LogLevel | undefined);
  const secret = values['auth-secret'] ?? env.OMNISYNC_AUTH_SECRET;
  const jwksUrl = values['jwks-url'] ?? env.OMNISYNC_JWKS_URL;
  let mutators: Mutators | undefined;
  if (values.mutators) {
    const mod = (await import(pathToFileURL(resolve(values.mutators)).href)) as {
      default?: Mutators;
      mutators?: Mutators;
    };
    mutators = mod.mutators ?? mod.default;
    if (!mutators || typeof mutators !== 'object') {
      console.error(
        `${values.mutators} exports no mutators (export default defineMutators({...}) or export const mutators).`,
      );
      return 2;
    }
    logger.info({ mutators: Object.keys(mutators) }, 'mutators loaded');
  }

  let schema: ServerSchema | undefined;
  if (values.schema) {
    const mod = (await import(pathToFileURL(resolve(values.schema)).href)) as Record<string, unknown>;
    const found = mod.default ?? mod.versions ?? mod.schema;
    const isSchema =
      typeof found === 'object' &&
      found !== null &&
      (typeof (found as { upcast?: unknown }).upcast === 'function' ||
        typeof (found as { has?: unknown }).has === 'function');
    if (!isSchema) {
      console.error(
        `${values.schema} exports no schema (export default defineSchema({...}) or defineSchemaVersions([...]), or export const schema / versions).`,
      );
      return 2;
    }
    schema = found as ServerSchema;
    const v = schema as Partial<SchemaVersions>;
    logger.info(
      v.current !== undefined ? { schemaVersion: v.current, oldestVersion: v.oldest } : {},
      'schema loaded',
    );
  }
  let rules: Rules | undefined;
  if (values.rules) {
    const mod = (await import(pathToFileURL(resolve(values.rules)).href)) as Record<string, unknown>;
    const found = mod.rules ?? mod.default;
    if (!isRules(found)) {
      console.error(
        `${values.rules} exports no rules: export default defineRules({...}) (or export const rules = defineRules({...})) with defineRules from @omnisync/core${found === undefined ? '' : `; its ${mod.rules !== undefined ? '"rules"' : 'default'} export is not a defineRules(...) result`}.`,
      );
      return 2;
    }
    rules = found;
    logger.info(
      { collections: [...rules.collections.keys()], rooms: rules.rooms !== undefined },
      'permission rules loaded',
    );
  }
  const unknownCollections = values['unknown-collections'];
  if (unknownCollections !== undefined && unknownCollections !== 'reject' && unknownCollections !== 'allow') {
    console.error(
      `--unknown-collections must be reject or allow, got ${JSON.stringify(unknownCollections)}.`,
    );
    return 2;
  }
  if (unknownCollections !== undefined && !schema) {
    console.error('--unknown-collections needs --schema <module>.');
    return 2;
  }

  const pgUrl = values.postgres ?? env.OMNISYNC_PG_URL;
  const pgPrefix = values['pg-schema-prefix'] ?? env.OMNISYNC_PG_SCHEMA_PREFIX;
  if (pgPrefix !== undefined && pgUrl === undefined) {
    console.error('--pg-schema-prefix needs --postgres <url>.');
    return 2;
  }
  if (pgUrl !== undefined && !/^postgres(ql)?:\/\//.test(pgUrl)) {
    console.error(`--postgres must be a postgres:// connection string, got ${JSON.stringify(pgUrl)}.`);
    return 2;
  }
  const metricsToken = values['metrics-token'] ?? env.OMNISYNC_METRICS_TOKEN;
  const adminToken = values['admin-token'] ?? env.OMNISYNC_ADMIN_TOKEN;
  const server = createServer({
    dataDir: values.data ?? env.OMNISYNC_DATA ?? './data',
    ...(pgUrl !== undefined
      ? {
          storage: createPostgresStorageFactory({
            connectionString: pgUrl,
            durability,
            ...(pgPrefix !== undefined ? { schemaPrefix: pgPrefix } : {}),
          }),
        }
      : {}),
    durability,
    logger,
    ...(secret || jwksUrl
      ? { auth: { ...(secret ? { secret } : {}), ...(jwksUrl ? { jwksUrl } : {}) } }
      : {}),
    ...(mutators ? { mutators } : {}),
    ...(schema ? { schema } : {}),
    ...(rules ? { rules } : {}),
    ...(unknownCollections !== undefined ? { unknownCollections } : {}),
    ...(rateLimit !== undefined ? { rateLimit } : {}),
    ...(compaction ? { compaction } : {}),
    ...(metricsToken ? { metricsToken } : {}),
    ...(adminToken ? { adminToken } : {}),
  });
  await server.listen(port, values.host ?? env.OMNISYNC_HOST ?? '127.0.0.1');

  return new Promise<number>((done) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) {
        logger.warn({ signal }, 'second signal: exiting now');
        done(1);
        return;
      }
      stopping = true;
      logger.info({ signal }, 'shutting down');
      server.close().then(
        () => done(0),
        (err: unknown) => {
          logger.error({ err }, 'shutdown failed');
          done(1);
        },
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}

const RATE_LIMIT_NAMES = { push: 'push', pull: 'pull', snapshot: 'snapshot', ws: 'liveMessages' } as const;

/** `push=200/2000,ws=off` → rate limit options; `off` → false. Throws a message saying what is wrong. */
function parseRateLimit(spec: string): RateLimitOptions | false {
  if (spec.trim() === 'off') return false;
  const out: RateLimitOptions = {};
  for (const part of spec.split(',')) {
    const m = /^\s*(\w+)\s*=\s*(?:(off)|([\d.]+)\s*(?:\/\s*(\d+))?)\s*$/.exec(part);
    const name = m?.[1] as keyof typeof RATE_LIMIT_NAMES | undefined;
    if (!m || !name || !Object.hasOwn(RATE_LIMIT_NAMES, name))
      throw new Error(
        `--rate-limit: cannot read ${JSON.stringify(part)}; write name=rate/burst (names push, pull, snapshot, ws; rate per second), name=off, or off.`,
      );
    let limit: BucketLimit | false = false;
    if (!m[2]) {
      const perSecond = Number(m[3]);
      const burst = m[4] === undefined ? Math.max(1, Math.ceil(perSecond)) : Number(m[4]);
      if (!(perSecond > 0) || !Number.isFinite(perSecond) || !(burst >= 1))
        throw new Error(
          `--rate-limit: ${name} needs a rate above 0 and a burst of at least 1, got ${JSON.stringify(part)}.`,
        );
      limit = { perSecond, burst };
    }
    out[RATE_LIMIT_NAMES[name]] = limit;
  }
  return out;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
