/**
 * The messages between `createOpfsPersistence` (main thread) and its worker. Requests carry
 * an `id`; each gets one reply with the same `id`. Snapshot bytes travel as transferred
 * ArrayBuffers (no copy).
 */

/** A request to the worker. */
export type OpfsRequest =
  | { id: number; op: 'open'; name: string }
  | { id: number; op: 'read' }
  | { id: number; op: 'append'; bodies: string[] }
  | { id: number; op: 'replace'; snapshot: Uint8Array }
  | { id: number; op: 'clear' }
  | { id: number; op: 'close' };

/** The worker's reply. */
export type OpfsReply =
  | { id: number; ok: true; snapshot?: Uint8Array; journal?: string[] }
  | { id: number; ok: false; error: { code: string; message: string } };

/** Snapshot pages are stored as blobs of this many bytes. */
export const PAGE_SIZE = 64 * 1024;
