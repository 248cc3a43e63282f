/**
 * `mountDevtools(client, element?)`: the devtools panel in plain DOM, in a shadow root of its
 * own (its styles neither leak into the page nor take the page's). It reads everything
 * through `client.experimental_inspect` and re-renders when the inspector says something
 * changed (events, store changes, source status), at most once per animation frame; it never
 * polls.
 */
import type { Client, FieldRef, InspectOptions } from '@omnisync/client';
import { ValidationError } from '@omnisync/core';
import { createH, type H } from './dom.js';
import { fieldsView } from './field-view.js';
import { PANEL_CSS } from './styles.js';
import { outboxView, queriesView, sourcesView, transactionsView } from './views.js';

/** The panel's tabs. */
export type DevtoolsTab = 'transactions' | 'outbox' | 'sources' | 'queries' | 'fields';

/** The tabs in display order. */
export const DEVTOOLS_TABS: readonly DevtoolsTab[] = [
  'transactions',
  'outbox',
  'sources',
  'queries',
  'fields',
];

/** Options of {@link mountDevtools}. */
export interface DevtoolsOptions {
  /** The tab shown first (default `transactions`). */
  readonly tab?: DevtoolsTab;
  /**
   * Start the client's recording of writes (`client.experimental_inspect.enable`) on mount:
   * `true` (default) or its bounds; `false` leaves it as it is. It stays on after unmount,
   * so a panel opened again still knows what was seen.
   */
  readonly record?: boolean | InspectOptions;
  /** Show a close button that calls this. A floating panel (no element given) closes itself by default. */
  readonly onClose?: () => void;
  /** How renders are coalesced (default: the next animation frame, or a microtask without one). */
  readonly schedule?: (render: () => void) => void;
}

/** A mounted panel. */
export interface DevtoolsHandle {
  /** The element holding the panel's shadow root. */
  readonly host: HTMLElement;
  readonly root: ShadowRoot;
  /** Show a tab. */
  show(tab: DevtoolsTab): void;
  /** Show "why this value won" for one field (switches to the fields tab). */
  inspectField(collection: string, id: string, field: string): void;
  /** Render now (renders are otherwise coalesced per frame). */
  refresh(): void;
  /** Remove the panel and stop listening (a floating panel's host element goes too). */
  unmount(): void;
}

const TAB_LABEL: Record<DevtoolsTab, string> = {
  transactions: 'Transactions',
  outbox: 'Outbox',
  sources: 'Sync',
  queries: 'Live queries',
  fields: 'Why this value',
};

function defaultSchedule(win: (Window & typeof globalThis) | null): (fn: () => void) => void {
  if (win && typeof win.requestAnimationFrame === 'function')
    return (fn) => win.requestAnimationFrame(() => fn());
  return (fn) => queueMicrotask(fn);
}

/**
 * Mount the devtools panel for `client` into `element` (its shadow root), or, without one,
 * as a floating panel at the bottom right of the page. Throws ValidationError when `element`
 * cannot hold a shadow root (e.g. an `<input>`).
 * @example
 * const devtools = mountDevtools(client);             // floating
 * mountDevtools(client, document.getElementById('dt')); // in a page element
 * devtools.inspectField('todos', 'a', 'title');       // why this value won
 */
