/**
 * The UI adapter conformance suite (`@omnisync/client/testing`, issue 14): every framework
 * binding (React, Vue, Svelte, Solid) passes the same scenarios through a small driver that
 * mounts one list component:
 *
 *     adapterConformanceSuite(myDriver, { describe, it });
 *
 * The list reads a live query of `items` through the binding and renders one child component
 * per row; each row calls `onRowRender(id)` every time it renders. The DOM contract:
 * - each row is `<li data-id={id} data-done={String(done)}>` whose text is its title;
 * - while the query loads (its collection's first sync answer not yet in): an element
 *   `[data-testid="loading"]` (React/Solid: a Suspense fallback; Vue/Svelte: the status);
 * - when the query failed: an element `[role="alert"]` whose text holds the error message,
 *   reached the way the framework surfaces errors (an error boundary, or the error state).
 *
 * The data is real: a real client, a real collection, writes through the collection API, a
 * synced collection (seed 001 `sync.setup`) whose first answer the suite holds back or fails,
 * and (with the `server` option) a real sync server whose first answer is held back.
 */
import { q, type Query } from '@omnisync/core';
import type { Client } from '../client.js';
import { createClient } from '../client.js';
import { ENGINE_GC_TIME_MS, liveQuery, queryEngineOf } from '../state/live.js';

/** A row of the conformance list. */
export type ConformanceRow = {
  readonly id: string;
  readonly title: string;
  readonly done: boolean;
  readonly n: number;
};

/** What the driver's list component gets. */
export interface AdapterListProps {
  /** Put it in the framework's provider. */
  readonly client: Client;
  /** The live query the list reads (rows in order). */
  readonly query: Query<readonly ConformanceRow[], any>;
  /** Called by a row component each time it renders (Svelte: each time its template updates). */
  readonly onRowRender: (id: string) => void;
}

/** A mounted list. */
export interface MountedAdapterList {
  /** Unmount the list (and its provider). */
  unmount(): void | Promise<void>;
}

/** How a framework binding mounts the conformance list. */
export interface AdapterDriver {
  /** The framework, for test names ("React", "Vue"…). */
  readonly name: string;
  /** Mount the list into `container` (attached to the document). */
  mount(props: AdapterListProps, container: HTMLElement): MountedAdapterList | Promise<MountedAdapterList>;
  /** Run `fn` (a write) the way the framework wants updates wrapped (React: `act`). Default: call it. */
  act?(fn: () => void | Promise<void>): Promise<void>;
}

/**
 * A client whose `items` collection syncs with a real OmniSync server holding `rows`, with
 * the server's answers held back until `release()` (the client cannot import the server:
 * the test passes this in).
 */
export interface HeldServerClient {
  readonly client: Client;
  /** What the server holds for `items`, in query order. */
  readonly rows: readonly ConformanceRow[];
  /** Let the server's answers through. */
  release(): void;
  /** Stop the server (the suite closes the client). */
  close(): Promise<void>;
}

/** One scenario. */
export interface AdapterCase {
  readonly name: string;
  /** Needs {@link AdapterSuiteOptions.server}. */
  readonly needsServer?: boolean;
  run(driver: AdapterDriver, options: AdapterSuiteOptions): Promise<void>;
}

/** Options of {@link adapterConformanceSuite}. */
export interface AdapterSuiteOptions {
  describe?: (name: string, fn: () => void) => void;
  it?: (name: string, fn: () => Promise<void>) => void;
  /** A real sync server whose first answer is held back (the server-synced loading case runs with it). */
  server?: () => Promise<HeldServerClient>;
  /** How long a case waits for the DOM to show something before it fails (default 15 s). */
  timeoutMs?: number;
}

/** `n` rows `r0…r{n-1}`, ordered by `n`. */
export function conformanceRows(n: number, from = 0): ConformanceRow[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `r${from + i}`,
    title: `Row ${from + i}`,
    done: false,
    n: from + i,
  }));
}

/** The query every scenario mounts. */
export const conformanceQuery = (): Query<readonly ConformanceRow[], any> =>
  q<ConformanceRow>('items').orderBy('n');

function check(ok: unknown, message: string): asserts ok {
  if (!ok) throw new Error(`Adapter conformance: ${message}`);
}

/** Poll `cond` (the machine is loaded: generous, never a fixed sleep). */
async function until(cond: () => boolean, what: string, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`Adapter conformance: timed out waiting until ${what}.`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** {@link until} with the suite's timeout. */
const waiter =
  (options: AdapterSuiteOptions) =>
  (cond: () => boolean, what: string): Promise<void> =>
    until(cond, what, options.timeoutMs ?? 15_000);

/** A few macrotasks: time for a framework to (wrongly) react. */
const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setTimeout(r, 0));
};

/** A mounted list with render counts and DOM reads. */
class Harness {
  readonly container: HTMLElement;
  readonly renders = new Map<string, number>();
  readonly client: Client;
  readonly driver: AdapterDriver;
  #mounted: MountedAdapterList | undefined;

