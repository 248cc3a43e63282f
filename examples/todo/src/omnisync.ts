/**
 * The app's OmniSync setup: one client persisted in IndexedDB, synced with the OmniSync
 * server that serves this page (same origin), and the app's state.
 */
import { createClient, createIndexedDbPersistence, createState, defineState } from '@omnisync/client';

/** A todo as the app stores it. */
export interface Todo {
  id: string;
  title: string;
  completed: boolean;
  /** Creation time (ms): the list's order. */
  createdAt: number;
}

/** Which todos the list shows. */
export type Filter = 'all' | 'active' | 'completed';

const params = new URLSearchParams(location.search);
/** The app (tenant) on the server; `?app=` lets tests use a fresh one. */
export const APP = params.get('app') ?? 'todo';

/** `?devtools`: open the devtools panel at start, and record what this replica sees from the first write. */
export const DEVTOOLS = params.has('devtools');

export const client = createClient({
  app: APP,
  experimental_inspect: DEVTOOLS,
  server: location.origin,
  persistence: createIndexedDbPersistence({ name: `todo:${APP}:${params.get('device') ?? 'main'}` }),
});

/** The client's source for the OmniSync server (the todos sync through it; rooms share its app). */
export const server = client.server!;

/** What this person shows the others in the list's room: `?name=`, else a guest name kept per browser. */
export const ME = ((): { name: string } => {
  const given = params.get('name');
  if (given) return { name: given };
  const saved = localStorage.getItem('todo:name');
  const name = saved ?? `Guest ${Math.random().toString(36).slice(2, 6)}`;
  if (!saved) localStorage.setItem('todo:name', name);
  return { name };
})();

export const appState = defineState({
  ui: { filter: 'all' as Filter },
  todos: { _source: server, _type: [] as Todo[] },
});

/** The state, for writes outside components (components read it through `useOmni()`). */
export const state = createState(client, appState);

declare module '@omnisync/react' {
  interface Register {
    state: typeof appState;
  }
}

// For debugging in the console (and for the browser tests' diagnostics on failure).
(window as unknown as { omnisync: unknown }).omnisync = { client, server, state };
