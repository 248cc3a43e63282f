/**
 * The server source's outbox: transactions handed to `persist`, in the order they came,
 * each waiting for the server's result. Batches are taken from the head so pushes go out in
 * order; a transaction stays here through any number of failed pushes and leaves only with
 * its result (applied or rejected).
 */
import type { WireMutation } from '@omnisync/core';

/** One transaction waiting for the server. */
export interface OutboxEntry {
  readonly id: string;
  mutation: WireMutation;
  /** Send alone: it was in a batch the server refused as a whole (isolates a bad one). */
  solo: boolean;
  /** The app schema version its writes are in (sent with its push); one push holds one version. */
  schemaVersion: number | undefined;
  /** Resolved with the version the result is visible at (the push's cursor), when known. */
  readonly waiters: { resolve: (cursor: number | undefined) => void; reject: (error: Error) => void }[];
}

/** Ordered, de-duplicated by transaction id. */
export class Outbox {
  readonly #entries: OutboxEntry[] = [];
  readonly #byId = new Map<string, OutboxEntry>();

  /** Number of transactions waiting. */
  get size(): number {
    return this.#entries.length;
  }

  /**
   * Queue a mutation; resolves with its result (the cursor it is visible at, when known). The
   * same id again (a retry of a transaction still waiting) joins the waiting entry with the
   * newer mutation.
   */
  add(mutation: WireMutation, schemaVersion?: number): Promise<number | undefined> {
    return new Promise<number | undefined>((resolve, reject) => {
      const existing = this.#byId.get(mutation.id);
      if (existing) {
        existing.mutation = mutation;
        existing.waiters.push({ resolve, reject });
        return;
      }
      const entry: OutboxEntry = {
        id: mutation.id,
        mutation,
        solo: false,
        schemaVersion,
        waiters: [{ resolve, reject }],
      };
      this.#entries.push(entry);
      this.#byId.set(entry.id, entry);
    });
  }

  /**
   * The next batch from the head: up to `max` entries of the head's schema version (a push
   * carries one), or one entry marked `solo`.
   */
  take(max: number): OutboxEntry[] {
    const out: OutboxEntry[] = [];
    for (const e of this.#entries) {
      if (out.length > 0 && e.schemaVersion !== out[0]!.schemaVersion) break;
      if (e.solo) {
        if (out.length === 0) out.push(e);
        break;
      }
      out.push(e);
      if (out.length >= max) break;
    }
    return out;
  }

  /** Settle an entry: resolve (applied, visible at `cursor`) or reject (with the error), and drop it. */
  settle(id: string, error?: Error, cursor?: number): boolean {
    const e = this.#byId.get(id);
    if (!e) return false;
    this.#byId.delete(id);
    this.#entries.splice(this.#entries.indexOf(e), 1);
    for (const w of e.waiters) {
      if (error === undefined) w.resolve(cursor);
      else w.reject(error);
    }
    return true;
  }

  /** The entries waiting, in order (read only: for inspection). */
  entries(): readonly Readonly<OutboxEntry>[] {
    return this.#entries;
  }

  /** Ids waiting, in order. */
  ids(): string[] {
    return this.#entries.map((e) => e.id);
  }
}
