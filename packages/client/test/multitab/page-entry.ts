/** The page of the multi-tab Chromium tests: one client per tab, on IndexedDB, multiTab on. */
import { effect } from '@omnisync/core';
import { createClient, createIndexedDbPersistence } from '@omnisync/client';

const app = new URLSearchParams(location.search).get('app') ?? 'multitab';
const warnings: string[] = [];
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]) => {
  warnings.push(args.map(String).join(' '));
  warn(...args);
};
const client: ReturnType<typeof createClient> = createClient({
  app,
  server: location.origin,
  persistence: createIndexedDbPersistence({ name: app }),
  multiTab: true,
  serverOptions: {
    // Names the pushing tab for the proxy's push log (only the leader's requests go out).
    fetch: (url, init) =>
      fetch(url, { ...init, headers: { ...init.headers, 'x-omnisync-tab': client.tabs?.get().tabId ?? '' } }),
    WebSocket: null,
    pollIntervalMs: 100,
    backoff: { baseDelayMs: 50, maxDelayMs: 300 },
  },
});
const todos = client.collection<{ id: string; title: string }>({ id: 'todos' });

(window as unknown as { app: unknown; client: unknown }).client = client;
(window as unknown as { app: unknown }).app = {
  ready: () => client.ready,
  write: (id: string, title: string) => todos.insert({ id, title }).id,
  update: (id: string, title: string) => todos.update(id, { title }).id,
  docs: () =>
    todos
      .all()
      .map((d) => ({ id: d.id, title: d.title }))
      .sort((a, b) => (a.id < b.id ? -1 : 1)),
  has: (id: string) => todos.has(id),
  role: () => client.tabs?.get().role,
  tabId: () => client.tabs?.get().tabId,
  reason: () => client.tabs?.get().reason,
  warnings: () => warnings,
  pending: () => client.transactions.get().filter((t) => !t.finished).length,
  online: () => client.server?.status.get().online ?? false,
  // Bench helpers: wall-clock times (comparable across tabs of one browser).
  watch: () => {
    const seen: Record<string, number> = {};
    (window as unknown as { seen: unknown }).seen = seen;
    todos.subscribe((changes) => {
      const t = performance.timeOrigin + performance.now();
      for (const c of changes) seen[c.id] ??= t;
    });
  },
  seen: () => (window as unknown as { seen: Record<string, number> }).seen,
  burst: async (prefix: string, n: number, gapMs: number) => {
    const out: [string, number][] = [];
    for (let i = 0; i < n; i++) {
      const id = `${prefix}${i}`;
      out.push([id, performance.timeOrigin + performance.now()]);
      todos.insert({ id, title: 'bench' });
      await new Promise((r) => setTimeout(r, gapMs));
    }
    return out;
  },
  watchTakeover: () => {
    const times: { leader?: number; flushed?: number } = {};
    (window as unknown as { takeover: unknown }).takeover = times;
    effect(() => {
      const leader = client.tabs?.get().role === 'leader';
      const open = client.transactions.get().filter((t) => !t.finished).length;
      const now = performance.timeOrigin + performance.now();
      if (leader) times.leader ??= now;
      if (leader && open === 0) times.flushed ??= now;
    });
  },
  takeover: () => (window as unknown as { takeover: { leader?: number; flushed?: number } }).takeover,
};
