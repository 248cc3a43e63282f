/** Message size limits of the protocol (zod-free, so clients import them without the schemas). */

/** Largest number of mutations in one push. */
export const PUSH_MUTATIONS_MAX = 10_000;
/** Default and largest page size of a pull (change-log entries scanned). */
export const PULL_LIMIT_DEFAULT = 1000;
export const PULL_LIMIT_MAX = 10_000;
