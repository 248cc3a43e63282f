/**
 * The panel's tabs other than the fields one: the transaction timeline (seed 001 states,
 * attempts and retries), the outbox, the sources with status and cursor, the live queries
 * with their completeness. Each is a function of the inspector's snapshot to DOM.
 */
import type { ClientInspector, SourceInspection, Transaction } from '@omnisync/client';
import type { H } from './dom.js';
import { formatTime, formatValue, shortId } from './format.js';

const badge = (h: H, state: string, testid?: string) =>
  h('span', { class: `badge s-${state}`, ...(testid ? { 'data-testid': testid } : {}) }, state);

const empty = (h: H, text: string) => h('p', { class: 'empty' }, text);

function mutationsSummary(tx: Transaction): string {
  const parts = tx.mutations.map((m) => {
    const fields = m.type === 'update' ? ` {${Object.keys(m.changes).join(', ')}}` : '';
    return `${m.type} ${m.collection}/${shortId(m.key)}${fields}`;
  });
  return parts.length > 3 ? `${parts.slice(0, 3).join('; ')}; +${parts.length - 3} more` : parts.join('; ');
}

/** Transactions, newest first: state, the states it went through, attempts (retries), error. */
export function transactionsView(h: H, inspect: ClientInspector): HTMLElement {
  const txs = [...inspect.transactions()].reverse();
  if (txs.length === 0) return empty(h, 'No transactions yet.');
  return h(
    'table',
    { 'data-testid': 'devtools-transactions' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ['id', 'state', 'path', 'writes', 'attempts', 'created', 'error / next retry'].map((c) =>
          h('th', null, c),
        ),
      ),
    ),
    h(
      'tbody',
      null,
      txs.map((tx) => {
        const path = inspect.transitions(tx.id);
        const attempts = tx.attempts;
        const last = attempts[attempts.length - 1];
        const retries = Math.max(0, attempts.length - 1);
        // Every failed attempt's error (a completed transaction may have been retried).
        const failed = attempts.flatMap((a, i) => (a.error ? [`attempt ${i + 1}: ${a.error.message}`] : []));
        const error = [
          tx.error && !failed.some((f) => f.endsWith(tx.error!.message)) ? tx.error.message : '',
          ...failed,
        ]
          .filter(Boolean)
          .join('; ');
        const next = last?.retry_scheduled_for;
        return h(
          'tr',
          { 'data-testid': 'devtools-transaction', 'data-id': tx.id, 'data-state': tx.state },
          h('td', { title: tx.id }, h('code', null, shortId(tx.id))),
          h('td', null, badge(h, tx.state)),
          h(
            'td',
            { title: path.map((t) => `${formatTime(t.at)} ${t.from} → ${t.to}`).join('\n') },
            path.length === 0 ? '—' : [path[0]!.from, ...path.map((t) => t.to)].join(' → '),
          ),
          h('td', null, mutationsSummary(tx)),
          h(
            'td',
            {
              title: attempts
                .map((a) => `${formatTime(a.started_at)} ${a.error?.message ?? 'ok'}`)
                .join('\n'),
            },
            `${attempts.length}${retries > 0 ? ` (${retries} ${retries === 1 ? 'retry' : 'retries'})` : ''}`,
          ),
          h('td', null, formatTime(tx.created_at)),
          h(
            'td',
            null,
            error,
            next && !tx.finished ? ` · retry at ${formatTime(next)}` : '',
            tx.queued_behind ? ` · queued behind ${shortId(tx.queued_behind)}` : '',
          ),
        );
      }),
    ),
  );
}

