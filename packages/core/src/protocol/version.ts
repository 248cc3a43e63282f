/**
 * The sync protocol's version and its history. Bump {@link PROTOCOL_VERSION} on any change a
 * peer of the previous version cannot read, add one line to {@link PROTOCOL_HISTORY}, and keep
 * the previous version's fixtures decoding (see `fixtures/`).
 */

/** The protocol version this build speaks. */
export const PROTOCOL_VERSION = 1;

/** One line per protocol version, oldest first. */
export const PROTOCOL_HISTORY: readonly { readonly version: number; readonly summary: string }[] = [
  {
    version: 1,
    summary:
      'JSON over HTTP (push/pull/snapshot/cursor) and WebSocket (hello, subscribe, changes, poke, push/ack, ping/pong, rooms); cells {collection,id,field,value?,hlc}; cursor = server change-log version.',
  },
];
