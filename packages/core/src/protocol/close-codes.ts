/** The live socket's close codes (zod-free, so clients import them without the schemas). */
/** Close codes the server uses, with their meaning (part of the protocol). */
export const LIVE_CLOSE_CODES = {
  /** Server shutting down or restarting: reconnect with backoff and resume by cursor. */
  goingAway: 1001,
  /** Too many malformed messages: fix the client. */
  protocolError: 4000,
  /** No hello in time, missing/expired/invalid token: refresh the token and reconnect. */
  unauthorized: 4001,
  /** Valid token for another app (or not allowed): do not retry with the same token. */
  forbidden: 4003,
  /** The client read too slowly and its send buffer overflowed: reconnect and resume by cursor. */
  slowConsumer: 4008,
  /** The client kept sending far over its message rate (a flood): reconnect later, with backoff, and send less. */
  rateLimited: 4029,
} as const;
