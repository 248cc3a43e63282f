/**
 * Bundle size: what an app ships, min+gzip, tree-shaken by esbuild from a small entry that
 * uses each library the way its docs show (a local-only app, a server-synced app, and the
 * React layer on top), next to TanStack DB, TanStack DB React and TanStack Query React
 * bundled the same way in the same run. OmniSync is bundled from its sources (`src/`, with
 * the packages' `sideEffects: false`), the peers from their published ESM. React itself is
 * external for every React row (the app pays for it either way).
 */
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import type { BenchSection } from './lib.ts';

const pkg = (p: string) => fileURLToPath(new URL(`../packages/${p}`, import.meta.url));
const ALIAS = {
  '@omnisync/core': pkg('core/src/index.ts'),
  '@omnisync/client': pkg('client/src/index.ts'),
  '@omnisync/react': pkg('react/src/index.ts'),
};
const GOAL_KB = 25;

interface Entry {
  name: string;
  /** The row this one is compared with ("" = none). */
  peerOf?: string;
  code: string;
  react?: boolean;
}

const OMNI_LOCAL = `
import { createClient, createState, defineState } from '@omnisync/client';
const client = createClient();
const state = createState(client, defineState({ ui: { filter: 'all' }, todos: { _type: [] } }));
state.todos.insert({ id: 't1', title: 'Buy milk', completed: false, createdAt: 1 });
const active = state.todos.where({ completed: false }).orderBy({ createdAt: 'desc' });
active[0].completed = true;
console.log(active.length, state.ui.filter);
`;

const OMNI_SYNCED = `
import { createClient, createIndexedDbPersistence, createServerSource, createState, defineState } from '@omnisync/client';
const server = createServerSource({ app: 'todo', server: 'https://sync.example.com', auth: async () => 'token' });
const client = createClient({ persistence: createIndexedDbPersistence({ name: 'todo' }) });
const state = createState(client, defineState({ ui: { filter: 'all' }, todos: { _source: server, _type: [] } }));
state.todos.insert({ id: 't1', title: 'Buy milk', completed: false, createdAt: 1 });
const active = state.todos.where({ completed: false }).orderBy({ createdAt: 'desc' });
active[0].completed = true;
console.log(active.length, state.ui.filter);
`;

/** The same app on createLeanClient: no multi-tab, rooms, devtools inspection or named mutations shipped. */
const OMNI_SYNCED_LEAN = OMNI_SYNCED.replace(
  'import { createClient, ',
  'import { createLeanClient as createClient, ',
);

const OMNI_REACT = `${OMNI_SYNCED}
import { createElement } from 'react';
import { OmniSyncProvider, useOmni } from '@omnisync/react';
function List() { const s = useOmni(); return createElement('ul', null, s.todos.where({ completed: false }).map((t) => createElement('li', { key: t.id }, t.title))); }
export const App = () => createElement(OmniSyncProvider, { client, state }, createElement(List));
`;

const TANSTACK_LOCAL = `
import { createCollection, localOnlyCollectionOptions, createLiveQueryCollection, eq } from '@tanstack/db';
const todos = createCollection(localOnlyCollectionOptions({ id: 'todos', getKey: (t) => t.id }));
todos.insert({ id: 't1', title: 'Buy milk', completed: false, createdAt: 1 });
const active = createLiveQueryCollection((q) => q.from({ todo: todos }).where(({ todo }) => eq(todo.completed, false)).orderBy(({ todo }) => todo.createdAt, 'desc'));
todos.update('t1', (d) => { d.completed = true; });
console.log(active.size);
`;

const TANSTACK_SYNCED = `
import { createCollection, createLiveQueryCollection, eq } from '@tanstack/db';
import { queryCollectionOptions } from '@tanstack/query-db-collection';
import { QueryClient } from '@tanstack/query-core';
const queryClient = new QueryClient();
const todos = createCollection(queryCollectionOptions({
  queryKey: ['todos'], queryClient, getKey: (t) => t.id,
  queryFn: async () => (await fetch('https://api.example.com/todos')).json(),
  onInsert: async ({ transaction }) => { await fetch('https://api.example.com/todos', { method: 'POST', body: JSON.stringify(transaction.mutations.map((m) => m.modified)) }); },
  onUpdate: async ({ transaction }) => { await fetch('https://api.example.com/todos', { method: 'PATCH', body: JSON.stringify(transaction.mutations.map((m) => m.changes)) }); },
}));
todos.insert({ id: 't1', title: 'Buy milk', completed: false, createdAt: 1 });
const active = createLiveQueryCollection((q) => q.from({ todo: todos }).where(({ todo }) => eq(todo.completed, false)).orderBy(({ todo }) => todo.createdAt, 'desc'));
todos.update('t1', (d) => { d.completed = true; });
console.log(active.size);
`;