/** The outbox of every source that has one: transactions waiting for the server, in push order. */
export function outboxView(h: H, inspect: ClientInspector): HTMLElement {
  const sources = inspect.sources().filter((s) => s.outbox !== undefined);
  if (sources.length === 0) return empty(h, 'No source with an outbox (the OmniSync-server source has one).');
  return h(
    'div',
    { 'data-testid': 'devtools-outbox' },
    sources.map((s) =>
      h(
        'section',
        null,
        h('h3', null, `${s.id} · ${s.outbox!.length} waiting`),
        s.outbox!.length === 0
          ? empty(h, 'Empty: the server acknowledged everything.')
          : h(
              'table',
              null,
              h(
                'thead',
                null,
                h(
                  'tr',
                  null,
                  ['transaction', 'mutation', 'cells', ''].map((c) => h('th', null, c)),
                ),
              ),
              h(
                'tbody',
                null,
                s.outbox!.map((e) =>
                  h(
                    'tr',
                    { 'data-testid': 'devtools-outbox-entry', 'data-id': e.id },
                    h('td', { title: e.id }, h('code', null, shortId(e.id))),
                    h('td', null, e.name ?? '(cells)'),
                    h(
                      'td',
                      null,
                      e.changes
                        .slice(0, 4)
                        .map((c) => `${c.collection}/${shortId(c.id)}.${c.field}=${formatValue(c.value)}`)
                        .join(', ') + (e.changes.length > 4 ? ` +${e.changes.length - 4}` : ''),
                    ),
                    h('td', null, e.solo ? 'sent alone next' : ''),
                  ),
                ),
              ),
            ),
      ),
    ),
  );
}

function sourceRows(h: H, s: SourceInspection): HTMLElement[] {
  const rows: [string, Node | string][] = [
    ['kind', s.kind],
    ['collections', s.collections.join(', ') || '—'],
    ['status', badge(h, s.status)],
    ['start', badge(h, s.state)],
  ];
  const srv = s.server;
  if (srv) {
    rows.push(
      ['sync state', badge(h, srv.state, 'devtools-sync-state')],
      [
        'cursor',
        h('code', { 'data-testid': 'devtools-cursor' }, srv.cursor === undefined ? '—' : String(srv.cursor)),
      ],
      ['pending', String(srv.pending)],
      ['transport', srv.transport],
      ['last synced', formatTime(srv.lastSyncedAt)],
    );
    if (srv.partitioned) rows.push(['partitioned', 'offline for over the partition timeout']);
  }
  for (const [k, v] of Object.entries(s.meta))
    if (!(srv && k === 'cursor')) rows.push([`meta ${k}`, formatValue(v)]);
  const error = s.error?.message ?? srv?.error?.message;
  if (error) rows.push(['error', error]);
  return rows.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)]);
}

/** Every source: its status and start, and for the server source its state, cursor, pending count, transport. */
export function sourcesView(h: H, inspect: ClientInspector): HTMLElement {
  const sources = inspect.sources();
  if (sources.length === 0) return empty(h, 'No sources yet (a collection starts its source).');
  return h(
    'div',
    { 'data-testid': 'devtools-sources' },
    sources.map((s) =>
      h(
        'section',
        { 'data-testid': 'devtools-source', 'data-id': s.id },
        h('h3', null, s.id),
        h('dl', null, sourceRows(h, s)),
      ),
    ),
  );
}

/** Live queries in use: collection, status, completeness, rows, the query. */
export function queriesView(h: H, inspect: ClientInspector): HTMLElement {
  const queries = inspect.liveQueries();
  if (queries.length === 0) return empty(h, 'No live query in use.');
  return h(
    'table',
    { 'data-testid': 'devtools-queries' },
    h(
      'thead',
      null,
      h(
        'tr',
        null,
        ['collection', 'status', 'completeness', 'rows', 'query'].map((c) => h('th', null, c)),
      ),
    ),
    h(
      'tbody',
      null,
      queries.map((lq) =>
        h(
          'tr',
          { 'data-testid': 'devtools-query', 'data-hash': lq.hash },
          h('td', null, lq.collection),
          h('td', null, badge(h, lq.status), lq.error ? ` ${lq.error}` : ''),
          h('td', null, badge(h, lq.completeness)),
          h('td', null, lq.rows === undefined ? '—' : String(lq.rows)),
          h('td', null, h('code', null, formatValue(lq.ast))),
        ),
      ),
    ),
  );
}