  constructor(driver: AdapterDriver, client: Client) {
    this.driver = driver;
    this.client = client;
    this.container = document.createElement('div');
    document.body.appendChild(this.container);
  }

  async mount(): Promise<void> {
    const onRowRender = (id: string) => this.renders.set(id, (this.renders.get(id) ?? 0) + 1);
    await this.act(async () => {
      this.#mounted = await this.driver.mount(
        { client: this.client, query: conformanceQuery(), onRowRender },
        this.container,
      );
    });
  }

  act(fn: () => void | Promise<void>): Promise<void> {
    return this.driver.act ? this.driver.act(fn) : Promise.resolve(fn());
  }

  rows(): { id: string; title: string; done: string }[] {
    return [...this.container.querySelectorAll('li[data-id]')].map((li) => ({
      id: li.getAttribute('data-id') ?? '',
      title: (li.textContent ?? '').trim(),
      done: li.getAttribute('data-done') ?? '',
    }));
  }

  titles(): string {
    return this.rows()
      .map((r) => r.title)
      .join('|');
  }

  loading(): boolean {
    return this.container.querySelector('[data-testid="loading"]') !== null;
  }

  alert(): string | undefined {
    return this.container.querySelector('[role="alert"]')?.textContent ?? undefined;
  }

  /** Render counts since the last reset, as sorted `id:count` pairs. */
  counts(): string {
    return [...this.renders]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([id, c]) => `${id}:${c}`)
      .join(',');
  }

  async unmount(): Promise<void> {
    const m = this.#mounted;
    this.#mounted = undefined;
    if (m) await this.act(() => m.unmount());
  }

  async close(): Promise<void> {
    await this.unmount();
    this.container.remove();
    await this.client.close();
  }
}

/** A client with `items` local and filled with `rows`. */
function localClient(rows: readonly ConformanceRow[]): Client {
  const client = createClient({ clientId: 'conformance' });
  client.collection<ConformanceRow>({ id: 'items' }).insert(rows);
  return client;
}

/** A client whose `items` sync's first answer waits for `release` (or `fail`). */
function heldClient() {
  let release!: (rows: ConformanceRow[]) => void;
  let fail!: (e: Error) => void;
  const answer = new Promise<ConformanceRow[]>((res, rej) => {
    release = res;
    fail = rej;
  });
  const client = createClient({ clientId: 'conformance-held', onError: () => {} });
  client.collection<ConformanceRow>({
    id: 'items',
    sync: { id: 'items', setup: async () => ({ data: await answer }) },
  });
  return { client, release, fail };
}

const title = (rows: readonly ConformanceRow[]) => rows.map((r) => r.title).join('|');