const TANSTACK_DB_REACT = `${TANSTACK_SYNCED}
import { createElement } from 'react';
import { useLiveQuery } from '@tanstack/react-db';
export function App() { const { data } = useLiveQuery((q) => q.from({ todo: todos }).where(({ todo }) => eq(todo.completed, false))); return createElement('ul', null, data.map((t) => createElement('li', { key: t.id }, t.title))); }
`;

const TANSTACK_QUERY_REACT = `
import { createElement } from 'react';
import { QueryClient, QueryClientProvider, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
const queryClient = new QueryClient();
function List() {
  const qc = useQueryClient();
  const { data = [] } = useQuery({ queryKey: ['todos'], queryFn: async () => (await fetch('https://api.example.com/todos')).json() });
  const toggle = useMutation({
    mutationFn: async (t) => fetch('https://api.example.com/todos/' + t.id, { method: 'PATCH', body: JSON.stringify({ completed: !t.completed }) }),
    onMutate: async (t) => { qc.setQueryData(['todos'], (old) => old.map((x) => (x.id === t.id ? { ...x, completed: !x.completed } : x))); },
    onSettled: () => qc.invalidateQueries({ queryKey: ['todos'] }),
  });
  return createElement('ul', null, data.filter((t) => !t.completed).map((t) => createElement('li', { key: t.id, onClick: () => toggle.mutate(t) }, t.title)));
}
export const App = () => createElement(QueryClientProvider, { client: queryClient }, createElement(List));
`;

const ENTRIES: Entry[] = [
  { name: 'OmniSync core+client, local-only app', code: OMNI_LOCAL },
  {
    name: 'TanStack DB, local-only app',
    peerOf: 'OmniSync core+client, local-only app',
    code: TANSTACK_LOCAL,
  },
  { name: 'OmniSync core+client, server-synced app', code: OMNI_SYNCED },
  {
    name: 'OmniSync core+client, server-synced app, createLeanClient',
    code: OMNI_SYNCED_LEAN,
  },
  {
    name: 'TanStack DB + query-db-collection, synced app',
    peerOf: 'OmniSync core+client, server-synced app, createLeanClient',
    code: TANSTACK_SYNCED,
  },
  { name: 'OmniSync + @omnisync/react, synced app', code: OMNI_REACT, react: true },
  {
    name: 'TanStack DB React + query-db-collection',
    peerOf: 'OmniSync + @omnisync/react, synced app',
    code: TANSTACK_DB_REACT,
    react: true,
  },
  {
    name: 'TanStack Query React (useQuery + useMutation)',
    peerOf: 'OmniSync + @omnisync/react, synced app',
    code: TANSTACK_QUERY_REACT,
    react: true,
  },
];

async function size(entry: Entry): Promise<{ min: number; gzip: number }> {
  const out = await build({
    stdin: { contents: entry.code, resolveDir: fileURLToPath(new URL('.', import.meta.url)), loader: 'ts' },
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    write: false,
    treeShaking: true,
    alias: ALIAS,
    external: entry.react ? ['react', 'react-dom', 'react/jsx-runtime'] : [],
    define: { 'process.env.NODE_ENV': '"production"' },
    logLevel: 'silent',
  });
  const bytes = out.outputFiles[0]!.contents;
  return { min: bytes.length, gzip: gzipSync(bytes, { level: 9 }).length };
}

const kb = (n: number) => `${(n / 1024).toFixed(1)} kB`;

export default async function bundleBench(): Promise<BenchSection> {
  const sizes = new Map<string, { min: number; gzip: number }>();
  for (const e of ENTRIES) sizes.set(e.name, await size(e));
  const rows = ENTRIES.map((e) => {
    const s = sizes.get(e.name)!;
    const peer = e.peerOf ? sizes.get(e.peerOf)! : undefined;
    const goal = e.name.startsWith('OmniSync core+client, server-synced app')
      ? s.gzip <= GOAL_KB * 1024
        ? `≤ ${GOAL_KB} kB: met`
        : `≤ ${GOAL_KB} kB: missed`
      : '';
    return [e.name, kb(s.min), kb(s.gzip), peer ? `${(s.gzip / peer.gzip).toFixed(2)}×` : '1.00×', goal];
  });
  const { version: esbuildVersion } = (await import('esbuild/package.json', { with: { type: 'json' } }))
    .default as { version: string };
  return {
    title: 'Bundle size: what an app ships (esbuild, minified, gzip -9)',
    notes: `esbuild ${esbuildVersion}, ESM, browser, es2022, tree-shaken from an entry that uses each library as its docs show (entries in bench/bundle.bench.ts); React external on the React rows. "÷ OmniSync" = the peer's gzip size over the OmniSync row it is listed under (above 1 = OmniSync is smaller). Deterministic: one build each`,
    columns: ['bundle', 'minified', 'min+gzip', '÷ OmniSync', 'goal'],
    rows,
  };
}
