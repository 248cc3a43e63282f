/**
 * @omnisync/devtools — a panel that shows inside one OmniSync client: the transaction
 * timeline, the outbox, sync status and cursor per source, live queries with their
 * completeness, and for any field why its value won. Plain DOM in a shadow root (mount it in
 * any page); the React component is on `@omnisync/devtools/react`. Explicit exports only.
 */
export { mountDevtools, DEVTOOLS_TABS } from './mount.js';
export type { DevtoolsHandle, DevtoolsOptions, DevtoolsTab } from './mount.js';
