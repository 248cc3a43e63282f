/**
 * The building blocks every protocol message shares: cells, queries, mutations and their
 * results, wire errors. One zod schema each; the TypeScript types are inferred from them.
 */
import * as z from 'zod/mini';
import { ID_MAX_LENGTH, type JsonValue, NAME_MAX_LENGTH, validateCell } from '../cells.js';
import { OmniSyncError } from '../errors.js';
import { type WireQuery, wireQueryToAst } from './sync-query.js';

/** Key under which a schema refinement stashes the typed error it caught (see codec.ts). */
export const TYPED_ERROR_PARAM = 'omnisyncError';

/** Any JSON value. JSON.parse only ever produces JSON, so the check is on shape elsewhere. */
export const jsonValueSchema = z.custom<JsonValue>((v) => v !== undefined, {
  message: 'expected a JSON value',
});

/** A non-negative safe integer: a server change-log version. */
export const cursorSchema = z.int().check(z.nonnegative());

/** A schema version a client writes (see defineSchemaVersions): an integer ≥ 1. */
export const schemaVersionSchema = z.int().check(z.minimum(1), z.maximum(2_147_483_647));

/** Client and mutation ids: 1-128 characters. */
export const clientIdSchema = z.string().check(z.minLength(1), z.maxLength(128));
/** A mutation id, unique per client; the push idempotency key is (clientId, id). */
export const mutationIdSchema = z.string().check(z.minLength(1), z.maxLength(128));

/** The shape of a cell on the wire (documentation and type source; see {@link cellSchema}). */
export const cellShapeSchema = z.object({
  collection: z.string(),
  id: z.string(),
  field: z.string(),
  value: z.optional(jsonValueSchema),
  hlc: z.string(),
});
/**
 * A document named by collection and id: the `evicted` lists of pull answers and live
 * `changes` (issue 13, rules on reads). An evicted document is one the caller could read and
 * now may not (it changed so the read rule no longer admits it): the client forgets it
 * (synced base and live queries, not its outbox) instead of receiving the change.
 */
export const docKeySchema = z.object({
  collection: z.string().check(z.minLength(1), z.maxLength(NAME_MAX_LENGTH)),
  id: z.string().check(z.minLength(1), z.maxLength(ID_MAX_LENGTH)),
});
/** A document key on the wire. */
export type WireDocKey = z.infer<typeof docKeySchema>;
/** Documents to forget; absent when none (servers without rules never send it). */
export const evictedSchema = z.optional(z.array(docKeySchema));

/** A cell as sent and received: `{collection, id, field, value?, hlc}`; a missing `value` unsets the field. */
export type WireCell = z.infer<typeof cellShapeSchema>;

/**
 * A cell on the wire, checked by core `validateCell` (the one authority on cells), whose
 * typed error (invalid_cell, invalid_value) is what the decoder throws. The cell object is
 * passed through as received, not copied: pushes carry many thousands of cells.
 */
export const cellSchema = z.custom<WireCell>().check(
  z.superRefine((cell, ctx) => {
    try {
      validateCell(cell);
    } catch (err) {
      ctx.addIssue({
        code: 'custom',
        message: err instanceof Error ? err.message : String(err),
        params: err instanceof OmniSyncError ? { [TYPED_ERROR_PARAM]: err } : {},
      });
    }
  }),
);

/**
 * A query as the protocol carries it: a core query AST (protocol v2, what `q(…)` builds),
 * or the v1 equality form `{collection, where: {field: value}}`; see sync-query.ts for what
 * sync honours. Checked by core `validateQuery`, whose typed error (query_invalid) is what
 * the decoder throws. Passed through as received (the validated AST is cached per object).
 */
export const querySchema = z
  .custom<WireQuery>((v) => typeof v === 'object' && v !== null && !Array.isArray(v), {
    message: 'expected a query object {collection, where?, …}',
  })
  .check(
    z.superRefine((query, ctx) => {
      const collection = (query as { collection?: unknown }).collection;
      if (typeof collection !== 'string' || collection.length === 0 || collection.length > 256) {
        ctx.addIssue({ code: 'custom', path: ['collection'], message: 'expected a collection name' });
        return;
      }
      try {
        wireQueryToAst(query);
      } catch (err) {
        ctx.addIssue({
          code: 'custom',
          message: err instanceof Error ? err.message : String(err),
          params: err instanceof OmniSyncError ? { [TYPED_ERROR_PARAM]: err } : {},
        });
      }
    }),
  );
export type { WireQuery };

/** At most this many queries in one pull or snapshot. */
export const QUERIES_MAX = 100;
/** Queries of a pull or snapshot; absent means "everything the caller may read". */
export const queriesSchema = z.array(querySchema).check(z.maxLength(QUERIES_MAX));

/** One mutation of a push: an optional named mutator call plus the cells it wrote locally. */
export const mutationSchema = z.object({
  id: mutationIdSchema,
  /** Named mutation (seed 002 `mutate(name, args)`): the server runs its mutator instead of trusting `changes`. */
  name: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
  args: z.optional(jsonValueSchema),
  /** The cells the client wrote optimistically (applied as-is for unnamed mutations). */
  changes: z.array(cellSchema),
});
/** A mutation as pushed. */
export type WireMutation = z.infer<typeof mutationSchema>;

/** An error as data: `{code, message}` (codes from core ERROR_CODES; unknown codes tolerated). */
export const wireErrorBodySchema = z.object({
  code: z.string(),
  message: z.string(),
  details: z.optional(z.record(z.string(), jsonValueSchema)),
  /** The server's id of the HTTP request that failed (its `x-request-id`), to find its log lines. */
  requestId: z.optional(z.string()),
});
/** The `{error:{code,message}}` envelope every failed request answers with. */
export const wireErrorSchema = z.object({ error: wireErrorBodySchema });

/** What happened to one pushed mutation. A rejected one never applies; the client rolls it back. */
export const mutationResultSchema = z.discriminatedUnion('status', [
  z.object({ id: mutationIdSchema, status: z.literal('applied') }),
  z.object({ id: mutationIdSchema, status: z.literal('rejected'), error: wireErrorBodySchema }),
]);
/** One mutation's result. */
export type MutationResult = z.infer<typeof mutationResultSchema>;
