// @vitest-environment jsdom
/**
 * The panel rendered in jsdom (a DOM stand-in; the real-browser run with a real server is
 * examples/todo/test/devtools.browser.test.ts) over a real client. Remote cells come from a
 * cell source written here (the `Source` contract's `applyCells`, as the server source
 * calls it); the outbox test uses the real OmniSync-server source against a closed port.
 */
import {
  type Client,
  createClient,
  createServerSource,
  liveQuery,
  type PersistRequest,
  type Source,
  type SourceContext,
} from '@omnisync/client';
import { type Cell, encodeHlc, parseHlc, q, ValidationError } from '@omnisync/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type DevtoolsHandle, mountDevtools } from './index.js';

interface CellSource extends Source {
  ctx: SourceContext | undefined;
  /** Persists that should fail first, with this message. */
  failures: string[];
}

function cellSource(): CellSource {
  const s: CellSource = {
    id: 'cells',
    kind: 'remote',
    ctx: undefined,
    failures: [],
    start(ctx) {
      s.ctx = ctx;
    },
    async persist(_req: PersistRequest) {
      const f = s.failures.shift();
      if (f !== undefined) throw new Error(f);
    },
  };
  return s;
}

type Todo = { id: string; title: string };

const mounted: DevtoolsHandle[] = [];
const clients: Client[] = [];
afterEach(async () => {
  for (const m of mounted.splice(0)) m.unmount();
  for (const c of clients.splice(0)) await c.close();
  document.body.replaceChildren();
});

async function setup() {
  const client = createClient({ clientId: 'dev-a', retry: { retries: 3, baseDelay: 5, jitter: 0 } });
  clients.push(client);
  const source = cellSource();
  const todos = client.collection<Todo>({ id: 'todos', source });
  await todos.ready;
  const element = document.createElement('div');
  document.body.appendChild(element);
  const panel = mountDevtools(client, element);
  mounted.push(panel);
  return { client, source, todos, element, panel };
}

const text = (panel: DevtoolsHandle, selector = '[data-testid=devtools-body]') =>
  panel.root.querySelector(selector)?.textContent ?? '';
const click = (panel: DevtoolsHandle, testid: string) =>
  (panel.root.querySelector(`[data-testid=${testid}]`) as HTMLElement).click();