/** Every scenario, in order. */
export const adapterCases: readonly AdapterCase[] = [
  {
    name: 'first render shows the rows, each row rendered once',
    async run(driver, options) {
      const wait = waiter(options);
      const rows = conformanceRows(20);
      const h = new Harness(driver, localClient(rows));
      try {
        await h.mount();
        await wait(() => h.rows().length === 20, 'the 20 rows show');
        check(h.titles() === title(rows), `rows in query order, got ${h.titles()}`);
        check(
          [...h.renders.values()].every((c) => c === 1) && h.renders.size === 20,
          `each row renders once on mount, got ${h.counts()}`,
        );
        check(!h.loading() && h.alert() === undefined, 'no loading state or error for local data');
      } finally {
        await h.close();
      }
    },
  },
  {
    name: 'a write to one row re-renders only that row',
    async run(driver, options) {
      const wait = waiter(options);
      const h = new Harness(driver, localClient(conformanceRows(20)));
      try {
        await h.mount();
        await wait(() => h.rows().length === 20, 'the rows show');
        const items = h.client.getCollection<ConformanceRow>('items')!;
        h.renders.clear();
        await h.act(() => void items.update('r7', { title: 'seven' }));
        await wait(() => h.rows()[7]?.title === 'seven', 'row r7 shows its new title');
        await turns();
        check(h.counts() === 'r7:1', `only r7 re-renders, once; got ${h.counts() || 'none'}`);
        h.renders.clear();
        await h.act(() => void items.update('r12', { done: true }));
        await wait(() => h.rows()[12]?.done === 'true', 'row r12 shows done');
        await turns();
        check(h.counts() === 'r12:1', `only r12 re-renders, once; got ${h.counts() || 'none'}`);
      } finally {
        await h.close();
      }
    },
  },
  {
    name: 'an insert and a delete update the list (only the new row renders)',
    async run(driver, options) {
      const wait = waiter(options);
      const h = new Harness(driver, localClient(conformanceRows(10)));
      try {
        await h.mount();
        await wait(() => h.rows().length === 10, 'the rows show');
        const items = h.client.getCollection<ConformanceRow>('items')!;
        h.renders.clear();
        await h.act(() => void items.insert({ id: 'first', title: 'First', done: false, n: -1 }));
        await wait(() => h.rows()[0]?.id === 'first', 'the inserted row shows first');
        check(h.rows().length === 11, `11 rows after the insert, got ${h.rows().length}`);
        await turns();
        check(h.counts() === 'first:1', `only the new row renders; got ${h.counts() || 'none'}`);
        h.renders.clear();
        await h.act(() => void items.delete('r3'));
        await wait(() => h.rows().length === 10, 'the deleted row is gone');
        check(
          !h.rows().some((r) => r.id === 'r3'),
          `r3 is gone, rows: ${h
            .rows()
            .map((r) => r.id)
            .join(',')}`,
        );
        await turns();
        check(h.counts() === '', `a delete re-renders no remaining row; got ${h.counts()}`);
      } finally {
        await h.close();
      }
    },
  },
  {
    name: "unmount unsubscribes: the client's live query has no subscriber left",
    async run(driver, options) {
      const wait = waiter(options);
      const h = new Harness(driver, localClient(conformanceRows(5)));
      try {
        await h.mount();
        await wait(() => h.rows().length === 5, 'the rows show');
        const lq = liveQuery(h.client, conformanceQuery());
        const engine = queryEngineOf(h.client);
        // Past the engine's keep-warm time a read alone would have let it go: only a
        // subscription keeps it active.
        await new Promise((r) => setTimeout(r, ENGINE_GC_TIME_MS + 300));
        check(lq.active, 'the live query is active while the list is mounted');
        check(engine.stats().active === 1, `one active live query, got ${engine.stats().active}`);
        await h.unmount();
        check(h.rows().length === 0, 'the list is gone from the DOM');
        await wait(
          () => !lq.active && engine.stats().active === 0,
          'the live query is released after unmount (no subscriber left)',
        );
      } finally {
        await h.close();
      }
    },
  },
  {
    name: 'loading state until the first sync answer, then the rows',
    async run(driver, options) {
      const wait = waiter(options);
      const held = heldClient();
      const h = new Harness(driver, held.client);
      try {
        await h.mount();
        await wait(() => h.loading(), 'the loading state shows');
        await turns(10);
        check(h.loading() && h.rows().length === 0, 'still loading, no rows, while the answer is held');
        const rows = conformanceRows(3);
        await h.act(async () => {
          held.release(rows);
          await held.client.getCollection('items')!.ready;
        });
        await wait(() => h.rows().length === 3, 'the rows show once the answer arrived');
        check(!h.loading(), 'the loading state is gone');
        check(h.titles() === title(rows), `rows after loading: ${h.titles()}`);
      } finally {
        await h.close();
      }
    },
  },
  {
    name: "loading state until a real sync server's held-back first answer, then its rows",
    needsServer: true,
    async run(driver, options) {
      const wait = waiter(options);
      const held = await options.server!();
      const h = new Harness(driver, held.client);
      try {
        await h.mount();
        await wait(() => h.loading(), 'the loading state shows');
        await turns(10);
        check(h.loading() && h.rows().length === 0, "still loading while the server's answer is held");
        await h.act(async () => {
          held.release();
          await held.client.getCollection('items')!.ready;
        });
        await wait(() => h.rows().length === held.rows.length, "the server's rows show");
        check(!h.loading(), 'the loading state is gone');
        check(h.titles() === title(held.rows), `the server's rows in order: ${h.titles()}`);
      } finally {
        await h.close();
        await held.close();
      }
    },
  },
  {
    name: 'a failed sync reaches the component as an error',
    async run(driver, options) {
      const wait = waiter(options);
      const held = heldClient();
      const h = new Harness(driver, held.client);
      const consoleError = console.error;
      // React and Vue log errors they caught; the assertion is on the DOM.
      console.error = () => {};
      try {
        await h.mount();
        await wait(() => h.loading(), 'the loading state shows');
        await h.act(async () => {
          held.fail(new Error('backend is down'));
          await held.client.getCollection('items')!.ready.catch(() => {});
        });
        await wait(() => h.alert() !== undefined, 'the error shows');
        check(/backend is down/.test(h.alert()!), `the error message shows, got "${h.alert()}"`);
        check(h.rows().length === 0, 'no rows with the error');
      } finally {
        console.error = consoleError;
        await h.close();
      }
    },
  },
];

/** Register every case: one `describe` per driver, one `it` per case. */
export function adapterConformanceSuite(driver: AdapterDriver, options: AdapterSuiteOptions = {}): void {
  const g = globalThis as { describe?: AdapterSuiteOptions['describe']; it?: AdapterSuiteOptions['it'] };
  const describe = options.describe ?? g.describe;
  const it = options.it ?? g.it;
  if (!describe || !it)
    throw new Error(
      'adapterConformanceSuite needs a test framework: pass { describe, it } (e.g. from vitest).',
    );
  describe(`adapter conformance: ${driver.name}`, () => {
    for (const c of adapterCases)
      if (!c.needsServer || options.server) it(c.name, () => c.run(driver, options));
  });
}
