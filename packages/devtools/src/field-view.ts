/**
 * "Why this value won": the fields written while the panel recorded (competing ones marked),
 * and for the selected field every write seen, newest HLC first, with origin and how it
 * came, the winner marked and the rule said in words (last write wins per field by HLC; a
 * delete wins over every write).
 */
import type { ClientInspector, FieldInspection, FieldRef } from '@omnisync/client';
import type { H } from './dom.js';
import { describeHlc, formatTime, formatValue, shortId } from './format.js';
import { isValidHlc, parseHlc } from '@omnisync/core';

/** A source id cut to 16 characters (the whole list is in the cell's tooltip). */
const shortSource = (via: string): string => (via.length > 16 ? `${via.slice(0, 15)}…` : via);

const wallOf = (hlc: string): number | undefined => (isValidHlc(hlc) ? parseHlc(hlc).wall : undefined);

/** Why the field has its value, in one sentence. */
function why(h: H, f: FieldInspection): HTMLElement {
  if (f.deleted)
    return h(
      'p',
      { class: 'why deleted', 'data-testid': 'devtools-why' },
      'Deleted: the tombstone written by ',
      h('b', { 'data-testid': 'devtools-winner-origin' }, f.deleted.origin),
      ' at HLC ',
      h('code', { 'data-testid': 'devtools-winner-hlc', title: describeHlc(f.deleted.hlc) }, f.deleted.hlc),
      ' wins over every write of the document, whatever its HLC.',
    );
  const w = f.winner;
  const pending = f.writes.filter((x) => x.status === 'pending');
  const note =
    pending.length > 0
      ? ` ${pending.length} local ${pending.length === 1 ? 'write is' : 'writes are'} pending: shown now, kept if still the highest HLC once the server has them.`
      : '';
  if (!w)
    return h(
      'p',
      { class: 'why', 'data-testid': 'devtools-why' },
      pending.length > 0
        ? `Not synced yet.${note}`
        : 'No synced value: no source confirmed a write of this field.',
    );
  const others = f.writes.length - 1;
  return h(
    'p',
    { class: 'why', 'data-testid': 'devtools-why' },
    h('b', { 'data-testid': 'devtools-winner-value' }, formatValue(w.value)),
    ' won: written by ',
    h('b', { 'data-testid': 'devtools-winner-origin' }, w.origin),
    ' at HLC ',
    h('code', { 'data-testid': 'devtools-winner-hlc', title: describeHlc(w.hlc) }, w.hlc),
    others === 0
      ? ', the only write seen.'
      : `, the highest HLC of the ${f.writes.length} writes seen (last write wins, per field).`,
    note,
  );
}

function detail(h: H, f: FieldInspection): HTMLElement {
  return h(
    'section',
    { 'data-testid': 'devtools-field', 'data-field': `${f.collection}/${f.id}/${f.field}` },
    h(
      'h3',
      null,
      `${f.collection} / `,
      h('span', { title: f.id }, f.id),
      ` / ${f.field} = `,
      h('span', { 'data-testid': 'devtools-visible' }, formatValue(f.visible)),
    ),
    why(h, f),
    f.writes.length === 0
      ? null
      : h(
          'table',
          { 'data-testid': 'devtools-writes' },
          h(
            'thead',
            null,
            h(
              'tr',
              null,
              ['', 'value', 'HLC', 'written', 'origin', 'via'].map((c) => h('th', null, c)),
            ),
          ),
          h(
            'tbody',
            null,
            f.writes.map((w) =>
              h(
                'tr',
                {
                  class: w.status,
                  'data-testid': 'devtools-write',
                  'data-status': w.status,
                  'data-hlc': w.hlc,
                  'data-origin': w.origin,
                },
                h(
                  'td',
                  null,
                  h('span', { class: `badge s-${w.status}` }, w.status === 'winner' ? '✓ winner' : w.status),
                ),
                h('td', { class: 'value' }, formatValue(w.value)),
                h('td', { title: describeHlc(w.hlc) }, h('code', null, w.hlc)),
                h('td', { class: 'nowrap' }, formatTime(wallOf(w.hlc))),
                h('td', { class: 'nowrap' }, w.origin),
                h(
                  'td',
                  {
                    class: 'via',
                    title: [...w.via, ...(w.transactionId ? [`transaction ${w.transactionId}`] : [])].join(
                      '\n',
                    ),
                  },
                  w.via.map(shortSource).join(', '),
                ),
              ),
            ),
          ),
        ),
    f.recording
      ? null
      : h('p', { class: 'empty' }, 'Recording is off: only the synced winner and pending writes are known.'),
  );
}

/** The fields tab: the recorded fields (click one) and the selected field's writes. */
export function fieldsView(
  h: H,
  inspect: ClientInspector,
  selected: FieldRef | undefined,
  select: (f: FieldRef) => void,
): HTMLElement {
  const list = inspect.fields();
  const isSel = (f: FieldRef) =>
    selected !== undefined &&
    f.collection === selected.collection &&
    f.id === selected.id &&
    f.field === selected.field;
  return h(
    'div',
    null,
    list.length === 0
      ? h(
          'p',
          { class: 'empty' },
          'No write seen yet while recording. Pick a field above, or write something.',
        )
      : h(
          'div',
          { class: 'fields', 'data-testid': 'devtools-field-list' },
          list.map((f) =>
            h(
              'button',
              {
                type: 'button',
                'data-testid': 'devtools-field-ref',
                'data-field': `${f.collection}/${f.id}/${f.field}`,
                'aria-current': isSel(f) ? 'true' : 'false',
                title: `${f.collection}/${f.id}.${f.field}`,
                onclick: () => select(f),
              },
              h('span', { class: 'path' }, `${f.collection}/${shortId(f.id)}.`),
              f.field,
              ` · ${f.writes} ${f.writes === 1 ? 'write' : 'writes'}`,
              f.origins > 1 ? h('span', { class: 'competing' }, ` · ${f.origins} writers competed`) : '',
            ),
          ),
        ),
    selected ? detail(h, inspect.field(selected.collection, selected.id, selected.field)) : null,
  );
}