export function mountDevtools(
  client: Client,
  element?: HTMLElement,
  options: DevtoolsOptions = {},
): DevtoolsHandle {
  const inspect = client.experimental_inspect;
  const doc = element?.ownerDocument ?? globalThis.document;
  if (doc === undefined)
    throw new ValidationError(
      'mountDevtools needs a DOM: call it in a browser (or jsdom), after the page loaded.',
    );
  const floating = element === undefined;
  const host = element ?? doc.createElement('div');
  let root: ShadowRoot;
  try {
    root = host.shadowRoot ?? host.attachShadow({ mode: 'open' });
  } catch (e) {
    throw new ValidationError(
      `mountDevtools cannot attach a shadow root to <${host.tagName.toLowerCase()}>: pass a <div> (or another element that can hold one).`,
      { cause: e },
    );
  }
  if (floating) {
    host.setAttribute('data-omnisync-devtools', 'floating');
    doc.body.appendChild(host);
  }
  if (options.record !== false && !inspect.enabled)
    inspect.enable(options.record === true || options.record === undefined ? {} : options.record);

  const h: H = createH(doc);
  let tab: DevtoolsTab = options.tab ?? 'transactions';
  let selected: FieldRef | undefined;
  let queued = false;
  let mounted = true;
  const schedule =
    options.schedule ?? defaultSchedule(doc.defaultView as (Window & typeof globalThis) | null);

  const style = h('style', null, PANEL_CSS);
  const meta = h('span', { class: 'meta', 'data-testid': 'devtools-meta' });
  const nav = h('nav', { role: 'tablist' });
  const body = h('div', { class: 'body', 'data-testid': 'devtools-body' });
  const close = options.onClose ?? (floating ? () => handle.unmount() : undefined);
  const inputs = {
    collection: h('input', {
      placeholder: 'collection',
      'aria-label': 'collection',
      'data-testid': 'devtools-pick-collection',
    }) as HTMLInputElement,
    id: h('input', {
      placeholder: 'document id',
      'aria-label': 'document id',
      'data-testid': 'devtools-pick-id',
    }) as HTMLInputElement,
    field: h('input', {
      placeholder: 'field',
      'aria-label': 'field',
      'data-testid': 'devtools-pick-field',
    }) as HTMLInputElement,
  };
  const form = h(
    'form',
    {
      'data-testid': 'devtools-pick',
      onsubmit: (e: Event) => {
        e.preventDefault();
        const [c, i, f] = [inputs.collection.value.trim(), inputs.id.value.trim(), inputs.field.value.trim()];
        if (c && i && f) handle.inspectField(c, i, f);
      },
    },
    inputs.collection,
    inputs.id,
    inputs.field,
    h('button', { type: 'submit' }, 'Why?'),
  );
  const panel = h(
    'div',
    { class: floating ? 'panel floating' : 'panel', 'data-testid': 'omnisync-devtools' },
    h(
      'header',
      null,
      h('span', { class: 'title' }, 'OmniSync devtools'),
      meta,
      close
        ? h('button', { type: 'button', 'aria-label': 'Close devtools', onclick: () => close() }, '×')
        : null,
    ),
    nav,
    body,
  );
  root.replaceChildren(style, panel);

  const counts = (): Record<DevtoolsTab, number> => {
    const sources = inspect.sources();
    return {
      transactions: inspect.transactions().filter((t) => !t.finished).length,
      outbox: sources.reduce((n, s) => n + (s.outbox?.length ?? 0), 0),
      sources: sources.length,
      queries: inspect.liveQueries().length,
      fields: inspect.fields().length,
    };
  };

  const render = () => {
    queued = false;
    if (!mounted) return;
    const n = counts();
    const server = inspect.sources().find((s) => s.server !== undefined)?.server;
    meta.textContent = `client ${client.clientId}${server ? ` · ${server.state} · cursor ${server.cursor ?? '—'} · ${server.pending} pending` : ''}${inspect.enabled ? '' : ' · recording off'}`;
    nav.replaceChildren(
      ...DEVTOOLS_TABS.map((t) =>
        h(
          'button',
          {
            type: 'button',
            role: 'tab',
            'aria-selected': t === tab ? 'true' : 'false',
            'data-testid': `devtools-tab-${t}`,
            onclick: () => handle.show(t),
          },
          TAB_LABEL[t],
          n[t] > 0 ? ` (${n[t]})` : '',
        ),
      ),
    );
    const view =
      tab === 'transactions'
        ? transactionsView(h, inspect)
        : tab === 'outbox'
          ? outboxView(h, inspect)
          : tab === 'sources'
            ? sourcesView(h, inspect)
            : tab === 'queries'
              ? queriesView(h, inspect)
              : fieldsView(h, inspect, selected, (f) => handle.inspectField(f.collection, f.id, f.field));
    body.replaceChildren(...(tab === 'fields' ? [form, view] : [view]));
  };
  const invalidate = () => {
    if (queued || !mounted) return;
    queued = true;
    schedule(render);
  };
  const unsubscribe = inspect.subscribe(invalidate);

  const handle: DevtoolsHandle = {
    host,
    root,
    show(t) {
      tab = t;
      render();
    },
    inspectField(collection, id, field) {
      selected = { collection, id, field };
      inputs.collection.value = collection;
      inputs.id.value = id;
      inputs.field.value = field;
      tab = 'fields';
      render();
    },
    refresh: render,
    unmount() {
      if (!mounted) return;
      mounted = false;
      unsubscribe();
      root.replaceChildren();
      if (floating) host.remove();
    },
  };
  render();
  return handle;
}
