/**
 * Rules on reads (issue 13): what one principal may receive. The read rule decides which
 * documents it sees, on the document's whole current state; the read mask removes fields,
 * from the documents it is matched on (a query on a hidden field matches nothing, so which
 * documents arrive says nothing about hidden values) and from every cell it is sent (a
 * hidden field's cells never leave the server). Pull, snapshot and live fan-out share it.
 */
import { type Principal, type RulesEvaluator } from '@omnisync/core';
import type { Doc } from './working-doc.js';

/** A cell or stored cell: the fields masking reads and rewrites. */
interface MaskableCell {
  readonly field: string;
  readonly value?: unknown;
}

/** The read side of the rules for one principal (one request, or one live connection). */
export interface ReadFilter {
  readonly principal: Principal;
  /** The principal may see `doc` (a visible document) of `collection`. */
  canRead(collection: string, doc: Doc): boolean;
  /** `doc` as the principal sees it: the read mask's fields removed; undefined when it may not read it. */
  view(collection: string, doc: Doc): Doc;
  /** The cells the principal may receive: hidden fields' cells dropped, hidden paths cut out of object values. */
  cells<C extends MaskableCell>(collection: string, cells: readonly C[]): readonly C[];
  /** A key naming the mask of `collection` (messages built for one mask are reused for equal ones). */
  maskKey(collection: string): string;
}

/** The read filter of `principal`, or undefined when the server has no rules. */
export function readFilterOf(
  rules: RulesEvaluator | undefined,
  principal: Principal,
): ReadFilter | undefined {
  if (!rules) return undefined;
  const hidden = new Map<string, readonly string[]>();
  const hiddenOf = (collection: string) => {
    let h = hidden.get(collection);
    if (h === undefined) hidden.set(collection, (h = rules.hiddenFields(collection, principal)));
    return h;
  };
  const canRead = (collection: string, doc: Doc) =>
    doc !== undefined && rules.canRead(collection, doc, principal);
  return {
    principal,
    canRead,
    view: (collection, doc) =>
      !canRead(collection, doc)
        ? undefined
        : hiddenOf(collection).length === 0
          ? doc
          : rules.mask(collection, doc!, principal),
    cells(collection, cells) {
      const h = hiddenOf(collection);
      if (h.length === 0) return cells;
      let out: MaskableCell[] | undefined;
      for (let i = 0; i < cells.length; i++) {
        const c = cells[i]!;
        const masked = maskCell(c, h);
        if (masked === c && out === undefined) continue;
        out ??= cells.slice(0, i);
        if (masked !== undefined) out.push(masked);
      }
      return (out ?? cells) as readonly never[];
    },
    maskKey: (collection) => hiddenOf(collection).join('\u0001'),
  };
}

/** A cell under a hidden path goes; a cell holding a hidden path inside its value loses it. */
function maskCell<C extends MaskableCell>(c: C, hidden: readonly string[]): C | undefined {
  let out = c;
  for (const h of hidden) {
    const f = c.field;
    if (f === h || f.startsWith(`${h}.`) || f.startsWith(`${h}[`)) return undefined;
    if (h.startsWith(`${f}.`) && out.value !== null && typeof out.value === 'object')
      out = { ...out, value: withoutPath(out.value, h.slice(f.length + 1).split('.')) };
  }
  return out;
}

function withoutPath(v: unknown, path: readonly string[]): unknown {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, path[0]!)) return v;
  const copy = { ...(v as Record<string, unknown>) };
  if (path.length === 1) delete copy[path[0]!];
  else copy[path[0]!] = withoutPath(copy[path[0]!], path.slice(1));
  return copy;
}
