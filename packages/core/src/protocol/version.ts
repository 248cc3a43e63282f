/**
 * The sync protocol's version and its history. Bump {@link PROTOCOL_VERSION} on any change a
 * peer of the previous version cannot read, add one line to {@link PROTOCOL_HISTORY}, and keep
 * the previous version's fixtures decoding (see `fixtures/`).
 */

/** The protocol version this build speaks. */
export const PROTOCOL_VERSION = 2;

/**
 * The HTTP request header a client names its protocol version in. A server refuses a
 * request from a newer version (it could misread it) with `protocol_invalid`; without the
 * header a request is read as version 1.
 */
export const PROTOCOL_HEADER = 'omnisync-protocol';

/** One line per protocol version, oldest first. */
export const PROTOCOL_HISTORY: readonly { readonly version: number; readonly summary: string }[] = [
  {
    version: 1,
    summary:
      'JSON over HTTP (push/pull/snapshot/cursor) and WebSocket (hello, subscribe, changes, poke, push/ack, ping/pong, rooms); cells {collection,id,field,value?,hlc}; cursor = server change-log version.',
  },
  {
    version: 2,
    summary:
      'Queries (pull/snapshot `queries`, subscribe `query`) are core query ASTs (where: and/or/not, eq/ne/gt/gte/lt/lte, in/nin, like/ilike, contains, exists; get); sync filters by where and get only. The v1 form {collection, where: {field: value}} is still accepted. A v1 server would misread v2 filters: upgrade servers first.',
  },
];
