/**
 * One push of the outbox's head: send a batch, settle each transaction with its result, and
 * sort out what a failed push means for the batch. Retrying is the caller's business.
 */
import { fromWireError, NonRetriableError, type OmniSyncError, toOmniSyncError } from '@omnisync/core';
import { classifyError } from '../../transport/errors.js';
import type { HttpTransport } from '../../transport/http-transport.js';
import type { Outbox, OutboxEntry } from './outbox.js';

const refusal = (e: OutboxEntry, error: OmniSyncError) =>
  new NonRetriableError(`The server refused transaction ${e.id}: ${error.message}`, {
    cause: error,
    details: { code: error.code },
  });

/**
 * Push up to `batchSize` transactions from the head of `outbox`, all of one schema version
 * (the one they were written in, sent as the push's `schemaVersion`).
 *
 * - `applied` resolves a transaction (with the push's cursor: its result is visible from
 *   there), `rejected` rejects it with {@link NonRetriableError} (the server's code and
 *   reason in its message and `details.code`; the server's typed error, e.g. a mutator's
 *   MutationRejectedError with the reason as its message, as `cause`).
 * - The whole batch refused as malformed or too large (a fatal 4xx): with more than one
 *   transaction, each is marked to go alone next time (so only the bad one fails); alone, it
 *   is rejected with NonRetriableError and `report`ed.
 * - 403: the batch is rejected (NonRetriableError) and the error rethrown.
 * - 409 `schema_outdated` (this app's schema version is outside what the server can upcast):
 *   the batch stays, nothing is settled, the error (SchemaOutdatedError) is rethrown.
 * - Anything else (network, timeout, 5xx, 401): rethrown; the batch stays for a retry.
 */
export async function pushHead(
  http: HttpTransport,
  outbox: Outbox,
  clientId: string,
  batchSize: number,
  report: (error: OmniSyncError) => void,
): Promise<void> {
  const batch = outbox.take(batchSize);
  const schemaVersion = batch[0]?.schemaVersion;
  let res;
  try {
    const mutations = batch.map((e) => e.mutation);
    res = await http.push(
      schemaVersion === undefined ? { clientId, mutations } : { clientId, mutations, schemaVersion },
    );
  } catch (err) {
    const error = toOmniSyncError(err);
    // The server cannot take this app version's writes: they stay, every one, for after the update.
    if (error.code === 'schema_outdated') throw error;
    const kind = classifyError(error);
    if (kind === 'fatal' && batch.length > 1) {
      for (const e of batch) e.solo = true;
      return;
    }
    if (kind === 'fatal' || kind === 'forbidden')
      for (const e of batch) outbox.settle(e.id, refusal(e, error));
    if (kind === 'fatal') return report(error);
    throw error;
  }
  let settled = 0;
  for (const r of res.results) {
    const error =
      r.status === 'applied'
        ? undefined
        : new NonRetriableError(
            `The server rejected transaction ${r.id}: ${r.error.code}: ${r.error.message}`,
            {
              cause: fromWireError(r.error as Parameters<typeof fromWireError>[0]),
              details: { ...(r.error.details ?? {}), code: r.error.code },
            },
          );
    if (outbox.settle(r.id, error, res.cursor)) settled++;
  }
  if (settled === 0)
    throw toOmniSyncError(
      new Error(`The server answered a push of ${batch.length} transactions without their results.`),
    );
}