describe('mountDevtools (jsdom)', () => {
  it('mounts in a shadow root of the element: its styles stay inside, the page has none', async () => {
    const { element, panel } = await setup();
    expect(element.shadowRoot).toBe(panel.root);
    expect(panel.root.querySelector('style')!.textContent).toContain('.panel');
    expect(document.head.querySelector('style')).toBeNull();
    expect([...panel.root.querySelectorAll('nav button')].map((b) => b.textContent)).toEqual([
      'Transactions',
      'Outbox',
      'Sync (1)',
      'Live queries',
      'Why this value',
    ]);
    expect(text(panel, '[data-testid=devtools-meta]')).toContain('client dev-a');
  });

  it('shows the transaction timeline live (no refresh called): seed 001 states, then attempts and retries', async () => {
    const { source, todos, panel } = await setup();
    const tx = todos.insert({ id: 'a', title: 'one' });
    await tx.promise;
    await vi.waitFor(() => {
      const row = panel.root.querySelector(`[data-testid=devtools-transaction][data-id="${tx.id}"]`);
      expect(row?.getAttribute('data-state')).toBe('completed');
      expect(row?.textContent).toContain('pending → persisting → persisted_awaiting_sync → completed');
      expect(row?.textContent).toContain('insert todos/a');
    });

    source.failures.push('backend down');
    const retried = todos.update('a', { title: 'two' });
    await retried.promise;
    await vi.waitFor(() => {
      const row = panel.root.querySelector(`[data-testid=devtools-transaction][data-id="${retried.id}"]`);
      expect(row?.getAttribute('data-state')).toBe('completed');
      expect(row?.textContent).toContain('2 (1 retry)');
      expect(row?.textContent).toContain('backend down');
      expect(row?.textContent).toContain('update todos/a {title}');
    });
  });

  it('names the winner of competing writes with its HLC and origin, and marks the loser', async () => {
    const { source, todos, panel } = await setup();
    const tx = todos.insert({ id: 'a', title: 'mine' });
    await tx.promise;
    const mine = tx.mutations[0]!.hlc;
    const theirs: Cell = {
      collection: 'todos',
      id: 'a',
      field: 'title',
      value: 'theirs',
      hlc: encodeHlc({ wall: parseHlc(mine).wall + 500, counter: 0, node: 'dev-b' }),
    };
    source.ctx!.applyCells([theirs]);

    click(panel, 'devtools-tab-fields');
    const ref = panel.root.querySelector('[data-testid=devtools-field-ref][data-field="todos/a/title"]');
    expect(ref?.textContent).toContain('2 writers competed');
    (ref as HTMLElement).click();
    expect(text(panel, '[data-testid=devtools-winner-hlc]')).toBe(theirs.hlc);
    expect(text(panel, '[data-testid=devtools-winner-origin]')).toBe('dev-b');
    expect(text(panel, '[data-testid=devtools-why]')).toContain('"theirs" won: written by dev-b at HLC');
    const rows = [...panel.root.querySelectorAll('[data-testid=devtools-write]')].map((r) => [
      r.getAttribute('data-status'),
      r.getAttribute('data-origin'),
      r.getAttribute('data-hlc'),
    ]);
    expect(rows).toEqual([
      ['winner', 'dev-b', theirs.hlc],
      ['lost', 'dev-a', mine],
    ]);
    expect(text(panel, '[data-testid=devtools-visible]')).toBe('"theirs"');

    // The form picks any field; a delete then wins over every write.
    panel.inspectField('todos', 'a', 'title');
    source.ctx!.applyCells([
      { ...theirs, field: '_deleted', value: true, hlc: encodeHlc({ ...parseHlc(theirs.hlc), counter: 1 }) },
    ]);
    await vi.waitFor(() =>
      expect(text(panel, '[data-testid=devtools-why]')).toMatch(/^Deleted: the tombstone written by dev-b/),
    );
  });

  it('lists the outbox and the sync status of the real server source while the server cannot be reached', async () => {
    const client = createClient({ clientId: 'dev-a' });
    clients.push(client);
    const server = createServerSource({
      app: 'devtools',
      server: 'http://127.0.0.1:9', // the discard port: nobody listens
      fetch: globalThis.fetch.bind(globalThis),
      WebSocket: false,
      backoff: { baseDelayMs: 50, maxDelayMs: 200 },
    });
    const todos = client.collection<Todo>({ id: 'todos', source: server });
    const element = document.body.appendChild(document.createElement('div'));
    const panel = mountDevtools(client, element, { tab: 'outbox' });
    mounted.push(panel);
    const tx = todos.insert({ id: 'a', title: 'waits' });
    await vi.waitFor(
      () => {
        const entry = panel.root.querySelector('[data-testid=devtools-outbox-entry]');
        expect(entry?.getAttribute('data-id')).toBe(tx.id);
        expect(entry?.textContent).toContain('todos/a.title="waits"');
      },
      { timeout: 10_000 },
    );
    panel.show('sources');
    await vi.waitFor(() => expect(text(panel, '[data-testid=devtools-sync-state]')).toBe('offline'), {
      timeout: 10_000,
    });
    expect(text(panel, '[data-testid=devtools-source]')).toContain('pending1');
    expect(text(panel, '[data-testid=devtools-meta]')).toContain('offline');
  });

  it('lists live queries in use with their status and completeness', async () => {
    const { client, todos, panel } = await setup();
    await todos.insert([
      { id: 'a', title: 'one' },
      { id: 'b', title: 'two' },
    ]).promise;
    const lq = liveQuery(client, q('todos').where('title', '=', 'two'));
    const stop = lq.subscribe(() => {});
    panel.show('queries');
    const row = panel.root.querySelector('[data-testid=devtools-query]');
    expect(row?.textContent).toContain('todos');
    expect(row?.textContent).toContain('ready');
    expect(row?.textContent).toContain('complete');
    expect([...row!.querySelectorAll('td')].map((td) => td.textContent)[3]).toBe('1');
    stop();
  });

  it('floats at the bottom right without an element, and its close button removes it', async () => {
    const client = createClient({ clientId: 'dev-a' });
    clients.push(client);
    const panel = mountDevtools(client);
    expect(document.body.querySelector('[data-omnisync-devtools=floating]')).toBe(panel.host);
    (panel.root.querySelector('[aria-label="Close devtools"]') as HTMLElement).click();
    expect(document.body.querySelector('[data-omnisync-devtools]')).toBeNull();
    expect(client.experimental_inspect.enabled).toBe(true); // recording stays for the next panel
  });

  it('refuses an element that cannot hold a shadow root, saying what to pass', async () => {
    const client = createClient({ clientId: 'dev-a' });
    clients.push(client);
    const input = document.body.appendChild(document.createElement('input'));
    expect(() => mountDevtools(client, input)).toThrow(ValidationError);
    expect(() => mountDevtools(client, input)).toThrow(/pass a <div>/);
  });

  it('record: false leaves recording off, and the panel says so', async () => {
    const client = createClient({ clientId: 'dev-a' });
    clients.push(client);
    const todos = client.collection<Todo>({ id: 'todos' });
    const panel = mountDevtools(client, document.body.appendChild(document.createElement('div')), {
      record: false,
      tab: 'fields',
    });
    mounted.push(panel);
    expect(client.experimental_inspect.enabled).toBe(false);
    expect(text(panel, '[data-testid=devtools-meta]')).toContain('recording off');
    await todos.insert({ id: 'a', title: 'one' }).promise;
    panel.inspectField('todos', 'a', 'title');
    expect(text(panel)).toContain('Recording is off');
    expect(text(panel, '[data-testid=devtools-winner-value]')).toBe('"one"'); // the synced winner is still known
  });

  it('renders nothing more after unmount', async () => {
    const { todos, panel } = await setup();
    panel.unmount();
    await todos.insert({ id: 'a', title: 'one' }).promise;
    await new Promise((r) => setTimeout(r, 20));
    expect(panel.root.childNodes.length).toBe(0);
  });
});
